"""The user's existing registry logins, used when a registry has no `auth` in the config.

`docker login`, `podman login`, `skopeo login` and credential helpers already hold what a registry
needs; skopeo, crane, regsync and dregsy use them, so regmirror does too (`files` says where it looks
and in which order, `helpers` how it asks a credential helper). The same credentials serve regmirror's
own HTTP client and skopeo (through its 0600 auth file). Explicit `auth:` wins, `auth: none` is
anonymous, and `credentials-from-environment: false` turns the lookup off.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

from regmirror.logs import remember_secret
from regmirror.registries.credentials import Credentials, resolve_credentials
from regmirror.registries.logins.files import FileEntry, auth_file_paths, helper_server_url, read_auth_file
from regmirror.registries.logins.helpers import ask_helper

log = logging.getLogger("regmirror.credentials")

CACHE_SECONDS = 300.0  # a helper is a process per lookup; logins change rarely
_cache: dict[tuple[str, tuple[tuple[str, int], ...]], tuple[float, Credentials | None]] = {}
_lock = threading.Lock()


class LoginSpec(Protocol):
    @property
    def registry(self) -> str: ...

    @property
    def auth(self) -> str | None: ...

    @property
    def discover_logins(self) -> bool: ...


def credentials_for(spec: LoginSpec) -> Credentials | None:
    """`auth` when the config gives it (`none`: anonymous); else the user's login for the host, unless
    the lookup is turned off; None: anonymous."""
    if spec.auth is not None and spec.auth.strip():
        creds = resolve_credentials(spec.auth)
        return None if creds is None else dataclasses.replace(creds, origin="the config's auth")
    if not spec.discover_logins:
        return None
    return find_login(spec.registry)


def find_login(host: str, environ: Mapping[str, str] | None = None) -> Credentials | None:
    """The first login for `host` in the user's auth files (see `files`), cached for a few minutes."""
    paths = auth_file_paths(environ)
    key = (host.lower(), tuple(_stamp(p) for p in paths))  # a file written since is read again
    now = time.monotonic()
    with _lock:
        cached = _cache.get(key)
    if cached is not None and now - cached[0] < CACHE_SECONDS:
        return cached[1]
    creds = _lookup(host, paths)
    if creds is not None:
        remember_secret(creds.username, creds.password)
        remember_secret(None, creds.identity_token or None)
    log.info("credentials for %s: %s", host, creds.origin if creds else "none found (anonymous)")
    with _lock:
        _cache[key] = (now, creds)
    return creds


def _stamp(path: Path) -> tuple[str, int]:
    try:
        return str(path), path.stat().st_mtime_ns
    except OSError:
        return str(path), 0


def forget_logins() -> None:
    """Drop cached lookups (a test, or a restart of `regmirror run`)."""
    with _lock:
        _cache.clear()


def _lookup(host: str, paths: list[Path]) -> Credentials | None:
    for path in paths:
        auth_file = read_auth_file(path)
        if auth_file is None:
            continue
        for entry in auth_file.entries(host):
            creds = _credentials(entry, host)
            if creds is not None:
                return creds
    return None


def _credentials(entry: FileEntry, host: str) -> Credentials | None:
    where = f"{entry.path} {entry.key}"
    if entry.helper is None:
        if entry.identity_token:
            return Credentials("", "", identity_token=entry.identity_token, origin=where)
        return Credentials(entry.username, entry.password, origin=where)
    answer = ask_helper(entry.helper, helper_server_url(host), where=where)
    if answer is None:
        return None
    origin = f"credential helper docker-credential-{entry.helper} ({where})"
    if answer.is_identity_token:
        return Credentials("", "", identity_token=answer.secret, origin=origin)
    return Credentials(answer.username, answer.secret, origin=origin)
