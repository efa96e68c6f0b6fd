"""Registry HTTP API v2 client: catalog, tags, manifest HEAD/GET, with Basic and Bearer token auth.

Transport rules (see docs/ARCHITECTURE.md): every call has a (connect, read) timeout and passes
`verify=` explicitly; the session ignores the environment (`trust_env = False`) so a process-wide
REQUESTS_CA_BUNDLE never replaces a registry's own CA file. Proxies from the environment are still
honoured, per request. Bodies are read with a size cap. Names coming from a registry are validated
before anyone else sees them. Each API operation (one page, one HEAD, one GET) is retried as a whole
by a `retry.RetryPolicy` (5xx, 429, resets, timeouts, truncated bodies), and every answer's
`RateLimit-*` headers feed the source's budget (`ratelimit`).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import logging
import re
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar
from urllib.parse import urlencode, urljoin, urlsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter
from requests.utils import get_environ_proxies
from urllib3.exceptions import InsecureRequestWarning

from regmirror import __version__
from regmirror.errors import AuthError, ListerError, RegistryError
from regmirror.registries.endpoint import Endpoint
from regmirror.registries.ratelimit import RateLimits, default_limits
from regmirror.retry import RetryPolicy, default_policy, retry_after_seconds
from regmirror.rules import refs

if TYPE_CHECKING:
    from regmirror.registries.credentials import Credentials

log = logging.getLogger("regmirror.registry")

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
# distribution answers 404 for OCI manifests (or down-converts to schema1) unless all are accepted.
MANIFEST_MEDIA_TYPES = (OCI_INDEX, OCI_MANIFEST, DOCKER_MANIFEST_LIST, DOCKER_MANIFEST)
MANIFEST_ACCEPT = ", ".join(MANIFEST_MEDIA_TYPES)
INDEX_MEDIA_TYPES = frozenset({OCI_INDEX, DOCKER_MANIFEST_LIST})

FALLBACK_CATALOG_PAGE = 100  # what registries that refuse a larger `n` page by
MAX_CATALOG_PAGE = 1000  # distribution rejects larger `n`
MAX_LIST_BYTES = 64 * 1024 * 1024  # one catalog or tags page
MAX_MANIFEST_BYTES = 16 * 1024 * 1024
MAX_TOKEN_BYTES = 1024 * 1024
MAX_ERROR_BYTES = 64 * 1024
MAX_HEADER_CHARS = 16 * 1024  # Link / WWW-Authenticate parsed up to this length
DEFAULT_TOKEN_LIFETIME = 60.0  # seconds, when the token server gives no expires_in (Docker's default)
TOKEN_MARGIN = 10.0  # renew this long before a token expires
CATALOG_SCOPE = "registry:catalog:*"
STAT_KINDS = ("ping", "catalog", "tags", "manifest_head", "manifest_get", "token")

_TRANSPORT_ERRORS = (requests.exceptions.SSLError, requests.exceptions.ConnectionError)
_LINK_PART = re.compile(r'<([^<>]*)>((?:\s*;\s*[^;,"]*(?:"[^"]*"[^;,"]*)*)*)')
_LINK_PARAM = re.compile(r';\s*([A-Za-z0-9*_.-]+)\s*=\s*(?:"([^"]*)"|([^;,\s]+))')
_AUTH_PARAM = re.compile(r'\s*([A-Za-z0-9_.-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))\s*(?:,|$)')


@dataclass(frozen=True, slots=True)
class ManifestInfo:
    digest: str
    media_type: str
    size: int

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEX_MEDIA_TYPES


@dataclass(frozen=True, slots=True)
class Challenge:
    """One challenge of a `WWW-Authenticate` header; `scheme` is lower case, e.g. "bearer"."""

    scheme: str
    params: Mapping[str, str] = field(default_factory=dict)


class RegistryResponseError(RegistryError):
    """An HTTP error answer; `codes` holds the registry's error codes (e.g. ("UNSUPPORTED",))."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        registry: str,
        codes: tuple[str, ...] = (),
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, status=status, registry=registry)
        self.codes = codes
        self.retry_after = retry_after  # seconds, from the answer's Retry-After (read by retry)


class TokenError(AuthError):
    """The token server refused the credentials or gave no usable token."""


# -- header parsing ---------------------------------------------------------------------------
def parse_link_next(header: str | None) -> str | None:
    """URL of the `rel="next"` link of an RFC 5988/8288 `Link` header (as written; may be relative)."""
    if not header:
        return None
    for match in _LINK_PART.finditer(header[:MAX_HEADER_CHARS]):
        for name, quoted, bare in _LINK_PARAM.findall(match.group(2)):
            if name.lower() == "rel" and "next" in (quoted or bare).lower().split():
                return match.group(1).strip()
    return None


def parse_www_authenticate(header: str | None) -> list[Challenge]:
    """Challenges of a `WWW-Authenticate` header: `Bearer realm="..",service="..",scope=".."`, `Basic ..`."""
    challenges: list[Challenge] = []
    rest = (header or "")[:MAX_HEADER_CHARS].strip()
    while rest:
        scheme_match = re.match(r"([A-Za-z][A-Za-z0-9_-]*)\s*", rest)
        if not scheme_match:
            break
        rest = rest[scheme_match.end() :]
        params, rest = _auth_params(rest)
        challenges.append(Challenge(scheme_match.group(1).lower(), params))
    return challenges


def _auth_params(text: str) -> tuple[dict[str, str], str]:
    """Leading `name=value` pairs of `text`; returns them and what follows (the next challenge)."""
    params: dict[str, str] = {}
    while True:
        match = _AUTH_PARAM.match(text)
        if not match:
            return params, text.lstrip(", ")
        quoted, bare = match.group(2), match.group(3)
        value = re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else bare
        params[match.group(1).lower()] = value
        text = text[match.end() :]


def repository_scope(repository: str, actions: str = "pull") -> str:
    return f"repository:{repository}:{actions}"


# -- token cache ------------------------------------------------------------------------------
class _TokenCache:
    """Bearer tokens per scope, until shortly before they expire. Shared by a client's threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[str, tuple[str, float]] = {}

    def get(self, scope: str) -> str | None:
        with self._lock:
            entry = self._tokens.get(scope)
        if entry is None or entry[1] <= time.monotonic():
            return None
        return entry[0]

    def put(self, scope: str, token: str, expires_in: float) -> None:
        lifetime = max(expires_in - TOKEN_MARGIN, expires_in / 2)
        with self._lock:
            self._tokens[scope] = (token, time.monotonic() + lifetime)


def _token_from_answer(body: Any) -> tuple[str, float]:
    """(token, lifetime) from a token server's JSON; Docker Hub uses `token`, OAuth2 `access_token`."""
    if not isinstance(body, dict):
        raise ValueError("token answer is not a JSON object")
    token = body.get("token") or body.get("access_token")
    if not isinstance(token, str) or not token:
        raise ValueError("token answer holds neither 'token' nor 'access_token'")
    expires_in = body.get("expires_in")
    lifetime = (
        float(expires_in)
        if isinstance(expires_in, int | float) and expires_in > 0
        else DEFAULT_TOKEN_LIFETIME
    )
    return token, lifetime


# -- body reading -----------------------------------------------------------------------------
def read_capped(answer: requests.Response, limit: int, what: str) -> bytes:
    """The whole body, or RegistryError when it is larger than `limit` bytes."""
    declared = answer.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limit:
        answer.close()
        raise RegistryError(f"{what}: answer of {declared} bytes exceeds the {limit}-byte limit")
    chunks, total = [], 0
    try:
        for chunk in answer.iter_content(chunk_size=256 * 1024):
            total += len(chunk)
            if total > limit:
                raise RegistryError(f"{what}: answer exceeds the {limit}-byte limit")
            chunks.append(chunk)
    except requests.RequestException as exc:
        raise RegistryError(f"{what}: reading the answer failed: {_short(exc)}") from None
    finally:
        answer.close()
    return b"".join(chunks)


def parse_json(data: bytes, what: str) -> Any:
    try:
        return json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise RegistryError(f"{what}: malformed JSON ({exc.__class__.__name__}: {str(exc)[:200]})") from None


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _error_codes(answer: requests.Response) -> tuple[tuple[str, ...], str]:
    """(codes, first message) from a registry error body `{"errors": [{"code", "message"}]}`."""
    try:
        body = json.loads(read_capped(answer, MAX_ERROR_BYTES, "error body"))
    except (RegistryError, ValueError, RecursionError, requests.RequestException):
        return (), ""
    errors = body.get("errors") if isinstance(body, dict) else None
    if not isinstance(errors, list):
        return (), ""
    entries = [e for e in errors if isinstance(e, dict)]
    codes = tuple(str(e.get("code", "")) for e in entries)
    message = str(entries[0].get("message", "")) if entries else ""
    return codes, message[:300]


# -- the client -------------------------------------------------------------------------------
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


class RegistryClient:
    """Client of one registry. Thread-safe: share one instance between the workers of a run."""

    def __init__(
        self,
        endpoint: Endpoint,
        credentials: Credentials | None = None,
        *,
        timeout: float = 30.0,
        user_agent: str = f"regmirror/{__version__}",
        pool_size: int = 16,
        retry: RetryPolicy | None = None,
        rate_limits: RateLimits | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.registry = endpoint.host
        self._credentials = credentials
        self._timeout = (min(timeout, 10.0), timeout)  # (connect, read)
        self._verify: bool | str = self._tls_verify(endpoint)
        self._session = requests.Session()
        self._session.trust_env = False  # REQUESTS_CA_BUNDLE & co must not win; proxies handled below
        self._session.headers["User-Agent"] = user_agent
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=max(8, pool_size))
        self._session.mount("https://", adapter)
        self._session.mount("http://", adapter)
        self._adapter = adapter  # its pools also serve the lean HEAD path (_lean_head)
        self._user_agent = user_agent
        self._pool_timeout = urllib3.Timeout(connect=self._timeout[0], read=self._timeout[1])
        self._scheme: str | None = "http" if endpoint.plain_http else None if endpoint.insecure else "https"
        self._lock = threading.Lock()
        self._tokens = _TokenCache()
        self._challenge: Challenge | None = None  # learnt from the first 401, then used up front
        self._proxies: dict[str, dict[str, str]] = {}
        self._stats = dict.fromkeys(STAT_KINDS, 0)
        self._retry = retry or default_policy()
        self._rate_limits = rate_limits or default_limits()
        self._retries = 0

    @staticmethod
    def _tls_verify(endpoint: Endpoint) -> bool | str:
        if endpoint.insecure or not endpoint.verify_tls:
            if not endpoint.plain_http:
                # chosen in the config (skip-tls-verify): say it once in our log, not per request
                log.info("%s: TLS certificates are not verified (skip-tls-verify)", endpoint.host)
                warnings.filterwarnings("ignore", category=InsecureRequestWarning)
            return False
        return endpoint.ca_file or True

    def __repr__(self) -> str:
        return f"RegistryClient({self.registry!r})"

    def close(self) -> None:
        self._session.close()

    @property
    def stats(self) -> dict[str, int]:
        """HTTP requests sent so far, per kind (401 answers and their retries included)."""
        with self._lock:
            return dict(self._stats)

    def _count(self, kind: str) -> None:
        with self._lock:
            self._stats[kind] = self._stats.get(kind, 0) + 1

    @property
    def retries(self) -> int:
        """Operations retried so far (each retry re-sends at least one request, counted in `stats`)."""
        with self._lock:
            return self._retries

    def _note_retry(self, _attempt: int, _reason: str, _pause: float) -> None:
        with self._lock:
            self._retries += 1

    # -- transport --------------------------------------------------------------------------
    @property
    def scheme(self) -> str:
        """ "https" or "http"; with `insecure` and no answer yet, "https" (tried first)."""
        return self._scheme or "https"

    def _url(self, path: str) -> str:
        return f"{self.scheme}://{self.endpoint.api_host}{path}"

    def _proxies_for(self, url: str) -> dict[str, str]:
        key = url.split("/", 3)[2] if "://" in url else url
        with self._lock:
            cached = self._proxies.get(key)
        if cached is None:
            cached = dict(get_environ_proxies(url))
            with self._lock:
                self._proxies[key] = cached
        return cached

    def _send(
        self, method: str, url: str, headers: dict[str, str], auth: Any, kind: str
    ) -> requests.Response:
        self._count(kind)
        try:
            answer = self._session.request(
                method,
                url,
                headers=headers,
                auth=auth,
                verify=self._verify,
                timeout=self._timeout,
                proxies=self._proxies_for(url),
                allow_redirects=True,
                stream=True,
            )
        except requests.exceptions.Timeout as exc:
            raise RegistryError(
                f"{self.registry}: {method} {url} timed out ({exc.__class__.__name__})",
                registry=self.registry,
            ) from None
        except _TRANSPORT_ERRORS:
            raise  # the caller decides about the plain-HTTP fallback
        except requests.RequestException as exc:
            raise RegistryError(
                f"{self.registry}: {method} {url}: {_short(exc)}", registry=self.registry
            ) from None
        self._rate_limits.observe(self.registry, answer.status_code, answer.headers)
        return answer

    def _send_registry(
        self, method: str, path: str, headers: dict[str, str], auth: Any, kind: str
    ) -> requests.Response:
        """Send to the registry itself; with `insecure`, fall back to plain HTTP once HTTPS fails."""
        url = path if "://" in path else self._url(path)
        try:
            answer = self._send(method, url, headers, auth, kind)
        except _TRANSPORT_ERRORS as exc:
            # Another thread may have switched to HTTP meanwhile: only a confirmed HTTPS answer
            # rules the fallback out.
            if self._scheme == "https" or not self.endpoint.insecure or not url.startswith("https://"):
                raise RegistryError(
                    f"{self.registry}: cannot reach {url}: {_short(exc)}", registry=self.registry
                ) from None
            if self._scheme is None:
                log.info("%s: no HTTPS answer, using plain HTTP (skip-tls-verify)", self.registry)
                log.debug("%s: HTTPS failed: %s", self.registry, _short(exc))
            self._scheme = "http"
            url = "http://" + url.removeprefix("https://")
            try:
                answer = self._send(method, url, headers, auth, kind)
            except _TRANSPORT_ERRORS as exc2:
                raise RegistryError(
                    f"{self.registry}: cannot reach over HTTPS or HTTP: {_short(exc2)}"
                ) from None
        if self._scheme is None:
            self._scheme = urlsplit(url).scheme
        return answer

    # -- auth -------------------------------------------------------------------------------
    def _basic(self) -> tuple[str, str] | None:
        creds = self._credentials
        return (creds.username, creds.password) if creds is not None else None

    def _token_url(self, challenge: Challenge, scope: str | None) -> str:
        realm = challenge.params.get("realm", "")
        if urlsplit(realm).scheme not in ("http", "https"):
            raise TokenError(
                f"{self.registry}: bearer challenge without a usable realm", registry=self.registry
            )
        params = {"service": challenge.params.get("service", "")}
        if scope:
            params["scope"] = scope
        return f"{realm}{'&' if '?' in realm else '?'}{urlencode(params)}"

    def _check_token_status(self, status: int) -> None:
        if status in (401, 403):
            message = self._refused_message(status, "token server")
            raise TokenError(message, status=status, registry=self.registry)
        if status != 200:
            message = f"{self.registry}: token server answered {status}"
            raise TokenError(message, status=status, registry=self.registry)

    def _fetch_token(self, challenge: Challenge, scope: str | None) -> str:
        """A token for `scope` from the challenge's realm (basic credentials if any), cached."""
        try:
            answer = self._send("GET", self._token_url(challenge, scope), {}, self._basic(), "token")
        except _TRANSPORT_ERRORS as exc:
            message = f"{self.registry}: token server unreachable: {_short(exc)}"
            raise TokenError(message, registry=self.registry) from None
        with answer:
            self._check_token_status(answer.status_code)
            try:
                body = parse_json(read_capped(answer, MAX_TOKEN_BYTES, "token"), "token")
                token, lifetime = _token_from_answer(body)
            except (ValueError, RegistryError) as exc:
                message = f"{self.registry}: unusable token answer: {exc}"
                raise TokenError(message, registry=self.registry) from None
        self._tokens.put(scope or "", token, lifetime)
        return token

    def _bearer(self, challenge: Challenge, scope: str | None, *, fresh: bool = False) -> str:
        cached = None if fresh else self._tokens.get(scope or "")
        return cached or self._fetch_token(challenge, scope)

    def _auth_for(
        self, challenge: Challenge | None, scope: str | None, *, fresh: bool = False
    ) -> tuple[dict[str, str], Any]:
        """(extra headers, requests auth) answering `challenge` for `scope`."""
        if challenge is None:
            return {}, None
        if challenge.scheme == "basic":
            return {}, self._basic()
        if challenge.scheme == "bearer":
            return {"Authorization": f"Bearer {self._bearer(challenge, scope, fresh=fresh)}"}, None
        raise AuthError(
            f"{self.registry}: unsupported auth scheme {challenge.scheme!r}", registry=self.registry
        )

    def _refused_message(self, status: int, where: str) -> str:
        who = f"user {self._credentials.username!r}" if self._credentials else "anonymous access"
        return f"{self.registry}: {where} refused {who} ({status})"

    def _usable_challenge(self, answer: requests.Response) -> Challenge | None:
        for challenge in parse_www_authenticate(answer.headers.get("WWW-Authenticate")):
            if challenge.scheme == "bearer" or (challenge.scheme == "basic" and self._credentials):
                return challenge
        return None

    # -- one request ------------------------------------------------------------------------
    def _request(
        self, method: str, path: str, *, kind: str, scope: str | None, accept: str | None = None
    ) -> requests.Response:
        """One API call with auth: known challenge up front; on 401 answer the new challenge once.

        The operations built on it are what the retry policy repeats (`_retried`). Returns the answer
        whatever its status, except a 401 that survives authentication, which raises AuthError.
        """
        base = {"Accept": accept} if accept else {}
        headers, auth = self._auth_for(self._challenge, scope)
        answer = self._send_registry(method, path, {**base, **headers}, auth, kind)
        if answer.status_code != 401:
            return answer
        challenge = self._usable_challenge(answer)
        answer.close()
        if challenge is None:
            raise AuthError(self._refused_message(401, "registry"), status=401, registry=self.registry)
        self._challenge = Challenge(
            challenge.scheme, {k: v for k, v in challenge.params.items() if k != "scope"}
        )
        headers, auth = self._auth_for(challenge, challenge.params.get("scope", scope), fresh=True)
        answer = self._send_registry(method, path, {**base, **headers}, auth, kind)
        if answer.status_code == 401:
            answer.close()
            raise AuthError(self._refused_message(401, "registry"), status=401, registry=self.registry)
        return answer

    def _error(self, answer: requests.Response, what: str) -> RegistryResponseError:
        codes, message = _error_codes(answer)
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
        return parse_json(
            read_capped(answer, limit, f"{self.registry}: {what}"), f"{self.registry}: {what}"
        ), answer

    def _next_page(self, answer: requests.Response, seen: set[str]) -> str | None:
        link = parse_link_next(answer.headers.get("Link"))
        if link is None:
            return None
        url = urljoin(answer.url, link)
        if urlsplit(url).netloc.lower() != urlsplit(answer.url).netloc.lower():
            raise RegistryError(
                f"{self.registry}: refusing to follow a Link to another host: {url}", registry=self.registry
            )
        if url in seen:
            raise RegistryError(f"{self.registry}: pagination loops back to {url}", registry=self.registry)
        seen.add(url)
        return url

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
        size = min(max(1, page_size), MAX_CATALOG_PAGE)
        path: str | None = f"/v2/_catalog?n={size}"
        seen: set[str] = set()
        first = True
        while path:
            try:
                body, answer = self._catalog_page(path, first)
            except RegistryResponseError as exc:
                # Some registries cap `n` lower than distribution's 1000 and answer 400: use their default.
                if not (first and exc.status == 400 and size > FALLBACK_CATALOG_PAGE):
                    raise
                log.info("%s: catalog refused n=%d, paging by %d", self.registry, size, FALLBACK_CATALOG_PAGE)
                size = FALLBACK_CATALOG_PAGE
                path = f"/v2/_catalog?n={size}"
                continue
            first = False
            yield from _valid_names(
                _string_list(body, "repositories", self.registry),
                refs.valid_repository,
                "repository",
                self.registry,
            )
            path = self._next_page(answer, seen)

    def _catalog_page(self, path: str, first: bool) -> tuple[Any, requests.Response]:
        try:
            return self._get_json(
                path, kind="catalog", scope=CATALOG_SCOPE, limit=MAX_LIST_BYTES, what="catalog"
            )
        except TokenError:
            raise
        except AuthError as exc:
            if first:
                self._raise_if_credentials_refused()
                raise self._catalog_refused(exc.status) from None
            raise
        except RegistryResponseError as exc:
            if first and (exc.status in (403, 404, 405) or "UNSUPPORTED" in exc.codes):
                raise self._catalog_refused(exc.status, exc.codes) from None
            raise

    def _raise_if_credentials_refused(self) -> None:
        """A 401 on the catalog is a refused listing unless /v2/ refuses the credentials too."""
        self.ping()

    def _catalog_refused(self, status: int | None, codes: tuple[str, ...] = ()) -> ListerError:
        why = f"HTTP {status}" + (f" {', '.join(codes)}" if codes else "")
        hint = (
            "use `lister: {type: dockerhub}` for your own namespace, `lister: {type: index, search: ...}`,"
            if self.endpoint.is_docker_hub
            else "use `lister: {type: index, search: ...}` if it supports search, `dockerhub` for Docker Hub,"
        )
        return ListerError(
            f"{self.registry}: the registry refuses catalog listing ({why}); {hint}"
            " or name repositories as plain `from` paths"
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
                _valid_names(_string_list(body, "tags", self.registry), refs.valid_tag, "tag", self.registry)
            )
            path = self._next_page(answer, seen)
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
        return ManifestInfo(digest, _content_type(headers), int(size) if size.isdigit() else -1)

    def _full_head(self, path: str, scope: str) -> tuple[int, Mapping[str, str]]:
        answer = self._request("HEAD", path, kind="manifest_head", scope=scope, accept=MANIFEST_ACCEPT)
        _release(answer)
        return answer.status_code, answer.headers

    def _lean_head(self, path: str, scope: str) -> tuple[int, Mapping[str, str]] | None:
        """The same HEAD straight through the session's urllib3 pool, without requests' per-call work
        (preparing, merging settings, cookies, hooks): about half the client CPU of a digest check.

        Only in the steady state (scheme known, no proxy); a 401 to answer or a redirect gives None and
        the caller takes the full path, which handles them. Transport failures raise what the full
        path raises (`_send`, `_send_registry` with a known scheme), so the retry policy classifies
        them alike.
        """
        url = self._url(path)
        headers = self._lean_headers(url, scope)
        if headers is None:
            return None
        pool = self._adapter.get_connection_with_tls_context(_prepared(url), self._verify)
        if not isinstance(pool, urllib3.HTTPConnectionPool):
            return None
        self._count("manifest_head")
        try:
            answer = pool.urlopen(
                "HEAD",
                path,
                headers=headers,
                redirect=False,
                retries=False,
                timeout=self._pool_timeout,
                preload_content=False,
            )
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise self._transport_error("HEAD", url, exc) from None
        _release_pooled(answer)
        if answer.status == 401 or 300 <= answer.status < 400:
            return None
        self._rate_limits.observe(self.registry, answer.status, answer.headers)
        return answer.status, answer.headers

    def _lean_headers(self, url: str, scope: str) -> dict[str, str] | None:
        """Headers of a lean HEAD, or None when the full path must go (see `_lean_head`)."""
        if self._scheme is None or self._proxies_for(url):
            return None
        if self._challenge is None and self._credentials is not None:
            return None  # the full path learns the challenge (a lean try would only collect a 401)
        headers, auth = self._auth_for(self._challenge, scope)
        if auth is not None:
            basic = _basic_authorization(*auth)
            if basic is None:
                return None
            headers["Authorization"] = basic
        return headers | {"Accept": MANIFEST_ACCEPT, "User-Agent": self._user_agent}

    def _transport_error(self, method: str, url: str, exc: BaseException) -> RegistryError:
        timed_out = isinstance(exc, urllib3.exceptions.TimeoutError | TimeoutError) and not isinstance(
            exc, urllib3.exceptions.NewConnectionError
        )
        if timed_out:
            message = f"{self.registry}: {method} {url} timed out ({exc.__class__.__name__})"
        else:
            message = f"{self.registry}: cannot reach {url}: {_short(exc)}"
        return RegistryError(message, registry=self.registry)

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
        return body, _media_type(answer) or _embedded_media_type(body), digest


# -- helpers ----------------------------------------------------------------------------------
def _prepared(url: str) -> requests.PreparedRequest:
    """What the adapter needs to pick the connection pool for `url` (scheme, host, port)."""
    prepared = requests.PreparedRequest()
    prepared.url, prepared.method = url, "HEAD"
    return prepared


def _basic_authorization(username: str, password: str) -> str | None:
    """The header requests builds for `auth=(user, password)` (latin-1, as requests encodes);
    None when that encoding fails, so the full path reports it exactly as elsewhere."""
    try:
        token = base64.b64encode(f"{username}:{password}".encode("latin-1")).decode("ascii")
    except UnicodeEncodeError:
        return None
    return f"Basic {token}"


def _content_type(headers: Mapping[str, str]) -> str:
    return headers.get("Content-Type", "").split(";")[0].strip()


# HEAD answers whose connection is kept for the next request. Any other answer may come from a proxy
# that writes an error body even on a HEAD; those bytes would poison the next answer on the connection.
_REUSABLE_HEAD_STATUSES = frozenset({200, 404})


def _release(answer: requests.Response) -> None:
    """Done with a HEAD answer: reading its empty body hands the connection back to the pool.
    `close()` alone closes a streamed answer's connection: a new TCP connection (and TLS handshake)
    per HEAD, about a third of a no-op check's client time."""
    try:
        if answer.status_code in _REUSABLE_HEAD_STATUSES:
            answer.content  # noqa: B018 - the read is the point
    except requests.RequestException:
        pass  # the connection is dropped below; the status and headers are already here
    finally:
        answer.close()


def _release_pooled(answer: urllib3.BaseHTTPResponse) -> None:
    """`_release` for an answer of the lean path: keep-alive for 200/404, the connection closed else."""
    try:
        if answer.status in _REUSABLE_HEAD_STATUSES:
            answer.drain_conn()
        else:
            answer.close()
    finally:
        answer.release_conn()


def _short(exc: BaseException) -> str:
    text = str(exc)
    return f"{exc.__class__.__name__}: {text[:200]}" if text else exc.__class__.__name__


def _media_type(answer: requests.Response) -> str:
    return answer.headers.get("Content-Type", "").split(";")[0].strip()


def _embedded_media_type(body: bytes) -> str:
    try:
        value = json.loads(body).get("mediaType", "")
    except (ValueError, AttributeError, RecursionError):
        return ""
    return value if isinstance(value, str) else ""


def _string_list(body: Any, key: str, registry: str) -> list[Any]:
    """`body[key]` as a list: null or missing means empty; anything else malformed is an error."""
    if not isinstance(body, dict):
        raise RegistryError(f"{registry}: expected a JSON object with {key!r}", registry=registry)
    value = body.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise RegistryError(f"{registry}: {key!r} is not a list", registry=registry)
    return value


def _valid_names(values: list[Any], is_valid: Any, what: str, registry: str) -> Iterator[str]:
    for value in values:
        if isinstance(value, str) and is_valid(value):
            yield value
        else:
            log.warning("%s: skipping invalid %s name %r", registry, what, str(value)[:300])
