"""One registry's HTTP side: the transport (HTTPS→HTTP fallback with skip-tls-verify), its auth
challenges answered up front, and the lean HEAD path. `request` is one authenticated API call; the
client (`client.RegistryClient`) builds the API on it and retries whole operations.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import requests

from regmirror.errors import AuthError, RegistryError, RegistryResponseError
from regmirror.registries.distribution.media import MANIFEST_ACCEPT
from regmirror.registries.endpoint import Endpoint
from regmirror.registries.http.auth import Authenticator
from regmirror.registries.http.body import registry_error_codes
from regmirror.registries.http.diagnose import short, transport_problem, unanswered
from regmirror.registries.http.fallback import SchemeChoice
from regmirror.registries.http.lean_head import LeanTransportError, basic_authorization, lean_head, release
from regmirror.registries.http.session import TRANSPORT_ERRORS, client_cert, registry_verify
from regmirror.registries.http.transport import Observer, TimedOut, Transport
from regmirror.retry import retry_after_seconds

if TYPE_CHECKING:
    from regmirror.registries.credentials import Credentials

log = logging.getLogger("regmirror.registry")

STAT_KINDS = (
    "ping",
    "catalog",
    "tags",
    "manifest_head",
    "manifest_get",
    "manifest_put",
    "blob_mount",
    "referrers",
    "token",
)


class RegistrySession:
    """The HTTP side of one registry client. Thread-safe."""

    def __init__(
        self,
        endpoint: Endpoint,
        credentials: Credentials | None,
        *,
        timeout: float,
        user_agent: str,
        pool_size: int,
        observe: Observer,
    ) -> None:
        self.endpoint = endpoint
        self.registry = endpoint.host
        self.http = Transport(
            verify=registry_verify(endpoint),
            cert=client_cert(endpoint),
            schemes=SchemeChoice(plain_http=endpoint.plain_http, may_fall_back=endpoint.insecure),
            timeout=timeout,
            user_agent=user_agent,
            pool_size=pool_size,
            stat_kinds=STAT_KINDS,
            observe=observe,
        )
        self.auth = Authenticator(self.registry, credentials, self.send)

    @property
    def scheme(self) -> str:
        """ "https" or "http"; with `insecure` and no answer yet, "https" (tried first)."""
        return self.http.schemes.scheme

    def url(self, path: str) -> str:
        return f"{self.scheme}://{self.endpoint.api_host}{path}"

    # -- sending ----------------------------------------------------------------------------
    def send(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        auth: Any,
        kind: str,
        *,
        data: dict[str, str] | bytes | None = None,
    ) -> requests.Response:
        try:
            return self.http.send(method, url, headers, kind=kind, auth=auth, data=data)
        except TimedOut as exc:
            raise RegistryError(f"{self.registry}: {exc}", registry=self.registry, unreachable=True) from None
        except TRANSPORT_ERRORS:
            raise  # the caller decides about the plain-HTTP fallback
        except requests.RequestException as exc:
            raise RegistryError(
                f"{self.registry}: {method} {url}: {short(exc)}", registry=self.registry
            ) from None

    def send_registry(
        self,
        method: str,
        path: str,
        headers: dict[str, str],
        auth: Any,
        kind: str,
        body: bytes | None = None,
    ) -> requests.Response:
        """Send to the registry itself; with `insecure`, fall back to plain HTTP once HTTPS fails."""
        url = path if "://" in path else self.url(path)
        try:
            answer = self.send(method, url, headers, auth, kind, data=body)
        except TRANSPORT_ERRORS as exc:
            first = self.http.schemes.known is None
            http_url = self.http.schemes.fall_back(url)
            if http_url is None:
                raise RegistryError(
                    f"{self.registry}: cannot reach {url}: {transport_problem(exc, url)}",
                    registry=self.registry,
                    unreachable=unanswered(exc),
                ) from None
            if first:
                log.info("%s: no HTTPS answer, using plain HTTP (skip-tls-verify)", self.registry)
                log.debug("%s: HTTPS failed: %s", self.registry, short(exc))
            url = http_url
            try:
                answer = self.send(method, url, headers, auth, kind, data=body)
            except TRANSPORT_ERRORS as exc2:
                raise RegistryError(
                    f"{self.registry}: cannot reach over HTTPS or HTTP: {transport_problem(exc2, url)}",
                    registry=self.registry,
                    unreachable=unanswered(exc2),
                ) from None
        self.http.schemes.answered(url)
        return answer

    def request(
        self,
        method: str,
        path: str,
        *,
        kind: str,
        scope: str | None,
        accept: str | None = None,
        body: bytes | None = None,
        content_type: str | None = None,
    ) -> requests.Response:
        """One API call with auth: known challenge up front; on 401 answer the new challenge once.

        The operations built on it are what the retry policy repeats (`_retried`). Returns the answer
        whatever its status, except a 401 that survives authentication, which raises AuthError.
        """
        base = {"Accept": accept} if accept else {}
        if content_type:
            base["Content-Type"] = content_type
        headers, auth = self.auth.answer(self.auth.challenge, scope)
        answer = self.send_registry(method, path, {**base, **headers}, auth, kind, body)
        if answer.status_code != 401:
            return answer
        challenge = self.auth.usable_challenge(answer)
        answer.close()
        if challenge is None:
            raise AuthError(self.auth.refused_message(401, "registry"), status=401, registry=self.registry)
        self.auth.learn(challenge)
        headers, auth = self.auth.answer(challenge, challenge.params.get("scope", scope), fresh=True)
        answer = self.send_registry(method, path, {**base, **headers}, auth, kind, body)
        if answer.status_code == 401:
            answer.close()
            raise AuthError(self.auth.refused_message(401, "registry"), status=401, registry=self.registry)
        return answer

    def error(self, answer: requests.Response, what: str) -> RegistryResponseError:
        codes, message = registry_error_codes(answer)
        detail = f": {', '.join(codes)} {message}".rstrip() if codes else ""
        return RegistryResponseError(
            f"{self.registry}: {what} failed with HTTP {answer.status_code}{detail}",
            status=answer.status_code,
            registry=self.registry,
            codes=codes,
            retry_after=retry_after_seconds(answer.headers.get("Retry-After")),
        )

    def full_head(self, path: str, scope: str) -> tuple[int, Mapping[str, str]]:
        answer = self.request("HEAD", path, kind="manifest_head", scope=scope, accept=MANIFEST_ACCEPT)
        release(answer)
        return answer.status_code, answer.headers

    def lean_head(self, path: str, scope: str) -> tuple[int, Mapping[str, str]] | None:
        """`lean_head` in the steady state; None sends the caller down the full path. Transport
        failures raise what the full path raises, so the retry policy classifies them alike."""
        url = self.url(path)
        headers = self._lean_headers(url, scope)
        if headers is None:
            return None
        try:
            return lean_head(self.http, url, path, headers, "manifest_head")
        except LeanTransportError as exc:
            if exc.timed_out:
                message = f"{self.registry}: HEAD {url} timed out ({exc.cause.__class__.__name__})"
            else:
                message = f"{self.registry}: cannot reach {url}: {transport_problem(exc.cause, url)}"
            unreachable = exc.timed_out or unanswered(exc.cause)
            raise RegistryError(message, registry=self.registry, unreachable=unreachable) from None

    def _lean_headers(self, url: str, scope: str) -> dict[str, str] | None:
        """Headers of a lean HEAD, or None when the full path must go (see `lean_head`)."""
        if self.http.schemes.known is None or self.http.proxies.for_url(url):
            return None
        if self.auth.challenge is None and self.auth.credentials is not None:
            return None  # the full path learns the challenge (a lean try would only collect a 401)
        headers, auth = self.auth.answer(self.auth.challenge, scope)
        if auth is not None:
            basic = basic_authorization(*auth)
            if basic is None:
                return None
            headers["Authorization"] = basic
        return headers | {"Accept": MANIFEST_ACCEPT, "User-Agent": self.http.user_agent}
