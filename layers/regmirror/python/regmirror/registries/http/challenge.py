"""`WWW-Authenticate` challenges (RFC 7235): `Bearer realm="..",service="..",scope=".."`, `Basic ..`."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

MAX_HEADER_CHARS = 16 * 1024  # WWW-Authenticate (and Link) headers are parsed up to this length

_AUTH_PARAM = re.compile(r'\s*([A-Za-z0-9_.-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))\s*(?:,|$)')


@dataclass(frozen=True, slots=True)
class Challenge:
    """One challenge of a `WWW-Authenticate` header; `scheme` is lower case, e.g. "bearer"."""

    scheme: str
    params: Mapping[str, str] = field(default_factory=dict)


def parse_www_authenticate(header: str | None) -> list[Challenge]:
    """Challenges of a `WWW-Authenticate` header, in order."""
    challenges: list[Challenge] = []
    rest = (header or "")[:MAX_HEADER_CHARS].strip()
    while rest:
        scheme_match = re.match(r"([A-Za-z][A-Za-z0-9_-]*)\s*", rest)
        if not scheme_match:
            break
        rest = rest[scheme_match.end() :]
        params, rest = _auth_params(rest)
        challenges.append(Challenge(scheme_match.group(1).lower(), params))
    return challenges


def _auth_params(text: str) -> tuple[dict[str, str], str]:
    """Leading `name=value` pairs of `text`; returns them and what follows (the next challenge)."""
    params: dict[str, str] = {}
    while True:
        match = _AUTH_PARAM.match(text)
        if not match:
            return params, text.lstrip(", ")
        quoted, bare = match.group(2), match.group(3)
        value = re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else bare
        params[match.group(1).lower()] = value
        text = text[match.end() :]
