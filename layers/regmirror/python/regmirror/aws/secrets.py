"""`auth: secretsmanager:<name or ARN>` on Lambda: read through Powertools Parameters, cached.

The secret's string is any form an `auth` value accepts (base64 of the JSON or of user:pass, plain
JSON `{"username": ..., "password": ...}`, plain `user:pass`); `regmirror.registries.credentials` parses it.
Cached for `max_age` seconds per container, so a relay copying many images reads each secret once,
and a rotated secret is picked up within that time.
"""

from __future__ import annotations

import os

from regmirror.aws import names
from regmirror.extras import load
from regmirror.registries.credentials import SECRETS_MANAGER_SCHEME, register_resolver


def secret_max_age() -> int:
    raw = os.environ.get(names.ENV_SECRET_MAX_AGE, "")
    return int(raw) if raw.isdigit() else names.DEFAULT_SECRET_MAX_AGE


def read_secret(secret_id: str, max_age: int | None = None) -> str:
    """The SecretString of a secret (binary secrets are decoded as UTF-8)."""
    parameters = load("aws_lambda_powertools.utilities.parameters", "`auth: secretsmanager:`")
    value = parameters.get_secret(secret_id, max_age=secret_max_age() if max_age is None else max_age)
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if not isinstance(value, str):
        raise TypeError(f"secret {secret_id} is not a string")
    return value


def register_secrets_manager_resolver() -> None:
    """Make `secretsmanager:` auth specs resolvable in this process (idempotent)."""
    register_resolver(SECRETS_MANAGER_SCHEME, read_secret)
