"""The relay's work folders and running skopeo processes, so that neither outlives regmirror.

Every copy gets a private 0700 folder `regmirror-relay-<pid>-*` in `$TMPDIR` (auth files, CA dirs,
digest file, skopeo's temp files), removed when the copy ends. What is still in flight is tracked:
an abort (a second Ctrl-C, a stop's grace time over) or the interpreter's exit kills the processes
and removes the folders (worker threads are daemons and never reach their `finally`). A SIGKILL
leaves them: the next start removes the folders of dead processes (`remove_leftovers`).

One folder outlives the copies on purpose: skopeo's data home (`skopeo_data_home`), which holds its
blob-info cache (which blob it saw where; no credential), shared by every copy of the user.
"""

from __future__ import annotations

import atexit
import logging
import os
import re
import shutil
import signal
import subprocess
import threading
from contextlib import suppress
from pathlib import Path

log = logging.getLogger("regmirror.relay")


def _signal_group(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)


def kill_group(proc: subprocess.Popen[bytes]) -> None:
    _signal_group(proc)
    proc.wait()


class LiveRuns:
    """Work dirs and skopeo processes in flight, so that an abort or the interpreter's exit (worker
    threads are daemons and never reach their `finally`) leaves neither processes nor auth files."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: set[Path | subprocess.Popen[bytes]] = set()

    def add(self, thing: Path | subprocess.Popen[bytes]) -> None:
        with self._lock:
            self._items.add(thing)

    def discard(self, thing: Path | subprocess.Popen[bytes]) -> None:
        with self._lock:
            self._items.discard(thing)

    def abort(self) -> int:
        with self._lock:
            things = list(self._items)
        procs = [t for t in things if isinstance(t, subprocess.Popen)]
        for proc in procs:
            _signal_group(proc)  # the thread waiting on it reaps it and reports "killed"
        for path in things:
            if isinstance(path, Path):
                shutil.rmtree(path, ignore_errors=True)
        return len(procs)


LIVE = LiveRuns()
atexit.register(LIVE.abort)


WORKDIR_PREFIX = "regmirror-relay-"  # + the pid of the regmirror that made it
_WORKDIR = re.compile(rf"{WORKDIR_PREFIX}([0-9]+)-")


def remove_leftovers(tmpdir: str) -> int:
    """Remove the work folders (auth files included) of regmirror processes that died without cleaning
    up (SIGKILL, a crash): the next start does it. Folders of living processes, of other users and of
    unknown names are left alone. Returns how many were removed."""
    try:
        entries = list(os.scandir(tmpdir))
    except OSError:
        return 0
    removed = [entry.path for entry in entries if _left_behind(entry)]
    for path in removed:
        shutil.rmtree(path, ignore_errors=True)
    if removed:
        log.warning("removed %d work folder(s) with credentials left by dead regmirror runs", len(removed))
    return len(removed)


def _left_behind(entry: os.DirEntry[str]) -> bool:
    found = _WORKDIR.match(entry.name)
    try:
        if found is None or not entry.is_dir(follow_symlinks=False):
            return False
        if entry.stat(follow_symlinks=False).st_uid != os.getuid():
            return False
    except OSError:  # gone meanwhile: its living owner just removed it (or someone else did)
        return False
    return not _alive(int(found.group(1)))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def abort_running() -> int:
    """Kill every skopeo run in flight (any relay, any thread) and remove the work dirs with their
    auth files; returns how many processes were signalled. For a second Ctrl-C, or shutdown."""
    return LIVE.abort()


def skopeo_data_home(tmpdir: str) -> Path:
    """skopeo's `$XDG_DATA_HOME`, this user's own (0700): `$XDG_CACHE_HOME/regmirror/skopeo` (default
    `~/.cache/...`), else, where HOME is read-only (Lambda), `<tmpdir>/regmirror-skopeo-<uid>`."""
    try:
        cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
        if not cache.is_absolute():  # the XDG spec ignores a relative one; no home gives "~"
            raise OSError(f"{cache} is not an absolute path")
        return own_folder(cache / "regmirror" / "skopeo")
    except (OSError, RuntimeError):  # RuntimeError: Path.home() found no home at all
        return own_folder(Path(tmpdir) / f"regmirror-skopeo-{os.getuid()}")


def own_folder(path: Path) -> Path:
    """`path` as a folder of this user's (made 0700 with its parents when absent); OSError when it is
    a symlink or someone else's: a shared cache must not be planted by another user."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.is_symlink() or path.lstat().st_uid != os.getuid():
        raise OSError(f"{path} is not this user's own folder")
    return path
