"""The WAN group: regmirror and `skopeo sync` across an emulated WAN link (`bench.wan`), side by side.

Each tool gets, per repetition, its own fresh target registry and two links of the same parameters:
one in front of the corpus registry (what it pulls crosses it) and one in front of its target (what it
pushes). The links stay up for the whole repetition, so the copy record (keyed by the target's address)
sees the same target from run to run, as a user's would. Scenarios, tools alternating (A B, then B A):
cold sync, no-op resync (regmirror with its copy record, and again with `--no-record`), one tag moved to
an image its repository holds (a re-tag: no new blob), one changed tag.

Counted at the links, not from the tools: bytes uploaded to the target, connections opened. The floor
printed next to each result is `bench.wan.floor_seconds` of the distinct blob bytes the scenario has to
move (all of the corpus for a cold sync, the changed image's own for one changed tag). Every run is
verified against the target directly (not through the link).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.corpus import NAMESPACE, Corpus, CorpusSpec
from bench.measure import summary
from bench.tools import (
    ToolRun,
    corpus_plan,
    run_regmirror,
    run_skopeo_sync,
    skopeo_yaml,
    tool_env,
    write_config,
)
from bench.verify import verify_target
from bench.wan import WanLink, floor_seconds
from tests.testbed import ImageApi, RegistryServer

TOOLS = ("regmirror", "skopeo")
FROM = f"regex:{NAMESPACE}/.*"
INDEX_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
)
# The corpus: 48 tags in 24 repositories, two 256 KiB layers per platform (the first shared),
# one tag in eight a two-platform index.
WAN_CORPUS = CorpusSpec(repos=24, tags_per_repo=2, layers=2, layer_size=256 * 1024, multi_arch_share=0.125)
SMOKE_WAN_CORPUS = CorpusSpec(repos=2, tags_per_repo=2, layers=2, layer_size=4096, multi_arch_share=0.25)


@dataclass(frozen=True)
class LinkSpec:
    rtt: float = 0.04  # seconds, round trip
    bandwidth_bps: float = 200e6  # bits per second, each direction, shared by every connection

    def link(self, upstream: str) -> WanLink:
        return WanLink(upstream, rtt=self.rtt, bandwidth_bps=self.bandwidth_bps)

    def floor(self, distinct_bytes: int) -> float:
        return floor_seconds(distinct_bytes, self.bandwidth_bps, self.rtt)


def blob_sizes(server: RegistryServer, repository: str, tag: str) -> dict[str, int]:
    """Every blob (configs and layers, of each platform of an index) of one image: digest -> size."""
    api = ImageApi(server)
    blobs: dict[str, int] = {}
    pending = [tag]
    while pending:
        body, media_type, _ = api.get_manifest(repository, pending.pop())
        manifest = json.loads(body)
        if media_type in INDEX_TYPES:
            pending += [child["digest"] for child in manifest["manifests"]]
            continue
        for blob in [manifest["config"], *manifest["layers"]]:
            blobs[blob["digest"]] = blob["size"]
    return blobs


@dataclass
class _Side:
    """One tool's target and links for a repetition."""

    target: RegistryServer
    source_link: WanLink
    target_link: WanLink

    def counters(self) -> tuple[int, int, int]:
        """(bytes up to the target, bytes down from the source, connections on both links)."""
        connections = self.source_link.connections + self.target_link.connections
        return self.target_link.up.bytes, self.source_link.down.bytes, connections

    def close(self) -> None:
        self.source_link.close()
        self.target_link.close()
        self.target.stop()


@dataclass
class WanBench:
    corpus: Corpus
    work: Path
    link: LinkSpec
    timeout: float
    concurrency: str | None
    log: Callable[[str], None]
    runs: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # "scenario/tool" -> runs

    def __post_init__(self) -> None:
        self.work.mkdir(parents=True, exist_ok=True)
        self.env = tool_env(self.work / "home")
        self.changed_ref = min(self.corpus.digests)
        # the moved tag: the last tag of the last repository, pointed at its repository's first tag
        self.moved_ref = max(self.corpus.digests)
        self.moved_to = min(tag for repository, tag in self.corpus.digests if repository == self.moved_ref[0])
        self.blobs: dict[str, int] = {}
        for repository, tag in self.corpus.digests:
            self.blobs |= blob_sizes(self.corpus.server, repository, tag)
        self.distinct_bytes = sum(self.blobs.values())
        self.plan = self._plan()

    def _plan(self) -> dict[str, Any]:
        images = len(self.corpus.digests)
        return corpus_plan(
            self.work / "plan.yaml", self.corpus.server, images, self.env, timeout=self.timeout
        )

    # -- one repetition -------------------------------------------------------------------------
    def repetition(self, rep: int) -> None:
        order = TOOLS if rep % 2 == 0 else TOOLS[::-1]
        sides = {tool: self._side(tool) for tool in order}
        try:
            for scenario in ("cold", "noop"):
                for tool in order:
                    self._measure(scenario, tool, sides[tool])
            self._measure("noop_no_record", "regmirror", sides["regmirror"], "--no-record")
            self.corpus.point(*self.moved_ref, at=self.moved_to)  # stays moved until the end
            for tool in order:
                self._measure("moved", tool, sides[tool])
            for tool in order:
                self.corpus.push(*self.changed_ref, seed=f"wan-changed/{rep}/{tool}")
                self._measure("changed", tool, sides[tool])
        finally:
            for side in sides.values():
                side.close()
            self.corpus.restore(*self.changed_ref)
            self.corpus.restore(*self.moved_ref)

    def _side(self, tool: str) -> _Side:
        target = RegistryServer(base_dir=Path(tempfile.mkdtemp(prefix=f"wan-{tool}-", dir=self.work)))
        return _Side(target, self.link.link(self.corpus.server.host), self.link.link(target.host))

    def _measure(self, scenario: str, tool: str, side: _Side, *extra: str) -> None:
        before = side.counters()
        if tool == "skopeo":
            run = self._skopeo(side)
        else:
            config = write_config(
                self.work / f"wan-{side.target.port}.yaml", side.source_link, side.target_link, FROM
            )
            concurrency = ["--concurrency", self.concurrency] if self.concurrency else []
            run = run_regmirror(["sync", str(config), *concurrency, *extra], self.env, timeout=self.timeout)
        after = side.counters()
        self._keep(scenario, run, side, [a - b for a, b in zip(after, before, strict=True)])

    def _skopeo(self, side: _Side) -> ToolRun:
        text = skopeo_yaml(self.plan, self.corpus.server)  # its first line names the source host
        yaml_file = self.work / f"wan-skopeo-{side.target.port}.yaml"
        yaml_file.write_text(text.replace(self.corpus.server.host, side.source_link.host, 1))
        return run_skopeo_sync(yaml_file, side.target_link, NAMESPACE, self.env, timeout=self.timeout)

    def _keep(self, scenario: str, run: ToolRun, side: _Side, moved: list[int]) -> None:
        verification = verify_target(side.target, self.corpus.digests)
        valid = run.ok and verification["valid"] and not run.report.get("error")
        uploaded, downloaded, connections = moved
        floor = self.floor(scenario)
        entry = {
            **run.as_dict(),
            "uploaded_bytes": uploaded,
            "downloaded_bytes": downloaded,
            "connections": connections,
            "floor_s": round(floor, 3),
            "verification": verification,
            "valid": valid,
        }
        self.runs.setdefault(f"wan_{scenario}/{run.tool}", []).append(entry)
        wall = run.measured.wall
        self.log(
            f"  wan {scenario:<15} {run.tool:<9} {wall:8.2f} s  floor {floor:6.2f} s  "
            f"up {uploaded / 1024**2:7.2f} MiB  connections {connections:5d}  {'ok' if valid else 'INVALID'}"
        )

    def floor(self, scenario: str) -> float:
        """The fastest the scenario can be: its distinct bytes through the link, plus round trips."""
        if scenario == "cold":
            return self.link.floor(self.distinct_bytes)
        if scenario == "changed":  # the changed image's blobs that no other image has
            changed = blob_sizes(self.corpus.server, *self.changed_ref)
            return self.link.floor(sum(size for digest, size in changed.items() if digest not in self.blobs))
        return self.link.floor(0)

    # -- results ----------------------------------------------------------------------------------
    def results(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, runs in self.runs.items():
            scenario, tool = key.split("/")
            valid = [r for r in runs if r["valid"]]
            out.setdefault(scenario, {})[tool] = {
                "wall_s": summary([r["wall_s"] for r in valid]),
                "cpu_s": summary([r["cpu_s"] for r in valid]),
                "uploaded_bytes": summary([r["uploaded_bytes"] for r in valid]),
                "connections": summary([r["connections"] for r in valid]),
                "floor_s": valid[0]["floor_s"] if valid else None,
                "valid_runs": len(valid),
                "invalid_runs": len(runs) - len(valid),
                "runs": runs,
            }
        return out

    def describe(self) -> dict[str, Any]:
        return {
            "link": asdict(self.link),
            "distinct_blob_bytes": self.distinct_bytes,
            "floor_cold_s": round(self.floor("cold"), 3),
            "corpus": self.corpus.as_dict(),
        }
