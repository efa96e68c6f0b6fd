"""One `sync`/`run` of a config at a time: two would copy everything twice and race on pushes.

The lock is an `flock` on `$XDG_STATE_HOME/regmirror/locks/<config stem>-<hash>.lock` (beside the copy
record), held for the whole run and released by the kernel when the process ends, however it ends (no
stale lock after a crash or SIGKILL). The holder writes its pid, command and start time into the file so
that a refused run can say who holds it; `--wait` queues behind it instead.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from regmirror.errors import RegmirrorError
from regmirror.sync.record import state_path


class ConfigBusy(RegmirrorError):
    """Another process holds the config's run lock."""


def lock_path(config_file: str | os.PathLike[str]) -> Path:
    return state_path(config_file, "locks", ".lock")


@contextmanager
def run_lock(
    config_file: str | os.PathLike[str],
    *,
    wait: bool = False,
    what: str = "sync",
    on_wait: Callable[[str], None] | None = None,
) -> Iterator[Path]:
    """Hold the config's run lock for the block; ConfigBusy naming the holder when it is taken (or,
    with `wait`, block until it is free, telling `on_wait` who is ahead)."""
    path = lock_path(config_file)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        if not _try_lock(fd):
            holder = _holder(fd)
            if not wait:
                raise ConfigBusy(
                    f"{config_file} is being synced by another regmirror ({holder}); "
                    "it runs one sync of a config at a time: pass --wait to queue behind it"
                )
            if on_wait is not None:
                on_wait(holder)
            fcntl.flock(fd, fcntl.LOCK_EX)
        _write_holder(fd, what)
        yield path
    finally:
        os.close(fd)  # closing releases the lock


def _try_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _holder(fd: int) -> str:
    text = os.pread(fd, 512, 0).decode("utf-8", "replace").strip()
    return text or "a process that has not written its name yet"


def _write_holder(fd: int, what: str) -> None:
    started = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    text = f"pid {os.getpid()}, regmirror {what}, since {started}"
    os.ftruncate(fd, 0)
    os.pwrite(fd, text.encode(), 0)
