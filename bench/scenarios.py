"""The A/B sync scenarios on one corpus: cold, no-op, no-op with the copy record (and an emulated
digest-bearing listing), one changed tag. Every run is verified: target digests == source digests."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.access import count_requests, per_tag, server_cpu
from bench.corpus import NAMESPACE, Corpus
from bench.measure import summary
from bench.tools import (
    ToolRun,
    corpus_plan,
    run_driver,
    run_regmirror,
    run_skopeo_sync,
    skopeo_yaml,
    tool_env,
    write_config,
)
from bench.verify import verify_target
from tests.testbed import RegistryServer

TOOLS = ("regmirror", "skopeo")
FROM = f"regex:{NAMESPACE}/.*"


@dataclass
class SyncBench:
    corpus: Corpus
    work: Path
    timeout: float
    concurrency: str | None
    log: Callable[[str], None]
    runs: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # "scenario/tool" -> runs

    def __post_init__(self) -> None:
        self.work.mkdir(parents=True, exist_ok=True)
        self.env = tool_env(self.work / "home")
        self.yaml_file = self.work / "skopeo-sync.yaml"
        self.yaml_file.write_text(skopeo_yaml(self._plan(), self.corpus.server))
        self.changed_ref = min(self.corpus.digests)

    def _plan(self) -> dict[str, Any]:
        images = len(self.corpus.digests)
        return corpus_plan(
            self.work / "plan.yaml", self.corpus.server, images, self.env, timeout=self.timeout
        )

    # -- one repetition -------------------------------------------------------------------------
    def repetition(self, rep: int, *, cold_only: bool = False) -> None:
        """Cold, then no-op, record variants and one changed tag; tools alternate order (A B, B A)."""
        order = TOOLS if rep % 2 == 0 else TOOLS[::-1]
        targets = {tool: self._new_target(tool) for tool in order}
        try:
            for tool in order:
                self._measure("cold", tool, targets[tool])
            if cold_only:
                return
            for tool in order:
                self._measure("noop", tool, targets[tool])
            self._record_variants(targets["regmirror"], rep)
            for tool in order:
                seed = f"changed/{rep}/{tool}"
                self.corpus.push(*self.changed_ref, seed=seed)
                self._measure("changed", tool, targets[tool])
        finally:
            for target in targets.values():
                target.stop()
            self.corpus.restore(*self.changed_ref)

    def _record_variants(self, target: RegistryServer, rep: int) -> None:
        """With a copy record: the first run checks every target and fills it; the second trusts it;
        the third adds an (emulated) digest-bearing listing, so the source is not asked per tag."""
        record = self.work / f"record-{rep}.json"
        listing = self.work / "listing.json"
        nested: dict[str, dict[str, str]] = {}
        for (repo, tag), digest in self.corpus.digests.items():
            nested.setdefault(repo, {})[tag] = digest
        listing.write_text(json.dumps(nested))
        base = ["--record", str(record), "--ttl", "3600", *self._concurrency("--concurrency")]
        self._measure("noop_record_fill", "regmirror", target, driver=base)
        self._measure("noop_record", "regmirror", target, driver=base)
        self._measure("noop_listing_record", "regmirror", target, driver=[*base, "--listing", str(listing)])

    # -- one run ----------------------------------------------------------------------------------
    def _measure(
        self, scenario: str, tool: str, target: RegistryServer, driver: list[str] | None = None
    ) -> None:
        config = write_config(self.work / f"{tool}-{target.port}.yaml", self.corpus.server, target, FROM)
        source_mark, target_mark = self.corpus.server.mark(), target.mark()
        registries_cpu = server_cpu(self.corpus.server) + server_cpu(target)
        if tool == "skopeo":
            run = run_skopeo_sync(self.yaml_file, target, NAMESPACE, self.env, timeout=self.timeout)
        elif driver is not None:
            run = run_driver([str(config), *driver], self.env, timeout=self.timeout)
        else:
            args = ["sync", str(config), *self._concurrency("--concurrency")]
            run = run_regmirror(args, self.env, timeout=self.timeout)
        registries_cpu = server_cpu(self.corpus.server) + server_cpu(target) - registries_cpu
        self._keep(scenario, run, source_mark, target, target_mark, registries_cpu)

    def _keep(
        self,
        scenario: str,
        run: ToolRun,
        source_mark: int,
        target: RegistryServer,
        target_mark: int,
        registries_cpu: float,
    ) -> None:
        tags = len(self.corpus.digests)
        source_requests = count_requests(self.corpus.server, source_mark)
        target_requests = count_requests(target, target_mark)  # before the verification's own HEADs
        verification = verify_target(target, self.corpus.digests)
        valid = run.ok and verification["valid"] and not run.report.get("error")
        entry = {
            **run.as_dict(),
            "registries_cpu_s": round(registries_cpu, 3),
            "source_requests": source_requests,
            "source_requests_per_tag": per_tag(source_requests, tags),
            "target_requests": target_requests,
            "verification": verification,
            "valid": valid,
        }
        self.runs.setdefault(f"{scenario}/{run.tool}", []).append(entry)
        status = "ok" if valid else "INVALID"
        wall, cpu = run.measured.wall, run.measured.cpu
        self.log(
            f"  {scenario:<20} {run.tool:<9} {wall:8.2f} s  cpu {cpu:7.2f} s"
            f"  registries cpu {registries_cpu:6.2f} s  {status}"
        )

    def _new_target(self, tool: str) -> RegistryServer:
        return RegistryServer(base_dir=Path(tempfile.mkdtemp(prefix=f"{tool}-target-", dir=self.work)))

    def _concurrency(self, flag: str) -> list[str]:
        return [flag, str(self.concurrency)] if self.concurrency else []

    # -- results ----------------------------------------------------------------------------------
    def results(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, runs in self.runs.items():
            scenario, tool = key.split("/")
            valid = [r for r in runs if r["valid"]]
            out.setdefault(scenario, {})[tool] = {
                "wall_s": summary([r["wall_s"] for r in valid]),
                "cpu_s": summary([r["cpu_s"] for r in valid]),
                "registries_cpu_s": summary([r["registries_cpu_s"] for r in valid]),
                "valid_runs": len(valid),
                "invalid_runs": len(runs) - len(valid),
                "source_requests_per_tag": valid[0]["source_requests_per_tag"] if valid else {},
                "runs": runs,
            }
        return out

    def cleanup(self) -> None:
        shutil.rmtree(self.work, ignore_errors=True)
