"""Access tokens from Google application default credentials, as dregsy gets them for GCR and Artifact
Registry: `GOOGLE_APPLICATION_CREDENTIALS` (a service account JSON file), gcloud's own application
default credentials, or the metadata server on Google Cloud. The registry takes the token as the
password of the user `oauth2accesstoken`. One token per process, renewed before it expires.

google-auth is imported only here, when a Google registry without `auth` is used: it costs about
0.1 s of import time and is an optional dependency (`pip install 'regmirror[gcp]'`).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading
import time
from typing import Any

from regmirror.errors import AuthError
from regmirror.registries.credentials import Credentials

log = logging.getLogger("regmirror.credentials")

USERNAME = "oauth2accesstoken"
SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)
RENEW_BEFORE_SECONDS = 300.0  # a copy that starts with the token must finish with it
ABSENT_RECHECK_SECONDS = 300.0  # no credentials found: look again only after this

_lock = threading.Lock()
_state: dict[str, Any] = {}  # "adc": the google-auth credentials object; "token": Credentials; "until"


class NoGoogleCredentials(Exception):
    """Application default credentials are not configured (the caller falls back to logins)."""


def google_credentials(clock: Any = time.time) -> Credentials:
    """Registry credentials from application default credentials, renewed when they near expiry;
    NoGoogleCredentials when there are none, AuthError when they cannot give a token."""
    with _lock:
        token: Credentials | None = _state.get("token")
        if token is not None and clock() < _state["until"] - RENEW_BEFORE_SECONDS:
            return token
        absent = _state.get("absent")
        if absent is not None and clock() < absent[0] + ABSENT_RECHECK_SECONDS:
            raise NoGoogleCredentials(absent[1])  # asked once: the lookup may probe the metadata server
        try:
            adc = _state.get("adc") or _default()
        except NoGoogleCredentials as exc:
            _state["absent"] = (clock(), str(exc))
            raise
        _state["adc"] = adc
        access, expiry = _refresh(adc)
        origin = _origin()
        token = Credentials(USERNAME, access, origin=origin)
        _state.update(token=token, until=expiry)
        log.info("credentials for Google registries: %s (token valid until %s)", origin, time.ctime(expiry))
        return token


def forget_google_credentials() -> None:
    with _lock:
        _state.clear()


def _default() -> Any:
    try:
        import google.auth
        import google.auth.exceptions
    except ImportError:
        raise AuthError(
            "a Google registry without `auth` needs google-auth for application default credentials: "
            "pip install 'regmirror[gcp]' (or give `auth:`)"
        ) from None
    try:
        credentials, _project = google.auth.default(scopes=list(SCOPES))
    except google.auth.exceptions.DefaultCredentialsError as exc:
        raise NoGoogleCredentials(str(exc)) from None
    return credentials


def _refresh(adc: Any) -> tuple[str, float]:
    """(access token, expiry as a timestamp) from the credentials object."""
    from google.auth.exceptions import GoogleAuthError
    from google.auth.transport.requests import Request

    try:
        adc.refresh(Request())
    except GoogleAuthError as exc:
        raise AuthError(
            f"Google application default credentials ({_origin()}) gave no token: {exc}"
        ) from None
    expiry = getattr(adc, "expiry", None)
    if expiry is None:
        return str(adc.token), time.time() + 3600
    if expiry.tzinfo is None:  # google-auth keeps naive UTC
        expiry = expiry.replace(tzinfo=dt.UTC)
    return str(adc.token), float(expiry.timestamp())


def _origin() -> str:
    path = os.environ.get("GOOGLE_APPLICATION_CREDENTIALS")
    return f"GOOGLE_APPLICATION_CREDENTIALS ({path})" if path else "Google application default credentials"
