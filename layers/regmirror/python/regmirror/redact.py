"""Remove credentials from text before it reaches a log, a report or an error message.

Two layers: known secrets (a password and the forms it travels in: `user:pass`, base64 of it, JSON-
and URL-escaped) are replaced wherever they occur; generic patterns (Authorization headers, `"auth"`
fields of auth files, URL user-info, bearer tokens, pre-signed S3 URL signatures) catch secrets we were
never told about.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable
from urllib.parse import quote

MASK = "***"

# (pattern, replacement): each keeps the label and masks the value.
_GENERIC_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # `Authorization: Basic xyz`, `Proxy-Authorization: Bearer xyz`, also inside Go's map dumps.
    (re.compile(r"(?i)((?:proxy-)?authorization\"?\s*[:=]\s*\[?\"?)[^\"\]\r\n]+"), rf"\g<1>{MASK}"),
    (re.compile(r"(?i)\b(basic|bearer)\s+[A-Za-z0-9._~+/=-]{8,}"), rf"\g<1> {MASK}"),
    # JSON fields of auth files, token answers and credential payloads.
    (
        re.compile(
            r"(?i)(\"(?:auth|password|secret|token|access_token|refresh_token|identitytoken"
            r"|registrytoken)\"\s*:\s*\")(?:[^\"\\]|\\.)*\""
        ),
        rf'\g<1>{MASK}"',
    ),
    # `https://user:pass@host/` user-info.
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s:@\"']+:[^/\s@\"']*@"), rf"\g<1>{MASK}@"),
    # Command-line style credentials, should any tool echo them.
    (
        re.compile(r"(?i)(--(?:src-|dest-)?(?:creds|password|registry-token)[= ])\S+"),
        rf"\g<1>{MASK}",
    ),
    # Pre-signed URLs (ECR layers redirect to S3): the signature and session token are credentials.
    (
        re.compile(r"(?i)(X-Amz-(?:Signature|Security-Token|Credential)=)[^&\s\"']+"),
        rf"\g<1>{MASK}",
    ),
)


def secret_forms(username: str | None, password: str | None) -> list[str]:
    """Every form a username/password pair can take in text: the password itself, `user:pass`,
    base64 of `user:pass` (std and URL-safe alphabets), JSON- and URL-escaped password."""
    if not password:
        return []
    pair = f"{username or ''}:{password}"
    encoded = pair.encode()
    forms = {
        password,
        pair,
        base64.b64encode(encoded).decode(),
        base64.urlsafe_b64encode(encoded).decode(),
        base64.b64encode(encoded).decode().rstrip("="),
        json.dumps(password)[1:-1],
        quote(password, safe=""),
    }
    return sorted((f for f in forms if f), key=len, reverse=True)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with every known secret and every credential-looking pattern replaced by `***`."""
    # Longest first so that `user:pass` is masked whole before `pass` alone.
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, MASK)
    for pattern, replacement in _GENERIC_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def redact_argv(argv: Iterable[str], secrets: Iterable[str] = ()) -> list[str]:
    """A copy of an argv list fit for a log line."""
    known = list(secrets)
    return [redact(arg, known) for arg in argv]


def tail(text: str, limit: int = 2048) -> str:
    """The last `limit` characters of `text`, starting at a line boundary when one is near."""
    if len(text) <= limit:
        return text
    cut = text[-limit:]
    newline = cut.find("\n")
    return cut[newline + 1 :] if 0 <= newline < 200 else cut
