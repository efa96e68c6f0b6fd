"""Turn an `auth` spec from the config into a username and password.

Accepted specs (dregsy's plus references, so secrets need not sit in the file):

- absent, empty or the literal ``none``: no credentials (dregsy: ``none`` disables auth);
- base64 of ``{"username": "...", "password": "..."}`` or of ``user:pass`` (dregsy's forms);
- ``env:VARNAME``: the variable holds one of the forms above, or plain ``user:pass``, or plain JSON;
- ``secretsmanager:<secret-id>`` (or any scheme given to `register_resolver`): the resolver returns a
  string in one of the forms the ``env:`` value accepts.

References are resolved when the credentials are needed (`resolve_credentials`); at config load time
`check_auth_spec` validates static values and the syntax of references. No error message ever carries
a secret: they name the field, the variable or the secret id, never the value.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from regmirror.errors import AuthError, SecretUnavailable

ENV_SCHEME = "env"
SECRETS_MANAGER_SCHEME = "secretsmanager"

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SCHEME = re.compile(r"([a-z][a-z0-9_-]*):(.*)", re.DOTALL)
_FORMS = 'base64 of {"username": "...", "password": "..."} or of user:pass'

_resolvers: dict[str, Callable[[str], str]] = {}


@dataclass(frozen=True)
class Credentials:
    """A username and password; the password never shows in `repr()`/`str()`."""

    username: str
    password: str = field(repr=False)
    identity_token: str = field(
        default="", repr=False
    )  # an OAuth2 refresh token (`docker login` with a token)
    origin: str = field(default="", compare=False)  # where they came from (a file and key, never the secret)

    def __repr__(self) -> str:
        return f"Credentials(username={self.username!r}, password='***')"

    __str__ = __repr__


def register_resolver(scheme: str, fn: Callable[[str], str]) -> None:
    """Let `<scheme>:<reference>` auth specs be resolved by `fn(reference) -> secret text`."""
    if not re.fullmatch(r"[a-z][a-z0-9_-]*", scheme) or scheme == ENV_SCHEME:
        raise ValueError(f"invalid auth scheme name: {scheme!r}")
    _resolvers[scheme] = fn


def unregister_resolver(scheme: str) -> None:
    _resolvers.pop(scheme, None)


def known_schemes() -> list[str]:
    return sorted({ENV_SCHEME, SECRETS_MANAGER_SCHEME, *_resolvers})


def _is_disabled(spec: str) -> bool:
    return spec == "" or spec == "none"


def _split_reference(spec: str) -> tuple[str, str] | None:
    """`env:X` → ("env", "X"); None when the spec is not a reference (base64 has no ':')."""
    found = _SCHEME.fullmatch(spec)
    if found is None or found.group(1) not in known_schemes():
        return None
    return found.group(1), found.group(2).strip()


def _unknown_scheme_message(spec: str, field_name: str) -> str:
    """Message for a spec with ':' that is no known reference; never repeats the spec (it may be a secret)."""
    import difflib  # only needed on the error path; keeps cold start short

    scheme = spec.split(":", 1)[0].strip().lower()
    close = difflib.get_close_matches(scheme, known_schemes(), n=1, cutoff=0.75)
    hint = f" (did you mean '{close[0]}:'?)" if close else ""
    return (
        f"{field_name}: not a supported auth value{hint}; expected {_FORMS}, 'none', "
        "env:VARNAME or secretsmanager:<secret-id> (plain user:pass is accepted only from env:VARNAME)"
    )


def _b64decode(text: str) -> bytes | None:
    compact = "".join(text.split())
    compact += "=" * (-len(compact) % 4)  # tolerate missing padding
    try:
        return base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        return None


def _from_json(text: str, field_name: str) -> Credentials:
    try:
        data = json.loads(text)
    except ValueError:
        raise AuthError(f"{field_name}: credentials JSON is malformed") from None
    if not isinstance(data, dict):
        raise AuthError(f"{field_name}: credentials JSON must be an object with username and password")
    username, password = data.get("username"), data.get("password")
    if not isinstance(username, str) or not username:
        raise AuthError(f"{field_name}: credentials JSON has no 'username' string")
    if not isinstance(password, str):
        raise AuthError(f"{field_name}: credentials JSON has no 'password' string")
    return Credentials(username, password)


def _from_user_pass(text: str, field_name: str) -> Credentials:
    username, sep, password = text.strip().partition(":")
    if not sep or not username or "\n" in text.strip():
        raise AuthError(f"{field_name}: expected user:pass")
    return Credentials(username, password)


def _from_plain_text(text: str, field_name: str) -> Credentials:
    """Decoded text: JSON when it looks like JSON, else `user:pass`."""
    if text.lstrip().startswith("{"):
        return _from_json(text, field_name)
    return _from_user_pass(text, field_name)


def _from_base64(spec: str, field_name: str) -> Credentials:
    raw = _b64decode(spec)
    if raw is None:
        raise AuthError(f"{field_name}: not valid base64; expected {_FORMS}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise AuthError(f"{field_name}: base64 does not decode to text; expected {_FORMS}") from None
    try:
        return _from_plain_text(text, field_name)
    except AuthError:
        raise AuthError(f"{field_name}: base64 decodes to neither credentials JSON nor user:pass") from None


def _from_secret_text(text: str, field_name: str) -> Credentials | None:
    """Value of a variable or secret: 'none', plain JSON, plain user:pass, or dregsy's base64 forms."""
    value = text.strip()
    if value == "none":
        return None
    if not value:
        raise AuthError(f"{field_name}: the referenced value is empty")
    if _split_reference(value) is not None:
        raise AuthError(f"{field_name}: a referenced value cannot itself be a reference")
    if value.startswith("{") or ":" in value:
        return _from_plain_text(value, field_name)
    return _from_base64(value, field_name)


def _check_reference(scheme: str, reference: str, field_name: str) -> None:
    if scheme == ENV_SCHEME and not _ENV_NAME.fullmatch(reference):
        raise AuthError(
            f"{field_name}: env: needs a variable name (letters, digits, '_'), e.g. env:REGISTRY_AUTH"
        )
    if not reference:
        raise AuthError(f"{field_name}: {scheme}: needs a secret id, e.g. {scheme}:my-registry-auth")


def check_auth_spec(auth: str | None, *, field: str = "auth") -> None:
    """Validate an auth spec without resolving references; raises AuthError with a secret-free message."""
    spec = (auth or "").strip()
    if _is_disabled(spec):
        return
    reference = _split_reference(spec)
    if reference is not None:
        _check_reference(*reference, field)
    elif ":" in spec:
        raise AuthError(_unknown_scheme_message(spec, field))
    else:
        _from_base64(spec, field)


def _resolve_env(name: str, field_name: str) -> Credentials | None:
    value = os.environ.get(name)
    if value is None:
        raise SecretUnavailable(f"{field_name}: environment variable {name} is not set")
    return _from_secret_text(value, f"{field_name} (env:{name})")


def _resolve_registered(scheme: str, reference: str, field_name: str) -> Credentials | None:
    resolver = _resolvers.get(scheme)
    if resolver is None:
        raise AuthError(f"{field_name}: no resolver is registered for '{scheme}:' references")
    try:
        secret = resolver(reference)
    except AuthError:
        raise
    except Exception as exc:  # the resolver's own error type (e.g. botocore): it failed, so holds no secret
        raise AuthError(f"{field_name}: could not read {scheme}:{reference}: {exc}") from None
    return _from_secret_text(secret, f"{field_name} ({scheme}:{reference})")


def resolve_credentials(auth: str | None, *, field: str = "auth") -> Credentials | None:
    """Credentials for an auth spec, or None for anonymous access; raises AuthError without secrets."""
    spec = (auth or "").strip()
    if _is_disabled(spec):
        return None
    reference = _split_reference(spec)
    if reference is None:
        check_auth_spec(spec, field=field)
        return _from_base64(spec, field)
    scheme, name = reference
    _check_reference(scheme, name, field)
    if scheme == ENV_SCHEME:
        return _resolve_env(name, field)
    return _resolve_registered(scheme, name, field)
