"""ECR registry credentials: user `AWS` + the password from `GetAuthorizationToken`, cached and renewed
before the token expires or when `auth-refresh` has passed (dregsy's setting), whichever is first.
"""

from __future__ import annotations

import base64
import binascii
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from regmirror.errors import AuthError
from regmirror.logs import remember_secret
from regmirror.registries.credentials import Credentials
from regmirror.registries.ecr.aws import (
    Clock,
    api_client,
    api_region,
    aws_error_text,
    epoch,
    iso,
)
from regmirror.registries.spec import RegistrySpec

log = logging.getLogger("regmirror.ecr")

ECR_USERNAME = "AWS"
TOKEN_RENEW_MARGIN = 600.0  # seconds before an ECR token expires
FALLBACK_TOKEN_LIFETIME = 3600.0  # when the token's expiry is unusable (already past: clock skew)


@dataclass(frozen=True)
class _Token:
    credentials: Credentials
    renew_at: float


def decode_authorization_token(token: str, registry: str) -> Credentials:
    """`AWS:<password>` from the base64 `authorizationToken`."""
    try:
        user, sep, password = base64.b64decode(token, validate=True).decode("utf-8").partition(":")
    except (binascii.Error, ValueError):
        raise AuthError(f"{registry}: ECR authorization token is not base64 user:password") from None
    if not sep or not user:
        raise AuthError(f"{registry}: ECR authorization token is not user:password")
    return Credentials(user, password)


def _token_data(rc: RegistrySpec, client: Any) -> dict[str, Any]:
    if rc.is_public_ecr:
        data: dict[str, Any] = client.get_authorization_token()["authorizationData"]
        return data
    kwargs = {"registryIds": [rc.ecr_account]} if rc.ecr_account else {}
    entries = client.get_authorization_token(**kwargs)["authorizationData"]
    if not entries:
        raise AuthError(f"{rc.registry}: GetAuthorizationToken returned no authorization data")
    first: dict[str, Any] = entries[0]
    return first


class EcrTokenCache:
    """Registry credentials per ECR registry, renewed before expiry and after `auth-refresh`."""

    def __init__(
        self, clock: Clock = time.time, client_for: Callable[[RegistrySpec], Any] = api_client
    ) -> None:
        self._clock = clock
        self._client_for = client_for
        self._lock = threading.Lock()
        self._tokens: dict[tuple[Any, ...], _Token] = {}
        self.fetches = 0  # GetAuthorizationToken calls made (for logs and tests)

    @staticmethod
    def _key(rc: RegistrySpec) -> tuple[Any, ...]:
        return (rc.registry, rc.ecr_account, rc.role_arn, api_region(rc), rc.auth_refresh)

    def credentials(self, rc: RegistrySpec) -> Credentials:
        key = self._key(rc)
        with self._lock:
            token = self._tokens.get(key)
            if token is None or token.renew_at <= self._clock():
                token = self._fetch(rc)
                self._tokens[key] = token
            return token.credentials

    def _fetch(self, rc: RegistrySpec) -> _Token:
        now = self._clock()
        try:
            data = _token_data(rc, self._client_for(rc))
        except (BotoCoreError, ClientError) as exc:
            raise AuthError(
                f"{rc.registry}: cannot get an ECR authorization token: {aws_error_text(exc)}",
                registry=rc.registry,
            ) from None
        self.fetches += 1
        credentials = decode_authorization_token(str(data.get("authorizationToken", "")), rc.registry)
        remember_secret(credentials.username, credentials.password)
        renew_at = self._renew_at(rc, now, epoch(data.get("expiresAt"), now))
        log.info("%s: ECR authorization token renewed; next renewal at %s", rc.registry, iso(renew_at))
        return _Token(credentials, renew_at)

    def _renew_at(self, rc: RegistrySpec, now: float, expires: float) -> float:
        if expires - TOKEN_RENEW_MARGIN > now:
            renew_at = expires - TOKEN_RENEW_MARGIN
        else:
            log.warning(
                "%s: ECR token expiry %s is not in the future (clock skew?); renewing in %ds",
                rc.registry,
                iso(expires),
                int(FALLBACK_TOKEN_LIFETIME),
            )
            renew_at = now + FALLBACK_TOKEN_LIFETIME
        if rc.auth_refresh:
            renew_at = min(renew_at, now + rc.auth_refresh)
        return renew_at

    def clear(self) -> None:
        with self._lock:
            self._tokens.clear()


_tokens = EcrTokenCache()


def credentials_for(rc: RegistrySpec) -> Credentials:
    """Registry API credentials for an ECR registry (user `AWS`), cached and renewed as needed."""
    return _tokens.credentials(rc)


def reset() -> None:
    """Forget registry tokens."""
    _tokens.clear()
