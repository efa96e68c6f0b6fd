"""How `regmirror sync` stops on SIGTERM, SIGINT or SIGHUP (what Kubernetes, systemd and a terminal send).

The first signal stops the run: no new copy starts, the running ones get `GRACE_SECONDS` to finish, then
their skopeo processes are killed and their work folders (auth files included) removed; the command
exits 128 + the signal number. A second signal aborts at once. A SIGKILL leaves the folders behind:
the next start removes those of dead processes (`sync.workdirs.remove_leftovers`).
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

log = logging.getLogger("regmirror.cli")

GRACE_SECONDS = 10.0  # well inside the 30 s Kubernetes and systemd give before their SIGKILL
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


class Stopped(KeyboardInterrupt):
    """The run was stopped by a signal (a KeyboardInterrupt, so every layer unwinds as for Ctrl-C)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name


class _Stopper:
    def __init__(self, grace: float) -> None:
        self.grace = grace
        self.signalled = threading.Event()

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if self.signalled.is_set():
            log.warning("second %s: aborting the running copies now", name)
            _abort()
            raise Stopped(signum)
        self.signalled.set()
        log.warning("%s: stopping; no new copies start, running ones get %g s", name, self.grace)
        timer = threading.Timer(self.grace, _abort)
        timer.daemon = True
        timer.start()
        raise Stopped(signum)


def _abort() -> None:
    from regmirror.sync.workdirs import abort_running  # loaded by then: a sync is running

    abort_running()


@contextmanager
def stop_on_signals(grace: float = GRACE_SECONDS) -> Iterator[None]:
    """Within the block, SIGTERM/SIGINT/SIGHUP stop the run as the module docstring says (main thread
    only: elsewhere signals cannot be handled, and the block just runs)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    stopper = _Stopper(grace)
    previous = {sig: signal.signal(sig, stopper) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
