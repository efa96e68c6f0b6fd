"""Bearer tokens: the token server's answer, and a cache per scope until shortly before expiry."""

from __future__ import annotations

import threading
import time
from typing import Any

DEFAULT_TOKEN_LIFETIME = 60.0  # seconds, when the token server gives no expires_in (Docker's default)
TOKEN_MARGIN = 10.0  # renew this long before a token expires


class TokenCache:
    """Bearer tokens per scope. Shared by a client's threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[str, tuple[str, float]] = {}

    def get(self, scope: str) -> str | None:
        with self._lock:
            entry = self._tokens.get(scope)
        if entry is None or entry[1] <= time.monotonic():
            return None
        return entry[0]

    def put(self, scope: str, token: str, expires_in: float) -> None:
        lifetime = max(expires_in - TOKEN_MARGIN, expires_in / 2)
        with self._lock:
            self._tokens[scope] = (token, time.monotonic() + lifetime)


def token_from_answer(body: Any) -> tuple[str, float]:
    """(token, lifetime) from a token server's JSON; Docker Hub uses `token`, OAuth2 `access_token`."""
    if not isinstance(body, dict):
        raise ValueError("token answer is not a JSON object")
    token = body.get("token") or body.get("access_token")
    if not isinstance(token, str) or not token:
        raise ValueError("token answer holds neither 'token' nor 'access_token'")
    expires_in = body.get("expires_in")
    lifetime = (
        float(expires_in)
        if isinstance(expires_in, int | float) and expires_in > 0
        else DEFAULT_TOKEN_LIFETIME
    )
    return token, lifetime
