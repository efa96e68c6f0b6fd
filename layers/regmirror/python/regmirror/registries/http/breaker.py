"""A circuit breaker per registry host: after `failures` operations in a row got no answer from a host
(each already retried by the retry policy, or a whole skopeo run), the breaker opens and every further
operation on that host fails at once with `RegistryUnavailable`, one clear message logged once, instead
of the run waiting on a dead registry image by image. After `cooldown` seconds it lets operations
through again (half-open): the first answer closes it, the first failure opens it for another cooldown.

Any answer counts as a sign of life, an error status included: the breaker is about reachability, the
retry policy about answers. One `Breakers` is shared by a run's clients and copies (`Registries`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from regmirror.errors import RegistryUnavailable
from regmirror.model import canonical_host

log = logging.getLogger("regmirror.registry")

DEFAULT_FAILURES = 3
DEFAULT_COOLDOWN = 30.0


@dataclass(slots=True)
class _HostState:
    failures: int = 0
    opened_at: float | None = None
    last_error: str = ""
    refused: int = 0  # operations failed at once while open


@dataclass
class Breakers:
    """Thread-safe. `failures` 0 turns the breakers off; `clock` is injectable for tests."""

    failures: int = DEFAULT_FAILURES
    cooldown: float = DEFAULT_COOLDOWN
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _hosts: dict[str, _HostState] = field(default_factory=dict, init=False, repr=False)

    def admit(self, host: str) -> None:
        """Raise `RegistryUnavailable` while `host`'s breaker is open."""
        with self._lock:
            state = self._hosts.get(canonical_host(host))
            if state is None or state.opened_at is None:
                return
            waited = self.clock() - state.opened_at
            if waited >= self.cooldown:
                return  # half-open: let it try; its outcome closes or reopens the breaker
            state.refused += 1
            message = self._message(host, state, self.cooldown - waited)
        raise RegistryUnavailable(message, registry=host)

    def answered(self, host: str) -> None:
        """`host` answered (whatever the status): it is reachable."""
        with self._lock:
            state = self._hosts.pop(canonical_host(host), None)
        if state is not None and state.opened_at is not None:
            log.warning("%s answers again: its circuit breaker is closed", host)

    def unreachable(self, host: str, error: str) -> None:
        """An operation on `host` got no answer, its retries included."""
        if self.failures <= 0:
            return
        with self._lock:
            state = self._hosts.setdefault(canonical_host(host), _HostState())
            state.failures += 1
            state.last_error = error
            if state.failures < self.failures:
                return
            reopened = state.opened_at is not None
            state.opened_at = self.clock()
        if not reopened:
            log.error(
                "%s unavailable: %d operations in a row got no answer (last: %s); the rest of the "
                "work on it fails at once, retried after %g s",
                host,
                state.failures,
                error,
                self.cooldown,
            )

    def open_hosts(self) -> dict[str, str]:
        """Each host whose breaker is open: why, and how many operations it failed at once."""
        with self._lock:
            opened = {host: s for host, s in self._hosts.items() if s.opened_at is not None}
            return {
                host: f"{s.failures} operations in a row got no answer (last: {s.last_error}); "
                f"{s.refused} not tried"
                for host, s in opened.items()
            }

    @staticmethod
    def _message(host: str, state: _HostState, left: float) -> str:
        return (
            f"{host} unavailable, not tried: its circuit breaker is open after {state.failures} "
            f"operations in a row got no answer (tried again in {left:.0f} s)"
        )
