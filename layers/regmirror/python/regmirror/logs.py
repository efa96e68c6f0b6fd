"""Logging setup for the CLI (dregsy's LOG_LEVEL / LOG_FORMAT), with credentials redacted."""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time
from typing import Any

from regmirror.redact import redact, secret_forms

_RESERVED = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None)))
_secrets: set[str] = set()
_secrets_lock = threading.Lock()


def remember_secret(username: str | None, password: str | None) -> None:
    """Every credential the process resolves is masked in all log output from then on."""
    with _secrets_lock:
        _secrets.update(secret_forms(username, password))


def redact_text(text: str) -> str:
    with _secrets_lock:
        known = list(_secrets)
    return redact(text, known)


class RedactingFilter(logging.Filter):
    """Last line of defence: whatever a message holds, known secrets never reach a log sink."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact_text(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, msg, and the record's structured fields
    (`extra=`: task, source, target, digest, reason, attempts of a copy)."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + "Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        data.update({k: v for k, v in vars(record).items() if k not in _RESERVED and not k.startswith("_")})
        if record.exc_info:
            data["exc"] = redact_text(self.formatException(record.exc_info))
        return json.dumps(data, default=str)


_LEVEL_COLOURS = {"DEBUG": "2", "WARNING": "33", "ERROR": "31", "CRITICAL": "1;31"}  # dim, yellow, red


class ColourFormatter(logging.Formatter):
    """Text lines with the level coloured, for a terminal (https://no-color.org: NO_COLOR turns it off)."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        colour = _LEVEL_COLOURS.get(record.levelname)
        return f"\x1b[{colour}m{line}\x1b[0m" if colour else line


def colour_wanted(stream: Any) -> bool:
    """A terminal, and neither NO_COLOR (any value but empty) nor TERM=dumb."""
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def configure_logging(
    level: str = "INFO", fmt: str = "text", stream: Any = None, *, dated: bool = False
) -> None:
    """`dated`: text lines carry the date too (the daemon runs for days; a sync's lines need none)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(RedactingFilter())
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        clock = "%Y-%m-%d %H:%M:%S" if dated else "%H:%M:%S"
        text = ColourFormatter if colour_wanted(handler.stream) else logging.Formatter
        handler.setFormatter(text("%(asctime)s %(levelname)-7s %(name)s: %(message)s", clock))
    root = logging.getLogger("regmirror")
    root.handlers[:] = [handler]
    root.setLevel(_level(level))
    # Propagation stays on: a plain CLI run has no root handlers, and embedding code (tests, Lambda)
    # keeps seeing the records through its own.


def log_http_library() -> None:
    """urllib3's own DEBUG lines (connections opened, request lines and statuses) through regmirror's
    handler and its redaction (`-vv`)."""
    http = logging.getLogger("urllib3")
    http.handlers[:] = list(logging.getLogger("regmirror").handlers)
    http.setLevel(logging.DEBUG)
    http.propagate = False


def _level(name: str) -> int:
    value = logging.getLevelName(name.upper())
    return value if isinstance(value, int) else logging.INFO
