"""The benchmark harness's smoke mode, so it cannot rot: a tiny corpus through every scenario, real
registries, real skopeo, and the harness's own verification (target digests == source digests)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = {"cold", "noop", "noop_record_fill", "noop_record", "noop_listing_record", "changed", "cold_mb"}


def test_smoke_mode_runs_every_scenario_and_verifies_every_run(tmp_path: Path) -> None:
    output = tmp_path / "results.json"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.run",
            "--smoke",
            "--cache-dir",
            str(tmp_path / "cache"),
            "--output",
            str(output),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-4000:]
    results = json.loads(output.read_text())

    assert results["valid"] is True
    assert {
        "machine",
        "settings",
        "corpus",
        "mb_corpus",
        "scenarios",
        "plan_scale",
        "imports",
        "tables",
    } <= set(results)
    assert results["machine"]["nproc"] >= 1 and results["machine"]["cpu"]
    assert set(results["scenarios"]) == SCENARIOS
    for scenario, tools in results["scenarios"].items():
        expected_tools = {"regmirror"} if scenario.startswith("noop_") else {"regmirror", "skopeo"}
        assert set(tools) == expected_tools, scenario
        for tool, stats in tools.items():
            assert stats["valid_runs"] >= 1 and stats["invalid_runs"] == 0, (scenario, tool)
            for one in stats["runs"]:
                # the harness's verification: every tag checked in the target, every digest equal
                assert one["verification"] == {
                    "valid": True,
                    "checked": results["corpus" if scenario != "cold_mb" else "mb_corpus"]["tags"],
                    "wrong_count": 0,
                    "wrong": [],
                }

    tags = results["corpus"]["tags"]
    noop = results["scenarios"]["noop"]
    # regmirror never GETs a manifest of an unchanged tag; skopeo sync reads every one
    assert noop["regmirror"]["runs"][0]["source_requests"]["manifest_get"] == 0
    assert noop["regmirror"]["runs"][0]["source_requests"]["manifest_head"] == tags
    assert noop["skopeo"]["runs"][0]["source_requests"]["manifest_get"] >= tags
    record = results["scenarios"]["noop_record"]["regmirror"]["runs"][0]
    assert record["trusted_from_record"] == tags
    # the target is asked only by the spot checks: one probe per repository and a sample
    assert record["target_requests"]["manifest_head"] == record["counts"]["spot_checked"] >= 1
    listing = results["scenarios"]["noop_listing_record"]["regmirror"]["runs"][0]
    assert listing["source_requests"]["manifest_head"] == listing["source_requests"]["manifest_get"] == 0

    scale = results["plan_scale"]
    for variant in ("plan", "plan_no_check", "plan_page_1000"):
        assert scale[variant]["valid_runs"] == 1 and scale[variant]["invalid_runs"] == 0, variant
    assert scale["plan"]["max_rss_mb"]["median"] > 0
    assert "regmirror.cli (regmirror --help)" in results["imports"]
    assert "| cold sync into an empty target |" in results["tables"]
    assert "| regmirror plan (with digest checks) |" in results["tables"]
