"""Copies and the registries' circuit breakers (registries/http/breaker.py): a copy is not started
while its source or target is known to be unavailable, and a copy that got no answer tells the breaker
of the registry that failed it (a 5xx or a reset is an answer: only "no answer at all" counts). skopeo
names the side it failed on in most messages; a stalled or timed-out copy names none, so both
registries are asked once, briefly, whether they still answer.
"""

from __future__ import annotations

from regmirror.config import RegistryConfig, Task
from regmirror.errors import RegistryUnavailable
from regmirror.model import CopyResult, FailureReason, SyncItem
from regmirror.redact import tail
from regmirror.sync.registries import Registries
from regmirror.sync.skopeo_errors import got_no_answer

PROBE_SECONDS = 5.0  # how long a registry may take to answer GET /v2/ after a stalled copy
_SILENT = frozenset({FailureReason.STALLED, FailureReason.TIMEOUT})


def refused(registries: Registries, task: Task, item: SyncItem) -> CopyResult | None:
    """A failed result, not tried, when the source's or the target's breaker is open."""
    try:
        for side in (task.source, task.target):
            registries.breakers.admit(side.registry)
    except RegistryUnavailable as exc:
        return CopyResult.failure(item, str(exc), reason=FailureReason.UNAVAILABLE)
    return None


def tell_breakers(registries: Registries, task: Task, result: CopyResult) -> None:
    """What `result` says about the reachability of the task's registries."""
    sides = (task.source, task.target)
    if result.status == "copied":
        for side in sides:
            registries.breakers.answered(side.registry)
    elif result.reason == FailureReason.NETWORK and got_no_answer(result.error or ""):
        side = _failed_side(result.error or "", task)
        registries.breakers.unreachable(side.registry, tail(_last_line(result.error), 300))
    elif result.reason in _SILENT:
        for side in sides:
            _probe(registries, side, result.reason)


def _probe(registries: Registries, side: RegistryConfig, reason: str) -> None:
    if registries.client(side).answers_within(PROBE_SECONDS):
        registries.breakers.answered(side.registry)
    else:
        why = f"a copy {reason} and GET /v2/ got no answer within {PROBE_SECONDS:g} s"
        registries.breakers.unreachable(side.registry, why)


def _failed_side(error: str, task: Task) -> RegistryConfig:
    """The registry a skopeo error names (its host in the message, else the phase it failed in)."""
    text = error.lower()
    source, target = task.source.registry.lower(), task.target.registry.lower()
    if source != target:
        if target in text and source not in text:
            return task.target
        if source in text and target not in text:
            return task.source
    return task.source if "initializing source" in text else task.target


def _last_line(error: str | None) -> str:
    lines = (error or "").strip().splitlines()
    return lines[-1] if lines else ""
