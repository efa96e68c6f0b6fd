"""The benchmark harness's smoke mode, so it cannot rot: a tiny corpus through every scenario, real
registries, real skopeo, and the harness's own verification (target digests == source digests)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = {"cold", "noop", "noop_record_fill", "noop_record", "noop_listing_record", "changed", "cold_mb"}
WAN_SCENARIOS = {"wan_cold", "wan_noop", "wan_noop_no_record", "wan_moved", "wan_changed"}


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
        "wan",
        "scenarios",
        "plan_scale",
        "imports",
        "tables",
    } <= set(results)
    assert results["machine"]["nproc"] >= 1 and results["machine"]["cpu"]
    assert set(results["scenarios"]) == SCENARIOS | WAN_SCENARIOS
    corpus_of = {"cold_mb": "mb_corpus"}
    for scenario, tools in results["scenarios"].items():
        expected_tools = {"regmirror"} if "noop_" in scenario else {"regmirror", "skopeo"}
        assert set(tools) == expected_tools, scenario
        for tool, stats in tools.items():
            assert stats["valid_runs"] >= 1 and stats["invalid_runs"] == 0, (scenario, tool)
            for one in stats["runs"]:
                # the harness's verification: every tag checked in the target, every digest equal
                assert one["verification"] == {
                    "valid": True,
                    "checked": tags_of(results, corpus_of.get(scenario, scenario)),
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


def tags_of(results: dict[str, Any], scenario: str) -> int:
    """Tags of the corpus a scenario ran on (`scenario` here: a corpus key, or a scenario's name)."""
    if scenario.startswith("wan_"):
        return int(results["wan"]["corpus"]["tags"])
    return int(results["mb_corpus" if scenario == "mb_corpus" else "corpus"]["tags"])


def test_the_wan_group_counts_what_crossed_the_links_and_prints_the_floor(tmp_path: Path) -> None:
    output = tmp_path / "results.json"
    argv = [sys.executable, "-m", "bench.run", "--smoke", "--only", "wan", "--rtt-ms", "20"]
    argv += ["--cache-dir", str(tmp_path / "cache"), "--output", str(output)]
    run = subprocess.run(argv, cwd=REPO_ROOT, capture_output=True, text=True, timeout=240, check=False)
    assert run.returncode == 0, run.stderr[-4000:]
    results = json.loads(output.read_text())

    wan, scenarios = results["wan"], results["scenarios"]
    assert wan["link"] == {"rtt": 0.02, "bandwidth_bps": 200e6}
    assert wan["distinct_blob_bytes"] > 0
    assert wan["floor_cold_s"] == pytest.approx(wan["distinct_blob_bytes"] * 8 / 200e6 + 10 * 0.02, abs=1e-3)
    cold = {tool: scenarios["wan_cold"][tool]["runs"][0] for tool in ("regmirror", "skopeo")}
    for one in cold.values():
        # every blob crossed the link to the target at least once, through fresh connections
        assert one["uploaded_bytes"] >= wan["distinct_blob_bytes"]
        assert one["connections"] > 0
        assert one["wall_s"] > one["floor_s"] == wan["floor_cold_s"]
    noop = scenarios["wan_noop"]["regmirror"]["runs"][0]
    assert noop["uploaded_bytes"] < cold["regmirror"]["uploaded_bytes"] / 2  # nothing to copy
    assert "Across an emulated WAN link (20 ms round trip" in results["tables"]
    assert "| one changed tag |" in results["tables"]
    moved = {tool: scenarios["wan_moved"][tool]["runs"][0] for tool in ("regmirror", "skopeo")}
    assert all(one["valid"] for one in moved.values())  # the target's tag followed the source's
    assert moved["regmirror"]["uploaded_bytes"] < 64 * 1024  # a manifest PUT, no blob
    assert "| one tag moved to an image it holds (a re-tag) |" in results["tables"]
