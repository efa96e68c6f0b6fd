"""Structured logs for the handlers: the core's `regmirror.*` loggers write through the Powertools
logger's handler (same JSON, same correlation id and keys), and every line passes the core's
credential redaction filter first."""

from __future__ import annotations

import logging
from typing import Any

from regmirror.logs import RedactingFilter

CORE_LOGGER = "regmirror"


def route_core_logs(powertools_logger: Any) -> None:
    handler: logging.Handler = powertools_logger.registered_handler
    if not any(isinstance(f, RedactingFilter) for f in handler.filters):
        handler.addFilter(RedactingFilter())
    core = logging.getLogger(CORE_LOGGER)
    core.handlers = [handler]
    core.setLevel(powertools_logger.log_level)
    core.propagate = False  # Lambda's root handler would print every line a second time
