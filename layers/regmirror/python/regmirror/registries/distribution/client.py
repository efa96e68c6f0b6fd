"""Registry HTTP API v2 client: ping, catalog, tags, manifest HEAD/GET, over the one HTTP stack.

The stack (registries/http/) does transport, auth and paging; this module is the API calls. Names coming
from a registry are validated before anyone else sees them. Each API operation (one page, one HEAD, one
GET) is retried as a whole by the client's `retry.RetryPolicy` (5xx, 429, resets, timeouts, truncated
bodies), and every answer's `RateLimit-*` headers feed the registry's budget (`ratelimit`).
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

import requests

from regmirror.errors import AuthError, RegistryError, RegistryResponseError
from regmirror.registries.distribution import catalog as catalog_api
from regmirror.registries.distribution.media import (
    MANIFEST_ACCEPT,
    ManifestInfo,
    content_type,
    embedded_media_type,
    sha256_digest,
)
from regmirror.registries.distribution.names import string_list, valid_names
from regmirror.registries.endpoint import Endpoint
from regmirror.registries.http.auth import Authenticator
from regmirror.registries.http.body import parse_json, read_capped, registry_error_codes, short
from regmirror.registries.http.fallback import SchemeChoice
from regmirror.registries.http.lean_head import (
    LeanTransportError,
    basic_authorization,
    lean_head,
    release,
)
from regmirror.registries.http.links import Loop, OtherHost, next_page, parse_link_next
from regmirror.registries.http.session import TRANSPORT_ERRORS, USER_AGENT, registry_verify
from regmirror.registries.http.transport import TimedOut, Transport
from regmirror.registries.ratelimit import RateLimits, default_limits
from regmirror.retry import RetryPolicy, default_policy, retry_after_seconds
from regmirror.rules import refs

if TYPE_CHECKING:
    from regmirror.registries.credentials import Credentials

log = logging.getLogger("regmirror.registry")

MAX_LIST_BYTES = 64 * 1024 * 1024  # one catalog or tags page
MAX_MANIFEST_BYTES = 16 * 1024 * 1024
STAT_KINDS = ("ping", "catalog", "tags", "manifest_head", "manifest_get", "token")

_P = ParamSpec("_P")
_R = TypeVar("_R")


def _retried(
    operation: Callable[Concatenate[RegistryClient, _P], _R],
) -> Callable[Concatenate[RegistryClient, _P], _R]:
    """Run one API operation (request, status check, body read) under the client's retry policy."""

    @functools.wraps(operation)
    def run(client: RegistryClient, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        name = operation.__name__.strip("_")
        what = f"{client.registry}: {name} {' '.join(map(str, args))}".rstrip()
        return client._retry.call(
            lambda: operation(client, *args, **kwargs), what=what, on_retry=client._note_retry
        )

    return run


def repository_scope(repository: str, actions: str = "pull") -> str:
    return f"repository:{repository}:{actions}"


class RegistryClient:
    """Client of one registry. Thread-safe: share one instance between the workers of a run."""

    def __init__(
        self,
        endpoint: Endpoint,
        credentials: Credentials | None = None,
        *,
        timeout: float = 30.0,
        user_agent: str = USER_AGENT,
        pool_size: int = 16,
        retry: RetryPolicy | None = None,
        rate_limits: RateLimits | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.registry = endpoint.host
        self._rate_limits = rate_limits or default_limits()
        self._http = Transport(
            verify=registry_verify(endpoint),
            schemes=SchemeChoice(plain_http=endpoint.plain_http, may_fall_back=endpoint.insecure),
            timeout=timeout,
            user_agent=user_agent,
            pool_size=pool_size,
            stat_kinds=STAT_KINDS,
            observe=lambda status, headers: self._rate_limits.observe(self.registry, status, headers),
        )
        self._auth = Authenticator(self.registry, credentials, self._send)
        self._retry = retry or default_policy()
        self._lock = threading.Lock()
        self._retries = 0

    def __repr__(self) -> str:
        return f"RegistryClient({self.registry!r})"

    def close(self) -> None:
        self._http.close()

    @property
    def stats(self) -> dict[str, int]:
        """HTTP requests sent so far, per kind (401 answers and their retries included)."""
        return self._http.stats.snapshot()

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
        return self._http.schemes.scheme

    def _url(self, path: str) -> str:
        return f"{self.scheme}://{self.endpoint.api_host}{path}"

    # -- sending ----------------------------------------------------------------------------
    def _send(
        self, method: str, url: str, headers: dict[str, str], auth: Any, kind: str
    ) -> requests.Response:
        try:
            return self._http.send(method, url, headers, kind=kind, auth=auth)
        except TimedOut as exc:
            raise RegistryError(f"{self.registry}: {exc}", registry=self.registry) from None
        except TRANSPORT_ERRORS:
            raise  # the caller decides about the plain-HTTP fallback
        except requests.RequestException as exc:
            raise RegistryError(
                f"{self.registry}: {method} {url}: {short(exc)}", registry=self.registry
            ) from None

    def _send_registry(
        self, method: str, path: str, headers: dict[str, str], auth: Any, kind: str
    ) -> requests.Response:
        """Send to the registry itself; with `insecure`, fall back to plain HTTP once HTTPS fails."""
        url = path if "://" in path else self._url(path)
        try:
            answer = self._send(method, url, headers, auth, kind)
        except TRANSPORT_ERRORS as exc:
            first = self._http.schemes.known is None
            http_url = self._http.schemes.fall_back(url)
            if http_url is None:
                raise RegistryError(
                    f"{self.registry}: cannot reach {url}: {short(exc)}", registry=self.registry
                ) from None
            if first:
                log.info("%s: no HTTPS answer, using plain HTTP (skip-tls-verify)", self.registry)
                log.debug("%s: HTTPS failed: %s", self.registry, short(exc))
            url = http_url
            try:
                answer = self._send(method, url, headers, auth, kind)
            except TRANSPORT_ERRORS as exc2:
                raise RegistryError(
                    f"{self.registry}: cannot reach over HTTPS or HTTP: {short(exc2)}"
                ) from None
        self._http.schemes.answered(url)
        return answer

    def _request(
        self, method: str, path: str, *, kind: str, scope: str | None, accept: str | None = None
    ) -> requests.Response:
        """One API call with auth: known challenge up front; on 401 answer the new challenge once.

        The operations built on it are what the retry policy repeats (`_retried`). Returns the answer
        whatever its status, except a 401 that survives authentication, which raises AuthError.
        """
        base = {"Accept": accept} if accept else {}
        headers, auth = self._auth.answer(self._auth.challenge, scope)
        answer = self._send_registry(method, path, {**base, **headers}, auth, kind)
        if answer.status_code != 401:
            return answer
        challenge = self._auth.usable_challenge(answer)
        answer.close()
        if challenge is None:
            raise AuthError(self._auth.refused_message(401, "registry"), status=401, registry=self.registry)
        self._auth.learn(challenge)
        headers, auth = self._auth.answer(challenge, challenge.params.get("scope", scope), fresh=True)
        answer = self._send_registry(method, path, {**base, **headers}, auth, kind)
        if answer.status_code == 401:
            answer.close()
            raise AuthError(self._auth.refused_message(401, "registry"), status=401, registry=self.registry)
        return answer

    def _error(self, answer: requests.Response, what: str) -> RegistryResponseError:
        codes, message = registry_error_codes(answer)
        detail = f": {', '.join(codes)} {message}".rstrip() if codes else ""
        return RegistryResponseError(
            f"{self.registry}: {what} failed with HTTP {answer.status_code}{detail}",
            status=answer.status_code,
            registry=self.registry,
            codes=codes,
            retry_after=retry_after_seconds(answer.headers.get("Retry-After")),
        )

    @_retried
    def _get_json(
        self, path: str, *, kind: str, scope: str | None, limit: int, what: str
    ) -> tuple[Any, requests.Response]:
        answer = self._request("GET", path, kind=kind, scope=scope)
        if answer.status_code != 200:
            raise self._error(answer, what)
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
    @_retried
    def ping(self) -> None:
        """GET /v2/ (authenticated if the registry asks): raises AuthError or RegistryError when unusable."""
        answer = self._request("GET", "/v2/", kind="ping", scope=None)
        answer.close()
        if answer.status_code != 200:
            raise RegistryError(
                f"{self.registry}: /v2/ answered {answer.status_code}",
                status=answer.status_code,
                registry=self.registry,
            )

    def catalog(self, page_size: int = 100) -> Iterator[str]:
        """Every repository name of `/v2/_catalog`, page by page (invalid names skipped with a warning)."""
        return catalog_api.repositories(self, page_size)

    def catalog_page(self, path: str) -> tuple[Any, requests.Response]:
        return self._get_json(
            path, kind="catalog", scope=catalog_api.CATALOG_SCOPE, limit=MAX_LIST_BYTES, what="catalog"
        )

    def list_tags(self, repository: str) -> list[str]:
        """Tags of a repository (following `Link` pages); invalid tags are skipped with a warning."""
        repo = self.endpoint.repository_path(repository)
        path: str | None = f"/v2/{repo}/tags/list"
        seen: set[str] = set()
        tags: list[str] = []
        while path:
            body, answer = self._get_json(
                path, kind="tags", scope=repository_scope(repo), limit=MAX_LIST_BYTES, what=f"tags of {repo}"
            )
            tags.extend(
                valid_names(string_list(body, "tags", self.registry), refs.valid_tag, "tag", self.registry)
            )
            path = self.next_page(answer, seen)
        return tags

    @_retried
    def head_manifest(self, repository: str, reference: str) -> ManifestInfo | None:
        """Digest, media type and size of a manifest without downloading it; None when absent."""
        repo = self.endpoint.repository_path(repository)
        path, scope = f"/v2/{repo}/manifests/{reference}", repository_scope(repo)
        status, headers = self._lean_head(path, scope) or self._full_head(path, scope)
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

    def _full_head(self, path: str, scope: str) -> tuple[int, Mapping[str, str]]:
        answer = self._request("HEAD", path, kind="manifest_head", scope=scope, accept=MANIFEST_ACCEPT)
        release(answer)
        return answer.status_code, answer.headers

    def _lean_head(self, path: str, scope: str) -> tuple[int, Mapping[str, str]] | None:
        """`lean_head` in the steady state; None sends the caller down the full path. Transport
        failures raise what the full path raises, so the retry policy classifies them alike."""
        url = self._url(path)
        headers = self._lean_headers(url, scope)
        if headers is None:
            return None
        try:
            return lean_head(self._http, url, path, headers, "manifest_head")
        except LeanTransportError as exc:
            if exc.timed_out:
                message = f"{self.registry}: HEAD {url} timed out ({exc.cause.__class__.__name__})"
            else:
                message = f"{self.registry}: cannot reach {url}: {short(exc.cause)}"
            raise RegistryError(message, registry=self.registry) from None

    def _lean_headers(self, url: str, scope: str) -> dict[str, str] | None:
        """Headers of a lean HEAD, or None when the full path must go (see `_lean_head`)."""
        if self._http.schemes.known is None or self._http.proxies.for_url(url):
            return None
        if self._auth.challenge is None and self._auth.credentials is not None:
            return None  # the full path learns the challenge (a lean try would only collect a 401)
        headers, auth = self._auth.answer(self._auth.challenge, scope)
        if auth is not None:
            basic = basic_authorization(*auth)
            if basic is None:
                return None
            headers["Authorization"] = basic
        return headers | {"Accept": MANIFEST_ACCEPT, "User-Agent": self._http.user_agent}

    def _manifest_info_by_get(self, repository: str, reference: str) -> ManifestInfo | None:
        try:
            body, media_type, digest = self.get_manifest(repository, reference)
        except RegistryError as exc:
            if exc.status == 404:
                return None
            raise
        return ManifestInfo(digest, media_type, len(body))

    @_retried
    def get_manifest(self, repository: str, reference: str) -> tuple[bytes, str, str]:
        """(body, media type, sha256 digest of the body). Raises RegistryError (status 404 when absent)."""
        repo = self.endpoint.repository_path(repository)
        what = f"manifest {repo}:{reference}"
        answer = self._request(
            "GET",
            f"/v2/{repo}/manifests/{reference}",
            kind="manifest_get",
            scope=repository_scope(repo),
            accept=MANIFEST_ACCEPT,
        )
        if answer.status_code != 200:
            raise self._error(answer, f"GET {what}")
        body = read_capped(answer, MAX_MANIFEST_BYTES, f"{self.registry}: {what}")
        digest = sha256_digest(body)
        if reference.startswith("sha256:") and reference != digest:
            raise RegistryError(
                f"{self.registry}: {what} has content digest {digest}", registry=self.registry
            )
        return body, content_type(answer.headers) or embedded_media_type(body), digest
