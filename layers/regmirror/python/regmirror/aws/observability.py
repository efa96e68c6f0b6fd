"""Observability for the handlers.

Logs: the core's `regmirror.*` loggers write through the Powertools logger's handler (same JSON, same
correlation id and keys), and every line passes the core's credential redaction filter first.

Traces: the Tracer patches only the AWS SDK (`TRACED_MODULES`), not `requests`: a planning run sends
hundreds of registry requests, and a subsegment each would bury the trace (and X-Ray's per-trace
limits). The work is traced by phase instead (`traced_phases`: enumerate, check, copy, handoff).
"""

from __future__ import annotations

import logging
from contextlib import AbstractContextManager
from typing import Any

from regmirror.aws import names
from regmirror.logs import RedactingFilter
from regmirror.model import CopyResult
from regmirror.sync.phases import Phase

CORE_LOGGER = "regmirror"
TRACED_MODULES = ("boto3", "botocore")  # Tracer(patch_modules=...): AWS calls, not registry requests


def traced_phases(tracer: Any) -> Phase:
    """The core's phases as X-Ray subsegments of the Powertools `tracer` (no-ops when it is off)."""

    def phase(name: str) -> AbstractContextManager[Any]:
        subsegment: AbstractContextManager[Any] = tracer.provider.in_subsegment(f"## {name}")
        return subsegment

    return phase


def route_core_logs(powertools_logger: Any) -> None:
    handler: logging.Handler = powertools_logger.registered_handler
    if not any(isinstance(f, RedactingFilter) for f in handler.filters):
        handler.addFilter(RedactingFilter())
    core = logging.getLogger(CORE_LOGGER)
    core.handlers = [handler]
    core.setLevel(powertools_logger.log_level)
    core.propagate = False  # Lambda's root handler would print every line a second time


def referrer_metrics(result: CopyResult) -> dict[str, int]:
    """The referrer counts of one image's result, as metrics (none when they were not looked for)."""
    if result.referrers is None:
        return {}
    return {
        names.REFERRERS_COPIED: result.referrers.copied,
        names.REFERRERS_FAILED: len(result.referrers.failed),
    }
