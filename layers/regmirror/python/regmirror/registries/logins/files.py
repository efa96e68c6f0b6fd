"""Where `docker login` / `podman login` / `skopeo login` leave credentials, and how to read them.

The files, in the order containers/image (skopeo, podman) reads them, the first that knows the host
winning: `$REGISTRY_AUTH_FILE` if set, else `$XDG_RUNTIME_DIR/containers/auth.json`; then
`$XDG_CONFIG_HOME/containers/auth.json` (`~/.config/…`); then `$DOCKER_CONFIG/config.json` (else
`~/.docker/config.json`). Within a file, as the docker CLI decides: `credHelpers[host]`, then
`credsStore`, then `auths[host]` (`auth`: base64 of `user:pass`; `identitytoken`). Keys are matched by
host: `https://index.docker.io/v1/` and `docker.io` both name Docker Hub; keys naming a repository
namespace (`quay.io/team`) are not used (regmirror logs in once per registry).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from regmirror.errors import AuthError
from regmirror.registries.dockerhub.hosts import is_docker_hub

MAX_FILE_BYTES = 1 << 20
DOCKER_HUB_KEYS = ("docker.io", "index.docker.io", "https://index.docker.io/v1/", "registry-1.docker.io")
DOCKER_HUB_HELPER_URL = "https://index.docker.io/v1/"  # what docker asks its helpers for Docker Hub


def auth_file_paths(environ: Mapping[str, str] | None = None) -> list[Path]:
    """The auth files to read, in order (whether they exist or not)."""
    env = os.environ if environ is None else environ
    home = Path(env.get("HOME") or Path.home())
    paths: list[Path] = []
    if env.get("REGISTRY_AUTH_FILE"):
        paths.append(Path(env["REGISTRY_AUTH_FILE"]))
    elif env.get("XDG_RUNTIME_DIR"):
        paths.append(Path(env["XDG_RUNTIME_DIR"]) / "containers" / "auth.json")
    paths.append(Path(env.get("XDG_CONFIG_HOME") or home / ".config") / "containers" / "auth.json")
    docker_dir = Path(env["DOCKER_CONFIG"]) if env.get("DOCKER_CONFIG") else home / ".docker"
    paths.append(docker_dir / "config.json")
    return paths


def lookup_keys(host: str) -> list[str]:
    """The keys a file may hold `host` under."""
    return list(DOCKER_HUB_KEYS) if is_docker_hub(host) else [host, f"https://{host}", f"http://{host}"]


def helper_server_url(host: str) -> str:
    """The server URL a credential helper is asked for (docker's convention)."""
    return DOCKER_HUB_HELPER_URL if is_docker_hub(host) else host


def _key_host(key: str) -> str:
    """`https://host/v1/` → `host`; `host` stays; `host/ns` keeps its path (a namespace key)."""
    if "://" in key:
        parts = urlsplit(key)
        path = parts.path.strip("/")
        return parts.netloc if path in ("", "v1", "v2") else f"{parts.netloc}/{path}"
    return key.rstrip("/")


@dataclass(frozen=True, slots=True)
class FileEntry:
    """What one auth file says about one host: a helper to ask, or stored credentials."""

    path: Path
    key: str  # where in the file: `auths['…']`, `credHelpers['…']`, `credsStore`
    helper: str | None = None  # docker-credential-<helper>
    username: str = ""
    password: str = field(default="", repr=False)
    identity_token: str = field(default="", repr=False)


@dataclass(frozen=True, slots=True)
class AuthFile:
    path: Path
    auths: dict[str, dict[str, Any]]
    cred_helpers: dict[str, str]
    creds_store: str | None

    def entries(self, host: str) -> list[FileEntry]:
        """The file's answers for `host`, to try in order: its helper (`credHelpers`, else `credsStore`),
        then what `auths` stores (used when the helper has nothing for the host)."""
        keys = lookup_keys(host)
        return [e for e in (self._helper(keys), self._saved(keys)) if e is not None]

    def _helper(self, keys: list[str]) -> FileEntry | None:
        helpers = {_key_host(k): v for k, v in self.cred_helpers.items()}
        key = next((k for k in keys if helpers.get(_key_host(k))), None)
        if key is not None:
            return FileEntry(self.path, f"credHelpers['{key}']", helper=helpers[_key_host(key)])
        return FileEntry(self.path, "credsStore", helper=self.creds_store) if self.creds_store else None

    def _saved(self, keys: list[str]) -> FileEntry | None:
        auths = {_key_host(k): (k, v) for k, v in self.auths.items()}
        stored = next((auths[_key_host(k)] for k in keys if _key_host(k) in auths), None)
        return _stored(self.path, *stored) if stored is not None else None


def _stored(path: Path, key: str, value: dict[str, Any]) -> FileEntry | None:
    where = f"auths['{key}']"
    token = value.get("identitytoken")
    if isinstance(token, str) and token:
        return FileEntry(path, where, identity_token=token)
    encoded = value.get("auth")
    if not encoded:
        return None  # an empty entry (docker writes one when a helper holds the secret)
    if not isinstance(encoded, str):
        raise AuthError(f"{path}: {where}.auth is not a string")
    try:
        text = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        raise AuthError(f"{path}: {where}.auth is not base64 of user:password") from None
    username, sep, password = text.partition(":")
    if not sep or not username:
        raise AuthError(f"{path}: {where}.auth does not decode to user:password")
    return FileEntry(path, where, username=username, password=password)


def read_auth_file(path: Path) -> AuthFile | None:
    """The file's `auths`, `credHelpers` and `credsStore`; None when it does not exist; AuthError
    naming the file when it cannot be read or is not such a file."""
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise AuthError(f"{path}: cannot read it: {exc.strerror or exc}") from None
    if len(raw) > MAX_FILE_BYTES:
        raise AuthError(f"{path}: larger than {MAX_FILE_BYTES} bytes; not an auth file")
    if not raw.strip():
        return AuthFile(path, {}, {}, None)  # docker and podman treat an empty file as no logins
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise AuthError(
            f"{path}: not valid JSON ({exc}); fix or remove it, or set auth: for the registry"
        ) from None
    return _auth_file(path, data)


def _auth_file(path: Path, data: Any) -> AuthFile:
    if not isinstance(data, dict):
        raise AuthError(f"{path}: expected a JSON object with 'auths'")
    auths = _mapping_of(path, data, "auths", dict, "'auths' must map registry names to objects")
    helpers = _mapping_of(
        path, data, "credHelpers", str, "'credHelpers' must map registry names to helper names"
    )
    store = data.get("credsStore")
    if store is not None and not isinstance(store, str):
        raise AuthError(f"{path}: 'credsStore' must be a helper name")
    return AuthFile(path, auths, helpers, store or None)


def _mapping_of(path: Path, data: dict[str, Any], key: str, kind: type, problem: str) -> dict[str, Any]:
    value = data.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(v, kind) for v in value.values()):
        raise AuthError(f"{path}: {problem}")
    return value
