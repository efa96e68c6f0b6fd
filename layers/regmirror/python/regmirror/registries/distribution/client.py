"""Registry HTTP API v2 client: ping, catalog, tags, manifest HEAD/GET/PUT, blob mounts, referrers, over
the one HTTP stack.

The stack (registries/http/) does transport, auth and paging; this module is the API calls. Names coming
from a registry are validated before anyone else sees them. Each API operation (one page, one HEAD, one
GET) is retried as a whole by the client's `retry.RetryPolicy` (5xx, 429, resets, timeouts, truncated
bodies), and every answer's `RateLimit-*` headers feed the registry's budget (`ratelimit`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import requests

from regmirror.errors import RegistryError, RegistryResponseError
from regmirror.registries.distribution import catalog as catalog_api
from regmirror.registries.distribution.media import (
    MANIFEST_ACCEPT,
    ManifestInfo,
    content_type,
    embedded_media_type,
    sha256_digest,
)
from regmirror.registries.distribution.names import string_list, valid_names
from regmirror.registries.distribution.operations import repository_scope, retried
from regmirror.registries.distribution.push_api import PushApi
from regmirror.registries.distribution.referrers_api import ReferrersApi
from regmirror.registries.distribution.session import RegistrySession
from regmirror.registries.endpoint import Endpoint
from regmirror.registries.http.body import parse_json, read_capped
from regmirror.registries.http.breaker import Breakers
from regmirror.registries.http.links import Loop, OtherHost, next_page, parse_link_next
from regmirror.registries.http.session import USER_AGENT
from regmirror.registries.http.transport import TimedOut
from regmirror.registries.paging import PagingLimits
from regmirror.registries.ratelimit import RateLimits
from regmirror.retry import RetryPolicy, retry_after_seconds
from regmirror.rules import refs

if TYPE_CHECKING:
    from regmirror.registries.credentials import Credentials

log = logging.getLogger("regmirror.registry")

MAX_LIST_BYTES = 64 * 1024 * 1024  # one catalog or tags page
MAX_MANIFEST_BYTES = 16 * 1024 * 1024


class RegistryClient(ReferrersApi, PushApi):
    """Client of one registry. Thread-safe: share one instance between the workers of a run."""

    def __init__(
        self,
        endpoint: Endpoint,
        credentials: Credentials | None = None,
        *,
        timeout: float = 30.0,
        user_agent: str = USER_AGENT,
        pool_size: int = 32,
        retry: RetryPolicy | None = None,
        rate_limits: RateLimits | None = None,
        breakers: Breakers | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.breakers = breakers or Breakers()  # a run's clients share theirs (Registries)
        self.registry = endpoint.host
        self._rate_limits = rate_limits or RateLimits()  # a run's clients share theirs (Registries)
        self._session = RegistrySession(
            endpoint,
            credentials,
            timeout=timeout,
            user_agent=user_agent,
            pool_size=pool_size,
            observe=lambda status, headers: self._rate_limits.observe(self.registry, status, headers),
        )
        self._retry = retry or RetryPolicy()
        self._lock = threading.Lock()
        self._retries = 0
        self.referrers_api = None  # ReferrersApi: not asked yet

    def __repr__(self) -> str:
        return f"RegistryClient({self.registry!r})"

    def close(self) -> None:
        self._session.http.close()

    @property
    def stats(self) -> dict[str, int]:
        """HTTP requests sent so far, per kind (401 answers and their retries included)."""
        return self._session.http.stats.snapshot()

    @property
    def round_trip(self) -> float | None:
        """The registry's quickest answer so far (None before the first): about its round trip."""
        return self._session.http.stats.fastest

    @property
    def retries(self) -> int:
        """Operations retried so far (each retry re-sends at least one request, counted in `stats`)."""
        with self._lock:
            return self._retries

    def _note_retry(self, _attempt: int, _reason: str, _pause: float) -> None:
        with self._lock:
            self._retries += 1

    @property
    def scheme(self) -> str:
        """ "https" or "http"; with `insecure` and no answer yet, "https" (tried first)."""
        return self._session.http.schemes.scheme

    @retried
    def _get_json(
        self, path: str, *, kind: str, scope: str | None, limit: int, what: str
    ) -> tuple[Any, requests.Response]:
        answer = self._session.request("GET", path, kind=kind, scope=scope)
        if answer.status_code != 200:
            raise self._session.error(answer, what)
        where = f"{self.registry}: {what}"
        return parse_json(read_capped(answer, limit, where), where), answer

    def next_page(self, answer: requests.Response, seen: set[str]) -> str | None:
        link = parse_link_next(answer.headers.get("Link"))
        if link is None:
            return None
        try:
            return next_page(answer.url, link, seen)
        except OtherHost as exc:
            message = f"{self.registry}: refusing to follow a Link to another host: {exc.url}"
            raise RegistryError(message, registry=self.registry) from None
        except Loop as exc:
            raise RegistryError(
                f"{self.registry}: pagination loops back to {exc.url}", registry=self.registry
            ) from None

    # -- API --------------------------------------------------------------------------------
    @retried
    def ping(self) -> None:
        """GET /v2/ (authenticated if the registry asks): raises AuthError or RegistryError when unusable."""
        answer = self._session.request("GET", "/v2/", kind="ping", scope=None)
        answer.close()
        if answer.status_code != 200:
            raise RegistryError(
                f"{self.registry}: /v2/ answered {answer.status_code}",
                status=answer.status_code,
                registry=self.registry,
            )

    def answers_within(self, seconds: float) -> bool:
        """Whether the registry answers GET /v2/ at all (any status, a TLS refusal included) within
        `seconds`: one request, no retry, no credentials. After a stalled copy: which side froze."""
        url = self._session.url("/v2/")
        try:
            self._session.http.send("GET", url, {}, kind="ping", timeout=seconds).close()
        except requests.exceptions.SSLError:
            return True
        except (TimedOut, requests.exceptions.ConnectionError):
            return False
        return True

    def catalog(self, page_size: int = 100, limits: PagingLimits | None = None) -> Iterator[str]:
        """Every repository name of `/v2/_catalog`, page by page (invalid names skipped with a warning)."""
        return catalog_api.repositories(self, page_size, limits or PagingLimits())

    def catalog_page(self, path: str) -> tuple[Any, requests.Response]:
        return self._get_json(
            path, kind="catalog", scope=catalog_api.CATALOG_SCOPE, limit=MAX_LIST_BYTES, what="catalog"
        )

    def list_tags(self, repository: str, *, warn: bool = True) -> list[str]:
        """Tags of a repository (following `Link` pages); invalid tags are skipped with a warning
        (a debug line without `warn`)."""
        repo = self.endpoint.repository_path(repository)
        path: str | None = f"/v2/{repo}/tags/list"
        seen: set[str] = set()
        tags: list[str] = []
        while path:
            body, answer = self._get_json(
                path, kind="tags", scope=repository_scope(repo), limit=MAX_LIST_BYTES, what=f"tags of {repo}"
            )
            tags.extend(
                valid_names(
                    string_list(body, "tags", self.registry), refs.valid_tag, "tag", self.registry, warn=warn
                )
            )
            path = self.next_page(answer, seen)
        return tags

    @retried
    def head_manifest(self, repository: str, reference: str) -> ManifestInfo | None:
        """Digest, media type and size of a manifest without downloading it; None when absent."""
        repo = self.endpoint.repository_path(repository)
        path, scope = f"/v2/{repo}/manifests/{reference}", repository_scope(repo)
        status, headers = self._session.lean_head(path, scope) or self._session.full_head(path, scope)
        if status == 404:
            return None
        if status != 200:
            raise RegistryResponseError(
                f"{self.registry}: HEAD manifest {repo}:{reference} answered {status}",
                status=status,
                registry=self.registry,
                retry_after=retry_after_seconds(headers.get("Retry-After")),
            )
        digest = headers.get("Docker-Content-Digest", "")
        if not refs.valid_digest(digest):
            return self._manifest_info_by_get(repository, reference)
        size = headers.get("Content-Length", "")
        return ManifestInfo(digest, content_type(headers), int(size) if size.isdigit() else -1)

    def _manifest_info_by_get(self, repository: str, reference: str) -> ManifestInfo | None:
        try:
            body, media_type, digest = self.get_manifest(repository, reference)
        except RegistryError as exc:
            if exc.status == 404:
                return None
            raise
        return ManifestInfo(digest, media_type, len(body))

    @retried
    def get_manifest(self, repository: str, reference: str) -> tuple[bytes, str, str]:
        """(body, media type, sha256 digest of the body). Raises RegistryError (status 404 when absent)."""
        repo = self.endpoint.repository_path(repository)
        what = f"manifest {repo}:{reference}"
        answer = self._session.request(
            "GET",
            f"/v2/{repo}/manifests/{reference}",
            kind="manifest_get",
            scope=repository_scope(repo),
            accept=MANIFEST_ACCEPT,
        )
        if answer.status_code != 200:
            raise self._session.error(answer, f"GET {what}")
        body = read_capped(answer, MAX_MANIFEST_BYTES, f"{self.registry}: {what}")
        digest = sha256_digest(body)
        if reference.startswith("sha256:") and reference != digest:
            raise RegistryError(
                f"{self.registry}: {what} has content digest {digest}", registry=self.registry
            )
        return body, content_type(answer.headers) or embedded_media_type(body), digest
