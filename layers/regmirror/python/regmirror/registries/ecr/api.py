"""Amazon ECR support: AWS sessions (optional assumed role), registry credentials, target repositories,
and tag digests from the ECR API.

- `aws_session(rc)`: the default credential chain, or STS `AssumeRole` when `role-arn` is set
  (cross-account); assumed credentials are renewed before they expire.
- `credentials_for(rc)`: user `AWS` + the password from `GetAuthorizationToken`, cached and renewed
  before the token expires or when `auth-refresh` has passed (dregsy's setting), whichever is first.
- `ensure_repository(rc, name)`: a missing target repository is created before the copy, with the
  settings of `target.ecr` (tag mutability, scan on push, KMS key, lifecycle policy).
- `EcrTagDigests(rc)`: tags, their digests and media types from one `DescribeImages` listing per
  repository, so the planner needs no HEAD request per tag.

Every boto3 client is built by `api_client`, which leaves the endpoint to boto3: `AWS_ENDPOINT_URL`
(and `AWS_ENDPOINT_URL_ECR`, ...) are honoured, which is how the tests reach moto. boto3 is imported
here only, and this module only by ECR code paths, so the local CLI never loads it for other hosts.
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import boto3
from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError

from regmirror.errors import AuthError, RegistryError
from regmirror.logs import remember_secret
from regmirror.registries.credentials import Credentials
from regmirror.registries.distribution.media import ManifestInfo

log = logging.getLogger("regmirror.ecr")

ECR_USERNAME = "AWS"
ROLE_SESSION_NAME = "regmirror"
ROLE_RENEW_MARGIN = 300.0  # seconds before an assumed role's credentials expire
TOKEN_RENEW_MARGIN = 600.0  # seconds before an ECR token expires
FALLBACK_TOKEN_LIFETIME = 3600.0  # when the token's expiry is unusable (already past: clock skew)
DEFAULT_DIGEST_TTL = 60.0  # seconds a DescribeImages listing is reused (one planning pass)
MAX_PAGE_SIZE = 1000  # DescribeRepositories / DescribeImages maxResults limit
_BOTO_CONFIG = BotoConfig(
    connect_timeout=10, read_timeout=30, retries={"mode": "standard", "max_attempts": 5}
)
# What ECR answers when a push would overwrite a tag of an IMMUTABLE repository.
IMMUTABLE_TAG_ERROR = re.compile(
    r"tag invalid.*already exists.*cannot be overwritten", re.IGNORECASE | re.DOTALL
)

Clock = Callable[[], float]


class EcrRegistrySpec(Protocol):
    """What this module reads from a `RegistryConfig` (source or target)."""

    @property
    def registry(self) -> str: ...

    @property
    def role_arn(self) -> str | None: ...

    @property
    def region(self) -> str | None: ...

    @property
    def auth_refresh(self) -> float | None: ...

    @property
    def is_ecr(self) -> bool: ...

    @property
    def is_public_ecr(self) -> bool: ...

    @property
    def ecr_account(self) -> str | None: ...

    @property
    def ecr_region(self) -> str | None: ...


def is_ecr_registry(rc: Any) -> bool:
    """True for private (`<acct>.dkr.ecr.<region>.amazonaws.com`) and public ECR registries."""
    return bool(getattr(rc, "is_ecr", False) or getattr(rc, "is_public_ecr", False))


def aws_error_text(exc: BaseException) -> str:
    """`Code: message` of a botocore error (AWS messages carry no secrets)."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"{error.get('Code', 'Error')}: {error.get('Message', '')}".strip()
    return f"{exc.__class__.__name__}: {str(exc)[:300]}"


def error_code(exc: BaseException) -> str:
    return str(exc.response.get("Error", {}).get("Code", "")) if isinstance(exc, ClientError) else ""


def api_region(rc: EcrRegistrySpec) -> str | None:
    """The region the ECR API is called in: `region` (override) first, else the host's region."""
    return rc.region or rc.ecr_region


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
        expires = _epoch(creds.get("Expiration"), self._clock() + 3600.0)
        log.info("assumed role %s (credentials valid until %s)", role_arn, _iso(expires))
        return _AssumedSession(session, expires - ROLE_RENEW_MARGIN)

    def clear(self) -> None:
        with self._lock:
            self._sessions.clear()


_sessions = SessionCache()
_client_lock = threading.Lock()


def aws_session(rc: EcrRegistrySpec) -> boto3.Session:
    """The boto3 session for a registry: its `role-arn` assumed when set, in its API region."""
    return _sessions.session(rc.role_arn, api_region(rc))


_clients: dict[tuple[str, str | None, str | None, str | None], tuple[boto3.Session, Any]] = {}


def api_client(rc: EcrRegistrySpec, *, endpoint_url: str | None = None) -> Any:
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


def _epoch(value: Any, default: float) -> float:
    if isinstance(value, datetime):
        return value.timestamp() if value.tzinfo else value.replace(tzinfo=UTC).timestamp()
    return default


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- registry credentials ---------------------------------------------------------------------
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


def _token_data(rc: EcrRegistrySpec, client: Any) -> dict[str, Any]:
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
        self, clock: Clock = time.time, client_for: Callable[[EcrRegistrySpec], Any] = api_client
    ) -> None:
        self._clock = clock
        self._client_for = client_for
        self._lock = threading.Lock()
        self._tokens: dict[tuple[Any, ...], _Token] = {}
        self.fetches = 0  # GetAuthorizationToken calls made (for logs and tests)

    @staticmethod
    def _key(rc: EcrRegistrySpec) -> tuple[Any, ...]:
        return (rc.registry, rc.ecr_account, rc.role_arn, api_region(rc), rc.auth_refresh)

    def credentials(self, rc: EcrRegistrySpec) -> Credentials:
        key = self._key(rc)
        with self._lock:
            token = self._tokens.get(key)
            if token is None or token.renew_at <= self._clock():
                token = self._fetch(rc)
                self._tokens[key] = token
            return token.credentials

    def _fetch(self, rc: EcrRegistrySpec) -> _Token:
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
        renew_at = self._renew_at(rc, now, _epoch(data.get("expiresAt"), now))
        log.info("%s: ECR authorization token renewed; next renewal at %s", rc.registry, _iso(renew_at))
        return _Token(credentials, renew_at)

    def _renew_at(self, rc: EcrRegistrySpec, now: float, expires: float) -> float:
        if expires - TOKEN_RENEW_MARGIN > now:
            renew_at = expires - TOKEN_RENEW_MARGIN
        else:
            log.warning(
                "%s: ECR token expiry %s is not in the future (clock skew?); renewing in %ds",
                rc.registry,
                _iso(expires),
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


def credentials_for(rc: EcrRegistrySpec) -> Credentials:
    """Registry API credentials for an ECR registry (user `AWS`), cached and renewed as needed."""
    return _tokens.credentials(rc)


# -- target repositories ----------------------------------------------------------------------
class RepositorySettings(Protocol):
    """`target.ecr` of the config (`EcrRepositorySettings`)."""

    @property
    def tag_mutability(self) -> str: ...

    @property
    def scan_on_push(self) -> bool: ...

    @property
    def kms_key(self) -> str | None: ...

    @property
    def lifecycle_policy(self) -> str | None: ...


@dataclass(frozen=True)
class EcrRepository:
    name: str
    uri: str
    tag_mutability: str  # "MUTABLE" or "IMMUTABLE" ("MUTABLE" for public ECR)
    created: bool  # created by this call

    @property
    def immutable(self) -> bool:
        return self.tag_mutability.upper().startswith("IMMUTABLE")


def api_repository_name(rc: EcrRegistrySpec, repository: str) -> str:
    """The `repositoryName` the API wants for an image path: public ECR paths start with the
    registry alias (`public.ecr.aws/<alias>/<name>`), which is not part of the name."""
    if rc.is_public_ecr and "/" in repository:
        return repository.split("/", 1)[1]
    return repository


def _registry_kwargs(rc: EcrRegistrySpec) -> dict[str, str]:
    return {"registryId": rc.ecr_account} if rc.ecr_account else {}


def _from_description(entry: dict[str, Any], created: bool) -> EcrRepository:
    return EcrRepository(
        name=str(entry.get("repositoryName", "")),
        uri=str(entry.get("repositoryUri", "")),
        tag_mutability=str(entry.get("imageTagMutability", "MUTABLE")),
        created=created,
    )


def create_arguments(
    rc: EcrRegistrySpec, repository: str, settings: RepositorySettings | None
) -> dict[str, Any]:
    """`CreateRepository` arguments for a private ECR repository with the configured settings."""
    kwargs: dict[str, Any] = {"repositoryName": repository, **_registry_kwargs(rc)}
    if rc.is_public_ecr or settings is None:
        return kwargs
    kwargs["imageTagMutability"] = settings.tag_mutability
    kwargs["imageScanningConfiguration"] = {"scanOnPush": settings.scan_on_push}
    if settings.kms_key:
        kwargs["encryptionConfiguration"] = {"encryptionType": "KMS", "kmsKey": settings.kms_key}
    return kwargs


class RepositoryEnsurer:
    """Creates missing target repositories once; remembers the ones known to exist."""

    def __init__(self, client_for: Callable[[EcrRegistrySpec], Any] = api_client) -> None:
        self._client_for = client_for
        self._lock = threading.Lock()
        self._known: dict[tuple[str, str | None, str], EcrRepository] = {}

    def ensure(self, rc: EcrRegistrySpec, repository: str) -> EcrRepository:
        """`repository` is the image path on the registry (for public ECR: `<alias>/<name>`)."""
        key = (rc.registry, rc.ecr_account, repository)
        with self._lock:
            known = self._known.get(key)
        if known is not None:
            return known
        client = self._client_for(rc)
        name = api_repository_name(rc, repository)
        try:
            found = self._describe(client, rc, name) or self._create(client, rc, name)
        except (BotoCoreError, ClientError) as exc:
            raise RegistryError(
                f"{rc.registry}: cannot create ECR repository {repository}: {aws_error_text(exc)}",
                registry=rc.registry,
            ) from None
        with self._lock:
            self._known[key] = found
        return found

    @staticmethod
    def _describe(client: Any, rc: EcrRegistrySpec, repository: str) -> EcrRepository | None:
        try:
            answer = client.describe_repositories(repositoryNames=[repository], **_registry_kwargs(rc))
        except ClientError as exc:
            if error_code(exc) == "RepositoryNotFoundException":
                return None
            raise
        entries = answer.get("repositories") or []
        return _from_description(entries[0], created=False) if entries else None

    def _create(self, client: Any, rc: EcrRegistrySpec, repository: str) -> EcrRepository:
        settings: RepositorySettings | None = getattr(rc, "ecr", None)
        try:
            answer = client.create_repository(**create_arguments(rc, repository, settings))
        except ClientError as exc:
            if error_code(exc) != "RepositoryAlreadyExistsException":
                raise
            return self._describe(client, rc, repository) or EcrRepository(repository, "", "MUTABLE", False)
        created = _from_description(answer["repository"], created=True)
        if settings is not None and settings.lifecycle_policy and not rc.is_public_ecr:
            client.put_lifecycle_policy(
                repositoryName=repository,
                lifecyclePolicyText=settings.lifecycle_policy,
                **_registry_kwargs(rc),
            )
        log.info(
            "%s: created ECR repository %s (tags %s)", rc.registry, repository, created.tag_mutability.lower()
        )
        return created

    def forget(self, rc: EcrRegistrySpec, repository: str) -> None:
        with self._lock:
            self._known.pop((rc.registry, rc.ecr_account, repository), None)

    def clear(self) -> None:
        with self._lock:
            self._known.clear()


_repositories = RepositoryEnsurer()


def ensure_repository(rc: EcrRegistrySpec, repository: str) -> EcrRepository:
    """The target repository, created with the settings of `target.ecr` when it does not exist."""
    return _repositories.ensure(rc, repository)


# -- tags and digests -------------------------------------------------------------------------
@dataclass(frozen=True)
class ImageListing:
    """One repository's images: tag → digest, and digest → (media type, size in bytes)."""

    tags: dict[str, str]
    images: dict[str, tuple[str, int]]


def _image_details(
    client: Any, rc: EcrRegistrySpec, repository: str, page_size: int
) -> Iterator[dict[str, Any]]:
    paginator = client.get_paginator("describe_images")
    pages = paginator.paginate(
        repositoryName=repository, PaginationConfig={"PageSize": page_size}, **_registry_kwargs(rc)
    )
    for page in pages:
        yield from page.get("imageDetails") or []


def _listing(details: Iterator[dict[str, Any]]) -> ImageListing:
    tags: dict[str, str] = {}
    images: dict[str, tuple[str, int]] = {}
    for detail in details:
        digest = str(detail.get("imageDigest", ""))
        if not digest:
            continue
        images[digest] = (
            str(detail.get("imageManifestMediaType", "")),
            int(detail.get("imageSizeInBytes", -1)),
        )
        for tag in detail.get("imageTags") or []:
            tags[str(tag)] = digest
    return ImageListing(tags, images)


class EcrTagDigests:
    """Tags and digests of ECR repositories from `DescribeImages` (one paginated listing per repository).

    Implements what the planner asks of a source or target (`list_tags`, `head_manifest`) plus
    `tag_digests`, without a registry API request per tag. A listing is reused for `ttl` seconds;
    `forget(repository)` drops it (e.g. after a copy into that repository).
    """

    def __init__(
        self,
        rc: EcrRegistrySpec,
        *,
        ttl: float = DEFAULT_DIGEST_TTL,
        page_size: int = MAX_PAGE_SIZE,
        client: Any = None,
        clock: Clock = time.monotonic,
    ) -> None:
        self.rc = rc
        self.registry = rc.registry
        self._ttl = ttl
        self._page_size = max(1, min(page_size, MAX_PAGE_SIZE))
        self._client = client
        self._clock = clock
        self._lock = threading.Lock()
        self._listings: dict[str, tuple[ImageListing | None, float]] = {}  # repository -> (listing, taken at)
        self.describe_calls = 0  # listings fetched (not pages)

    def __repr__(self) -> str:
        return f"EcrTagDigests({self.registry!r})"

    def _api(self) -> Any:
        return self._client if self._client is not None else api_client(self.rc)

    def listing(self, repository: str) -> ImageListing | None:
        """The repository's images; None when the repository does not exist."""
        with self._lock:
            cached = self._listings.get(repository)
        if cached is not None and cached[1] + self._ttl > self._clock():
            return cached[0]
        taken_at = self._clock()
        fresh = self._fetch(repository)
        with self._lock:
            self._listings[repository] = (fresh, taken_at)
        return fresh

    def _fetch(self, repository: str) -> ImageListing | None:
        self.describe_calls += 1
        try:
            name = api_repository_name(self.rc, repository)
            return _listing(_image_details(self._api(), self.rc, name, self._page_size))
        except ClientError as exc:
            if error_code(exc) == "RepositoryNotFoundException":
                return None
            raise self._error(repository, exc) from None
        except BotoCoreError as exc:
            raise self._error(repository, exc) from None

    def _error(self, repository: str, exc: BaseException) -> RegistryError:
        return RegistryError(
            f"{self.registry}: DescribeImages on {repository} failed: {aws_error_text(exc)}",
            registry=self.registry,
        )

    def tag_digests(self, repository: str) -> dict[str, str] | None:
        """tag → manifest digest; None when the repository does not exist."""
        found = self.listing(repository)
        return dict(found.tags) if found is not None else None

    def list_tags(self, repository: str) -> list[str]:
        found = self.listing(repository)
        if found is None:
            raise RegistryError(
                f"{self.registry}: repository {repository} does not exist", status=404, registry=self.registry
            )
        return sorted(found.tags)

    def head_manifest(self, repository: str, reference: str) -> ManifestInfo | None:
        """Digest and media type of a tag or digest, as a registry HEAD would give; None when absent."""
        found = self.listing(repository)
        if found is None:
            return None
        digest = reference if reference.startswith("sha256:") else found.tags.get(reference)
        if digest is None or digest not in found.images:
            return None
        media_type, _image_size = found.images[digest]
        return ManifestInfo(digest, media_type, -1)  # DescribeImages gives the image size, not the manifest's

    def forget(self, repository: str) -> None:
        with self._lock:
            self._listings.pop(repository, None)


def immutable_tag_in_sync(rc: EcrRegistrySpec, repository: str, tag: str, digest: str) -> bool:
    """True when `repository` has immutable tags and `tag` already points at `digest`: a refused push
    of the same image then means "in sync", not "failed"."""
    if not ensure_repository(rc, repository).immutable:
        return False
    digests = EcrTagDigests(rc, ttl=0).tag_digests(repository) or {}
    return digests.get(tag) == digest


def reset_caches() -> None:
    """Forget sessions, tokens and known repositories (tests; a config reload)."""
    _sessions.clear()
    _tokens.clear()
    _repositories.clear()
    with _client_lock:
        _clients.clear()
