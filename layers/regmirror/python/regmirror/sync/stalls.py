"""Whether a copy still makes progress: the bytes a process has read and written (Linux
`/proc/<pid>/io`: `rchar` + `wchar`, which count socket traffic as well as files). A registry that
freezes mid-transfer leaves skopeo waiting on a socket that never delivers, with only its 30-minute
timeout to end it; a counter that (nearly) stops moving says so within `stall_after` seconds.

Where `/proc/<pid>/io` cannot be read (not Linux, a hardened /proc), nothing is ever called stalled
and only the copy timeout applies.
"""

from __future__ import annotations

import logging
import subprocess
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum

log = logging.getLogger("regmirror.relay")

HEARTBEAT_SECONDS = 60.0  # a log line this often while one copy runs
STALL_POLL_SECONDS = 1.0  # how often a running copy's byte counter is read

STALL_MIN_BYTES = 64 * 1024  # less than this moved within the stall window is no progress


def io_bytes(pid: int) -> int | None:
    """Bytes process `pid` has read plus written so far (all its threads); None when unknown."""
    try:
        with open(f"/proc/{pid}/io", encoding="ascii") as handle:
            fields = dict(line.split(":", 1) for line in handle if ":" in line)
        return int(fields["rchar"]) + int(fields["wchar"])
    except (OSError, KeyError, ValueError):
        return None


@dataclass
class ProgressWatch:
    """Follows one process's byte counter; `stalled()` once fewer than `min_bytes` moved in the last
    `stall_after` seconds (`stall_after` 0: never). A floor, not "no byte at all": skopeo retrying
    against a frozen registry still writes a few hundred bytes per attempt into the kernel's socket
    buffer, and reads a file or two; any real transfer, even on a slow link, moves far more."""

    pid: int
    stall_after: float
    min_bytes: int = STALL_MIN_BYTES
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)
    read: Callable[[int], int | None] = field(default=io_bytes, repr=False)
    first: int | None = field(default=None, init=False)
    _samples: deque[tuple[float, int]] = field(default_factory=deque, init=False, repr=False)

    def __post_init__(self) -> None:
        self.first = self.read(self.pid)
        if self.first is not None:
            self._samples.append((self.clock(), self.first))

    @property
    def moved(self) -> int | None:
        """Bytes read and written since the watch began; None when the counter cannot be read."""
        if self.first is None or not self._samples:
            return None
        return self._samples[-1][1] - self.first

    def stalled(self) -> bool:
        """Read the counter; True when the last `stall_after` seconds moved fewer than `min_bytes`."""
        now, current = self.clock(), self.read(self.pid)
        if current is None:
            return False
        if self.first is None:  # readable only now: start counting here
            self.first = current
        self._samples.append((now, current))
        # keep one sample at or before the window's start: the baseline of the window
        while len(self._samples) > 1 and self._samples[1][0] <= now - self.stall_after:
            self._samples.popleft()
        since, baseline = self._samples[0]
        spanned = now - since >= self.stall_after
        return self.stall_after > 0 and spanned and current - baseline < self.min_bytes


def human_bytes(count: int) -> str:
    """`1536` → `1.5 KiB`."""
    if count < 1024:
        return f"{count} B"
    size, unit = count / 1024, "KiB"
    for larger in ("MiB", "GiB", "TiB"):
        if size < 1024:
            break
        size, unit = size / 1024, larger
    return f"{size:.1f} {unit}"


class Ended(Enum):
    """Why a process was ended by us rather than by itself."""

    TIMEOUT = "timeout"
    STALLED = "stalled"


def wait_watched(
    proc: subprocess.Popen[bytes], what: str, timeout: float, stall_timeout: float
) -> int | Ended:
    """The exit code of `proc`, or why it must be ended: `timeout` passed, or `stall_timeout` went by
    with (nearly) no byte moved. While it runs, a heartbeat line every `HEARTBEAT_SECONDS` with the
    bytes moved so far, so a long or stalled copy is never silent. Ending it is the caller's."""
    started = time.monotonic()
    watch = ProgressWatch(proc.pid, stall_timeout)
    poll = min(STALL_POLL_SECONDS, stall_timeout / 4) if stall_timeout > 0 else STALL_POLL_SECONDS
    beat = started + HEARTBEAT_SECONDS
    while (left := timeout - (time.monotonic() - started)) > 0:
        try:
            return proc.wait(timeout=max(0.01, min(poll, left, beat - time.monotonic())))
        except subprocess.TimeoutExpired:
            pass
        if watch.stalled():
            log.warning("copy %s moved no data for %g s: killing it as stalled", what, stall_timeout)
            return Ended.STALLED
        elapsed = time.monotonic() - started
        if elapsed >= beat - started and elapsed < timeout:
            beat += HEARTBEAT_SECONDS
            log.info(
                "copy %s still running after %.0f s (%s, timeout %g s)", what, elapsed, _moved(watch), timeout
            )
    return Ended.TIMEOUT


def _moved(watch: ProgressWatch) -> str:
    moved = watch.moved
    return "bytes moved unknown" if moved is None else f"{human_bytes(moved)} moved"
