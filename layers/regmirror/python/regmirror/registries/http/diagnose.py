"""Why a host could not be reached, said so that the user knows what to change.

A requests/urllib3 error chain names the real cause deep inside (`[Errno 111] Connection refused`,
`WRONG_VERSION_NUMBER`): this finds it and says it plainly, keeping the original words at the end.
"""

from __future__ import annotations

import ssl
from urllib.parse import urlsplit

import requests
import urllib3.exceptions

MAX_DETAIL_CHARS = 200

# (needle in the error text, lower case) -> what it means; the first that matches wins
_CAUSES: tuple[tuple[tuple[str, ...], str], ...] = (
    (
        ("wrong_version_number", "wrong version number"),
        "the registry speaks plain HTTP, not HTTPS: set `insecure: true` (or `skip-tls-verify: true`) for it",
    ),
    (("certificate_verify_failed",), "its TLS certificate is not trusted: give its CA in `ca-file`"),
    (("connection refused", "errno 111"), "nothing listens at {host}"),
    (
        ("name or service not known", "temporary failure in name resolution", "nodename nor servname"),
        "{name} does not resolve (DNS)",
    ),
    (("no route to host", "network is unreachable"), "no network route to {host}"),
)


def short(exc: BaseException) -> str:
    """`Class: message` of an exception, cut at a word boundary near 200 characters."""
    text = " ".join(str(exc).split())
    if not text:
        return exc.__class__.__name__
    if len(text) > MAX_DETAIL_CHARS:
        text = text[:MAX_DETAIL_CHARS].rsplit(" ", 1)[0] + " …"
    return f"{exc.__class__.__name__}: {text}"


def transport_problem(exc: BaseException, url: str) -> str:
    """What went wrong reaching `url`, actionable when the cause is known, then the original error."""
    text = _chain_text(exc).lower()
    host = urlsplit(url).netloc or url
    for needles, meaning in _CAUSES:
        if any(needle in text for needle in needles):
            return f"{meaning.format(host=host, name=host.rsplit(':', 1)[0])} ({short(exc)})"
    return short(exc)


def unanswered(exc: BaseException) -> bool:
    """A transport failure that got no answer from the host (refused, reset, timed out, unresolvable);
    not a TLS failure, which is an answer the client refused and no sign of an unavailable host."""
    return not any(isinstance(cause, _TLS_ERRORS) for cause in _chain(exc))


_TLS_ERRORS = (requests.exceptions.SSLError, urllib3.exceptions.SSLError, ssl.SSLError)


def _chain(exc: BaseException) -> list[BaseException]:
    found: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and all(current is not seen for seen in found) and len(found) < 12:
        found.append(current)
        current = current.__cause__ or current.__context__
    return found


def _chain_text(exc: BaseException) -> str:
    """The text of an exception and of its causes (requests wraps urllib3 wraps the OS error)."""
    parts: list[str] = []
    for current in _chain(exc):
        parts.append(f"{current!r} {current}")
        parts.extend(str(arg) for arg in getattr(current, "args", ()) if not isinstance(arg, str))
    return " ".join(parts)
