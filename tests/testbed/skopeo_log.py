"""A skopeo wrapper that logs every run (argv, start, end, exit code) before handing over to skopeo.

Point `skopeo.binary` of a config (or `SkopeoRelay(binary=...)`) at `LoggingSkopeo.binary`; the log
tells how many skopeo processes ran, with which arguments, and how many overlapped in time.
"""

from __future__ import annotations

import shlex
import shutil
from dataclasses import dataclass
from pathlib import Path

REAL_SKOPEO = shutil.which("skopeo") or "/usr/bin/skopeo"


@dataclass(frozen=True)
class SkopeoRun:
    pid: int
    argv: list[str]
    start: float
    end: float | None
    exit_code: int | None

    @property
    def target(self) -> str:
        return self.argv[-1]

    @property
    def source(self) -> str:
        return self.argv[-2]


class LoggingSkopeo:
    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.log = directory / "skopeo-runs.log"
        self.binary = directory / "skopeo"
        self.binary.write_text(
            "#!/bin/sh\n"
            f'case "$1" in --version) exec {shlex.quote(REAL_SKOPEO)} --version;; esac\n'  # not a run
            f'printf "start %s %s\\n" "$$" "$(date +%s.%N)" >> {shlex.quote(str(self.log))}\n'
            f'printf "argv %s %s\\n" "$$" "$*" >> {shlex.quote(str(self.log))}\n'
            f'{shlex.quote(REAL_SKOPEO)} "$@"\n'
            "rc=$?\n"
            f'printf "end %s %s %s\\n" "$$" "$(date +%s.%N)" "$rc" >> {shlex.quote(str(self.log))}\n'
            'exit "$rc"\n'
        )
        self.binary.chmod(0o755)

    def runs(self) -> list[SkopeoRun]:
        if not self.log.exists():
            return []
        starts: dict[int, float] = {}
        argvs: dict[int, list[str]] = {}
        ends: dict[int, tuple[float, int]] = {}
        for line in self.log.read_text().splitlines():
            kind, pid_text, rest = [*line.split(" ", 2), ""][:3]
            pid = int(pid_text)
            if kind == "start":
                starts[pid] = float(rest)
            elif kind == "argv":
                argvs[pid] = rest.split(" ")
            elif kind == "end":
                when, code = rest.split(" ")
                ends[pid] = (float(when), int(code))
        return [
            SkopeoRun(pid, argvs.get(pid, []), start, *(ends.get(pid) or (None, None)))
            for pid, start in sorted(starts.items(), key=lambda kv: kv[1])
        ]

    def max_overlap(self, source_host: str | None = None) -> int:
        """Most runs in flight at one time (only those reading from `source_host`, when given)."""
        events: list[tuple[float, int]] = []
        for run in self.runs():
            if source_host is not None and f"//{source_host}/" not in run.source:
                continue
            events += [(run.start, 1), (run.end if run.end is not None else float("inf"), -1)]
        peak = current = 0
        for _when, step in sorted(events):
            current += step
            peak = max(peak, current)
        return peak
