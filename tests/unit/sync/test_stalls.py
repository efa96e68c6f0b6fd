"""Progress of a running copy from its byte counter: stalled when (nearly) nothing moved for the
stall time, never when the counter cannot be read; and the counter of a real process."""

from __future__ import annotations

import os
import subprocess

from regmirror.sync.stalls import STALL_MIN_BYTES, Ended, ProgressWatch, human_bytes, io_bytes, wait_watched


class Counter:
    """A fake clock and byte counter moved by the test."""

    def __init__(self) -> None:
        self.now = 0.0
        self.bytes: int | None = 1000

    def clock(self) -> float:
        return self.now

    def read(self, _pid: int) -> int | None:
        return self.bytes


def watch(counter: Counter, stall_after: float = 10.0) -> ProgressWatch:
    return ProgressWatch(1, stall_after, clock=counter.clock, read=counter.read)


def test_stalled_once_the_window_moved_less_than_the_floor() -> None:
    counter = Counter()
    progress = watch(counter)
    for second in range(1, 10):
        counter.now, counter.bytes = second, 1000 + second * 100  # a retrying client: a few bytes
        assert not progress.stalled()
    counter.now, counter.bytes = 10, 2000
    assert progress.stalled()
    assert progress.moved == 1000


def test_moving_data_is_progress_however_slowly_the_window_slides() -> None:
    counter = Counter()
    progress = watch(counter)
    for second in range(1, 60):
        counter.now = second
        counter.bytes = (counter.bytes or 0) + STALL_MIN_BYTES // 5  # a slow link: 13 KiB/s
        assert not progress.stalled()
    # then it stops: stalled once the last 10 s hold less than the floor (5 s of this link's rate)
    for second in range(60, 64):
        counter.now = second
        assert not progress.stalled()
    counter.now = 65
    assert progress.stalled()


def test_an_unreadable_counter_is_never_stalled_and_counting_starts_once_readable() -> None:
    counter = Counter()
    counter.bytes = None
    progress = watch(counter, stall_after=1)
    for second in range(1, 30):
        counter.now = second
        assert not progress.stalled()
    assert progress.moved is None
    counter.bytes, counter.now = 500, 30
    assert not progress.stalled()
    counter.bytes, counter.now = 900, 31
    assert progress.stalled()  # 400 bytes in a second: below the floor
    assert progress.moved == 400


def test_zero_stall_time_never_stalls() -> None:
    counter = Counter()
    progress = watch(counter, stall_after=0)
    for second in range(1, 100):
        counter.now = second
        assert not progress.stalled()


def test_the_counter_of_a_real_process_counts_what_it_reads_and_writes() -> None:
    before = io_bytes(os.getpid())
    assert before is not None
    with open("/dev/zero", "rb") as zero:
        zero.read(1 << 20)
    after = io_bytes(os.getpid())
    assert after is not None and after - before >= 1 << 20
    assert io_bytes(2**22 + 12345) is None  # no such process


def test_wait_watched_returns_the_exit_code_or_why_it_must_end() -> None:
    done = subprocess.Popen(["sh", "-c", "exit 3"])
    assert wait_watched(done, "x", timeout=30, stall_timeout=5) == 3
    idle = subprocess.Popen(["sleep", "30"])
    try:
        assert wait_watched(idle, "x", timeout=30, stall_timeout=0.5) is Ended.STALLED
        assert wait_watched(idle, "x", timeout=0.5, stall_timeout=0) is Ended.TIMEOUT
    finally:
        idle.kill()
        idle.wait()


def test_human_bytes() -> None:
    assert [human_bytes(n) for n in (0, 1023, 1536, 5 << 20, 3 << 30, 5 << 40)] == [
        "0 B",
        "1023 B",
        "1.5 KiB",
        "5.0 MiB",
        "3.0 GiB",
        "5.0 TiB",
    ]
