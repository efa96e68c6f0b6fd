"""docker-credential-helpers protocol: `docker-credential-<name> get` reads the server URL on stdin and
prints `{"ServerURL", "Username", "Secret"}`; a username of `<token>` means the secret is an identity
token. "credentials not found" is no error: the helper has nothing for that registry."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass, field

from regmirror.errors import AuthError

HELPER_TIMEOUT_SECONDS = 10.0
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_NOT_FOUND = ("credentials not found", "no credentials", "not found in native keychain")
IDENTITY_TOKEN_USER = "<token>"  # noqa: S105 - docker's marker, not a secret


@dataclass(frozen=True, slots=True)
class HelperAnswer:
    username: str
    secret: str = field(repr=False)

    @property
    def is_identity_token(self) -> bool:
        return self.username == IDENTITY_TOKEN_USER


def ask_helper(
    name: str, server_url: str, *, where: str, timeout: float | None = None
) -> HelperAnswer | None:
    """The helper's credentials for `server_url`, None when it has none; AuthError (naming the helper
    and `where` it was configured, never a secret) when it is missing, fails, hangs or answers garbage."""
    timeout = HELPER_TIMEOUT_SECONDS if timeout is None else timeout
    program = f"docker-credential-{name}"
    if not _NAME.fullmatch(name):
        raise AuthError(f"{where}: {name!r} is not a credential helper name")
    path = shutil.which(program)
    if path is None:
        raise AuthError(f"{where}: credential helper {program} is not on PATH")
    try:
        done = subprocess.run(
            [path, "get"], input=server_url, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        raise AuthError(f"{where}: credential helper {program} did not answer within {timeout:g} s") from None
    except OSError as exc:
        raise AuthError(
            f"{where}: credential helper {program} could not run: {exc.strerror or exc}"
        ) from None
    if done.returncode != 0:
        said = " ".join((done.stdout + " " + done.stderr).split())
        if any(marker in said.lower() for marker in _NOT_FOUND):
            return None
        raise AuthError(f"{where}: credential helper {program} failed (exit {done.returncode}): {said[:200]}")
    return _answer(done.stdout, program, where)


def _answer(text: str, program: str, where: str) -> HelperAnswer:
    try:
        data = json.loads(text)
    except ValueError:
        raise AuthError(f"{where}: credential helper {program} printed no JSON") from None
    username, secret = (data.get("Username"), data.get("Secret")) if isinstance(data, dict) else (None, None)
    if not isinstance(username, str) or not isinstance(secret, str) or not secret:
        raise AuthError(f"{where}: credential helper {program} answered without Username and Secret")
    return HelperAnswer(username, secret)
