"""Run one command and measure it: wall time, CPU of the whole process tree, peak RSS.

`os.wait4` on the child's pid gives the rusage of that child plus every descendant it waited for
(skopeo processes started by regmirror included), and nothing else the harness runs at the same time
(the registries are children of the harness too, but are never reaped during a measurement).

Peak RSS comes from `/usr/bin/time -f %M` wrapped around the command: Linux carries the RSS high-water
mark of the forking process into the child across exec, so the harness's own size (over 100 MB after
a few runs) would otherwise show up as the child's peak.
"""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import tempfile
import threading
import time
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TIME = "/usr/bin/time"  # GNU time (Debian package `time`)


@dataclass(frozen=True)
class Measured:
    argv: list[str]
    returncode: int
    wall: float  # seconds
    cpu: float  # user + system seconds of the process tree
    max_rss_kb: int  # peak resident set of the largest process in the tree
    stdout: str
    stderr: str
    timed_out: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "wall_s": round(self.wall, 4),
            "cpu_s": round(self.cpu, 4),
            "max_rss_mb": round(self.max_rss_kb / 1024, 1),
            "returncode": self.returncode,
        }


def run_measured(
    argv: list[str],
    *,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 1800.0,
) -> Measured:
    """Run `argv` to completion (killed with its process group after `timeout`) and measure it."""
    with (
        tempfile.TemporaryFile("w+") as out,
        tempfile.TemporaryFile("w+") as err,
        tempfile.NamedTemporaryFile("r", suffix=".rss") as rss,
    ):
        wrapped = [TIME, "-f", "%M", "-o", rss.name, *argv] if os.access(TIME, os.X_OK) else argv
        start = time.perf_counter()
        proc = subprocess.Popen(
            wrapped,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            env=env,
            cwd=cwd,
            start_new_session=True,
        )
        expired = threading.Event()
        timer = threading.Timer(timeout, _kill_group, args=(proc.pid, expired))
        timer.start()
        try:
            _pid, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        out.seek(0)
        err.seek(0)
        return Measured(
            argv=argv,
            returncode=proc.returncode,
            wall=wall,
            cpu=usage.ru_utime + usage.ru_stime,
            max_rss_kb=_peak_rss_kb(rss.name, usage.ru_maxrss),
            stdout=out.read(),
            stderr=err.read(),
            timed_out=expired.is_set(),
        )


def _peak_rss_kb(report: str, fallback: int) -> int:
    """`/usr/bin/time`'s %M (the last line: a killed command gets a note before it), else wait4's."""
    try:
        lines = Path(report).read_text().split()
        return int(lines[-1]) if lines else fallback
    except (OSError, ValueError):
        return fallback


def _kill_group(pid: int, expired: threading.Event) -> None:
    expired.set()
    with suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


def summary(values: list[float]) -> dict[str, float | int]:
    """Median, min, max and count of repeated measurements (empty list → zeros)."""
    if not values:
        return {"median": 0.0, "min": 0.0, "max": 0.0, "n": 0}
    return {
        "median": round(statistics.median(values), 4),
        "min": round(min(values), 4),
        "max": round(max(values), 4),
        "n": len(values),
    }


def ratio(numerator: float, denominator: float) -> float | None:
    return round(numerator / denominator, 3) if denominator > 0 else None
