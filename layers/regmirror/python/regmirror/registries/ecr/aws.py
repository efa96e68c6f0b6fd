"""AWS access for ECR: sessions (the default chain, or STS `AssumeRole` with `role-arn`, renewed before
the assumed credentials expire) and boto3 clients.

Every boto3 client is built by `api_client`, which leaves the endpoint to boto3: `AWS_ENDPOINT_URL`
(and `AWS_ENDPOINT_URL_ECR`, ...) are honoured, which is how the tests reach moto. boto3 is imported by
this package only, and the package only by ECR code paths, so the local CLI never loads it for other hosts.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError

from regmirror.errors import AuthError
from regmirror.logs import remember_secret
from regmirror.registries.spec import RegistrySpec

log = logging.getLogger("regmirror.ecr")

ROLE_SESSION_NAME = "regmirror"
ROLE_RENEW_MARGIN = 300.0  # seconds before an assumed role's credentials expire
MAX_PAGE_SIZE = 1000  # DescribeRepositories / DescribeImages maxResults limit
_BOTO_CONFIG = BotoConfig(
    connect_timeout=10, read_timeout=30, retries={"mode": "standard", "max_attempts": 5}
)

Clock = Callable[[], float]


def aws_error_text(exc: BaseException) -> str:
    """`Code: message` of a botocore error (AWS messages carry no secrets)."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"{error.get('Code', 'Error')}: {error.get('Message', '')}".strip()
    return f"{exc.__class__.__name__}: {str(exc)[:300]}"


def error_code(exc: BaseException) -> str:
    return str(exc.response.get("Error", {}).get("Code", "")) if isinstance(exc, ClientError) else ""


def api_region(rc: RegistrySpec) -> str | None:
    """The region the ECR API is called in: `region` (override) first, else the host's region."""
    return rc.region or rc.ecr_region


def api_repository_name(rc: RegistrySpec, repository: str) -> str:
    """The `repositoryName` the API wants for an image path: public ECR paths start with the
    registry alias (`public.ecr.aws/<alias>/<name>`), which is not part of the name."""
    if rc.is_public_ecr and "/" in repository:
        return repository.split("/", 1)[1]
    return repository


def registry_kwargs(rc: RegistrySpec) -> dict[str, str]:
    return {"registryId": rc.ecr_account} if rc.ecr_account else {}


# -- sessions ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class _AssumedSession:
    session: boto3.Session
    renew_at: float  # time.time() value


class SessionCache:
    """boto3 sessions per (role, region): the default chain, or an assumed role renewed before expiry."""

    def __init__(self, clock: Clock = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._sessions: dict[tuple[str | None, str | None], _AssumedSession] = {}

    def session(self, role_arn: str | None, region: str | None) -> boto3.Session:
        key = (role_arn, region)
        with self._lock:
            entry = self._sessions.get(key)
            if entry is None or entry.renew_at <= self._clock():
                entry = (
                    self._assume(role_arn, region)
                    if role_arn
                    else _AssumedSession(boto3.Session(region_name=region), float("inf"))
                )
                self._sessions[key] = entry
            return entry.session

    def _assume(self, role_arn: str, region: str | None) -> _AssumedSession:
        base = boto3.Session(region_name=region)
        try:
            answer = base.client("sts", config=_BOTO_CONFIG).assume_role(
                RoleArn=role_arn, RoleSessionName=ROLE_SESSION_NAME
            )
        except (BotoCoreError, ClientError) as exc:
            raise AuthError(f"cannot assume role {role_arn}: {aws_error_text(exc)}") from None
        creds = answer["Credentials"]
        remember_secret(None, creds["SecretAccessKey"])
        remember_secret(None, creds["SessionToken"])
        session = boto3.Session(
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"],
            region_name=region,
        )
        expires = epoch(creds.get("Expiration"), self._clock() + 3600.0)
        log.info("assumed role %s (credentials valid until %s)", role_arn, iso(expires))
        return _AssumedSession(session, expires - ROLE_RENEW_MARGIN)

    def clear(self) -> None:
        with self._lock:
            self._sessions.clear()


_sessions = SessionCache()
_client_lock = threading.Lock()


def aws_session(rc: RegistrySpec) -> boto3.Session:
    """The boto3 session for a registry: its `role-arn` assumed when set, in its API region."""
    return _sessions.session(rc.role_arn, api_region(rc))


_clients: dict[tuple[str, str | None, str | None, str | None], tuple[boto3.Session, Any]] = {}


def api_client(rc: RegistrySpec, *, endpoint_url: str | None = None) -> Any:
    """A boto3 `ecr` (or `ecr-public`) client for the registry; `endpoint_url` None lets boto3 decide.

    Reused while its session is current; a renewed assumed-role session gets a new client, so ask
    again rather than keeping a client for hours.
    """
    service = "ecr-public" if rc.is_public_ecr else "ecr"
    session = aws_session(rc)
    key = (service, endpoint_url, rc.role_arn, api_region(rc))
    with _client_lock:  # creating clients from one session is not thread-safe
        cached = _clients.get(key)
        if cached is None or cached[0] is not session:
            cached = (session, session.client(service, endpoint_url=endpoint_url, config=_BOTO_CONFIG))
            _clients[key] = cached
        return cached[1]


def epoch(value: Any, default: float) -> float:
    if isinstance(value, datetime):
        return value.timestamp() if value.tzinfo else value.replace(tzinfo=UTC).timestamp()
    return default


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def reset() -> None:
    """Forget sessions and clients."""
    _sessions.clear()
    with _client_lock:
        _clients.clear()
