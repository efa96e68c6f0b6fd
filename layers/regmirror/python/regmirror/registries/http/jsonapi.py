"""JSON over HTTP for the listers that talk to web APIs (Docker Hub, `/v1/search`).

Same transport rules as the registry client: every request has a timeout and an explicit `verify=`
(the session ignores REQUESTS_CA_BUNDLE & co), proxies from the environment are honoured per request,
bodies are read with a size cap, and rate limiting (429, or 503 with `Retry-After`) is waited out a
bounded number of times.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import requests

from regmirror.errors import ListerError
from regmirror.registries.http.body import api_detail, error_body
from regmirror.registries.http.diagnose import transport_problem
from regmirror.registries.http.fallback import SchemeChoice
from regmirror.registries.http.links import Loop, OtherHost, next_page, same_host
from regmirror.registries.http.session import TRANSPORT_ERRORS, endpoint_verify
from regmirror.registries.http.transport import TimedOut, Transport
from regmirror.retry import retry_after_seconds

log = logging.getLogger("regmirror.listers")

__all__ = ["HttpStatusError", "JsonApi", "api_detail", "api_verify", "endpoint_verify", "error_body"]

MAX_PAGE_BYTES = 16 * 1024 * 1024
DEFAULT_TIMEOUT = 30.0
MAX_RETRY_WAIT = 60.0  # seconds one Retry-After may make us wait
MAX_THROTTLED = 5  # rate-limited answers tolerated in a row before giving up
DEFAULT_RETRY_WAIT = 5.0  # a 429 without a usable Retry-After


class HttpStatusError(ListerError):
    """The API answered with an unexpected HTTP status; `detail` is the API's own message."""

    def __init__(self, message: str, *, status: int, detail: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.detail = detail


class JsonApi:
    """Client of one web API rooted at `base_url`. Not shared between threads (a lister is sequential)."""

    def __init__(
        self,
        base_url: str,
        *,
        verify: bool | str,
        what: str,
        timeout: float = DEFAULT_TIMEOUT,
        http_fallback: bool = False,
        sleep: Callable[[float], None] = time.sleep,
        max_wait: float = MAX_RETRY_WAIT,
    ) -> None:
        base = base_url.rstrip("/")
        self._rest = base.split("://", 1)[1] if "://" in base else base  # host and path prefix
        self.what = what  # e.g. "Docker Hub (https://hub.docker.com)", for messages
        self._http = Transport(
            verify=verify,
            schemes=SchemeChoice(
                plain_http=base.startswith("http://"),
                may_fall_back=http_fallback and base.startswith("https://"),
            ),
            timeout=timeout,
        )
        self._sleep = sleep
        self._max_wait = max_wait
        self.throttled = 0  # rate-limited answers seen

    def close(self) -> None:
        self._http.close()

    @property
    def base_url(self) -> str:
        return f"{self._http.schemes.scheme}://{self._rest}"

    @property
    def requests_sent(self) -> int:
        return self._http.stats.total

    @property
    def host(self) -> str:
        return urlsplit(self.base_url).netloc.lower()

    def url(self, path: str) -> str:
        return path if "://" in path else f"{self.base_url}{path}"

    def same_host(self, url: str) -> bool:
        return same_host(url, self.base_url)

    def resolve_next(self, current: str, link: Any, seen: set[str]) -> str | None:
        """The absolute URL of a `next` link; refuses other hosts (our token would go there) and loops."""
        if not isinstance(link, str) or not link:
            return None
        try:
            return next_page(current, link, seen)
        except OtherHost as exc:
            raise ListerError(
                f"{self.what}: refusing to follow a next link to another host: {exc.url}"
            ) from None
        except Loop as exc:
            raise ListerError(f"{self.what}: paging loops back to {exc.url}") from None

    # -- sending ------------------------------------------------------------------------------
    def _send_once(self, method: str, url: str, headers: Mapping[str, str], body: Any) -> requests.Response:
        try:
            return self._http.send(method, url, headers, kind="api", json=body)
        except TimedOut as exc:
            raise ListerError(
                f"{self.what}: {method} {_path(url)} timed out ({exc.cause.__class__.__name__})"
            ) from None

    def _send(self, method: str, url: str, headers: Mapping[str, str], body: Any) -> requests.Response:
        try:
            answer = self._send_once(method, url, headers, body)
        except TRANSPORT_ERRORS as exc:
            http_url = self._http.schemes.fall_back(url)
            if http_url is None:
                raise ListerError(
                    f"{self.what}: cannot reach {_origin(url)}: {transport_problem(exc, url)}"
                ) from None
            log.info("%s: HTTPS failed, falling back to plain HTTP", self.what)
            try:
                answer = self._send_once(method, http_url, headers, body)
            except TRANSPORT_ERRORS as exc2:
                problem = transport_problem(exc2, http_url)
                raise ListerError(
                    f"{self.what}: cannot reach {_origin(http_url)} over HTTPS or HTTP: {problem}"
                ) from None
            url = http_url
        self._http.schemes.answered(url)
        return answer

    def _wait_time(self, answer: requests.Response) -> float | None:
        """Seconds to wait before retrying a rate-limited answer; None when the answer is not one."""
        retry_after = retry_after_seconds(answer.headers.get("Retry-After"))
        if answer.status_code == 429:
            return DEFAULT_RETRY_WAIT if retry_after is None else retry_after
        if answer.status_code == 503 and retry_after is not None:
            return retry_after
        return None

    def _pause(self, status: int, url: str, seconds: float) -> None:
        log.warning(
            "%s: rate limited (HTTP %d) on %s; waiting %.1fs before retrying",
            self.what,
            status,
            _path(url),
            seconds,
        )
        self._sleep(seconds)

    def request(
        self, method: str, path: str, *, headers: Mapping[str, str] | None = None, body: Any = None
    ) -> requests.Response:
        """One call, waiting out rate limiting (bounded); returns the answer whatever its status."""
        waits = 0
        while True:
            url = self.url(path)  # again after a wait: an HTTP fallback may have changed the base
            answer = self._send(method, url, headers or {}, body)
            wait = self._wait_time(answer)
            if wait is None:
                return answer
            answer.close()
            self.throttled += 1
            if waits == MAX_THROTTLED:
                break
            waits += 1
            self._pause(answer.status_code, url, min(wait, self._max_wait))
        raise ListerError(f"{self.what}: still rate limited after {MAX_THROTTLED} waits; try again later")

    def get_json(
        self, path: str, *, headers: Mapping[str, str] | None = None
    ) -> tuple[requests.Response, Any]:
        """(answer, parsed body); the body is None unless the status is 200."""
        answer = self.request("GET", path, headers=headers)
        if answer.status_code != 200:
            return answer, None
        return answer, self.parse(answer)

    def parse(self, answer: requests.Response) -> Any:
        try:
            return json.loads(self._read_capped(answer))
        except (ValueError, RecursionError) as exc:
            raise ListerError(
                f"{self.what}: malformed JSON from {_path(answer.url)} ({exc.__class__.__name__})"
            ) from None

    def _read_capped(self, answer: requests.Response) -> bytes:
        declared = answer.headers.get("Content-Length", "")
        chunks, total = [], 0
        if not (declared.isdigit() and int(declared) > MAX_PAGE_BYTES):
            for chunk in answer.iter_content(chunk_size=256 * 1024):
                total += len(chunk)
                if total > MAX_PAGE_BYTES:
                    break
                chunks.append(chunk)
            else:
                return b"".join(chunks)
        answer.close()
        raise ListerError(f"{self.what}: answer exceeds {MAX_PAGE_BYTES} bytes")

    def status_error(self, answer: requests.Response, doing: str) -> HttpStatusError:
        detail = api_detail(answer)
        suffix = f": {detail}" if detail else ""
        return HttpStatusError(
            f"{self.what}: {doing} answered HTTP {answer.status_code}{suffix}",
            status=answer.status_code,
            detail=detail,
        )


def _path(url: str) -> str:
    """Path and query of a URL, for messages (no host noise)."""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def api_verify(source: Any, base_url: str) -> bool | str:
    """`verify=` for a lister's web API: the registry's own TLS settings when the API is on the
    registry's host; otherwise the source's CA file or the system CAs (skip-tls-verify of the
    registry never switches off verification of another host)."""
    endpoint = source.endpoint() if callable(getattr(source, "endpoint", None)) else None
    if endpoint is not None and urlsplit(base_url).netloc.lower() == str(endpoint.host).lower():
        return endpoint_verify(endpoint)
    ca_file: str | None = getattr(source, "ca_file", None)
    return ca_file or True
