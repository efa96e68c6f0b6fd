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
from urllib.parse import urljoin, urlsplit

import requests
from requests.utils import get_environ_proxies

from regmirror import __version__
from regmirror.errors import ListerError
from regmirror.retry import retry_after_seconds

log = logging.getLogger("regmirror.listers")

MAX_PAGE_BYTES = 16 * 1024 * 1024
MAX_ERROR_BYTES = 64 * 1024
DEFAULT_TIMEOUT = 30.0
MAX_RETRY_WAIT = 60.0  # seconds one Retry-After may make us wait
MAX_THROTTLED = 5  # rate-limited answers tolerated in a row before giving up
DEFAULT_RETRY_WAIT = 5.0  # a 429 without a usable Retry-After
_TRANSPORT_ERRORS = (requests.exceptions.SSLError, requests.exceptions.ConnectionError)


class HttpStatusError(ListerError):
    """The API answered with an unexpected HTTP status; `detail` is the API's own message."""

    def __init__(self, message: str, *, status: int, detail: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.detail = detail


def error_body(answer: requests.Response) -> dict[str, Any]:
    """The JSON object of an error answer (first 64 KiB only); {} when there is none. Consumes it."""
    try:
        head = next(answer.iter_content(chunk_size=MAX_ERROR_BYTES), b"")
        body = json.loads(head or b"null")
    except (ValueError, RecursionError, requests.RequestException, RuntimeError):
        body = None
    answer.close()
    return body if isinstance(body, dict) else {}


def api_detail(answer: requests.Response) -> str:
    """The message of an API error body (`detail`, `message` or `error`), shortened; '' if none."""
    body = error_body(answer)
    for key in ("detail", "message", "error"):
        value = body.get(key)
        if isinstance(value, str) and value:
            return value[:300]
    return ""


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
        self.base_url = base_url.rstrip("/")
        self.what = what  # e.g. "Docker Hub (https://hub.docker.com)", for messages
        self._verify = verify
        self._timeout = (min(timeout, 10.0), timeout)
        self._http_fallback = http_fallback and self.base_url.startswith("https://")
        self._sleep = sleep
        self._max_wait = max_wait
        self._session = requests.Session()
        self._session.trust_env = False  # REQUESTS_CA_BUNDLE must not replace `verify`
        self._session.headers["User-Agent"] = f"regmirror/{__version__}"
        self.requests_sent = 0
        self.throttled = 0  # rate-limited answers seen

    def close(self) -> None:
        self._session.close()

    @property
    def host(self) -> str:
        return urlsplit(self.base_url).netloc.lower()

    def url(self, path: str) -> str:
        return path if "://" in path else f"{self.base_url}{path}"

    def same_host(self, url: str) -> bool:
        return urlsplit(url).netloc.lower() == self.host

    def resolve_next(self, current: str, link: Any, seen: set[str]) -> str | None:
        """The absolute URL of a `next` link; refuses other hosts (our token would go there) and loops."""
        if not isinstance(link, str) or not link:
            return None
        url = urljoin(current, link)
        if not self.same_host(url):
            raise ListerError(f"{self.what}: refusing to follow a next link to another host: {url}")
        if url in seen:
            raise ListerError(f"{self.what}: paging loops back to {url}")
        seen.add(url)
        return url

    # -- sending ------------------------------------------------------------------------------
    def _send_once(self, method: str, url: str, headers: Mapping[str, str], body: Any) -> requests.Response:
        self.requests_sent += 1
        try:
            return self._session.request(
                method,
                url,
                headers=dict(headers),
                json=body,
                verify=self._verify,
                timeout=self._timeout,
                proxies=dict(get_environ_proxies(url)),
                allow_redirects=True,  # requests drops Authorization when a redirect changes host
                stream=True,  # bodies are read with a size cap
            )
        except requests.exceptions.Timeout as exc:
            raise ListerError(
                f"{self.what}: {method} {_path(url)} timed out ({exc.__class__.__name__})"
            ) from None

    def _send(self, method: str, url: str, headers: Mapping[str, str], body: Any) -> requests.Response:
        try:
            return self._send_once(method, url, headers, body)
        except _TRANSPORT_ERRORS as exc:
            if not (self._http_fallback and url.startswith("https://")):
                raise ListerError(f"{self.what}: cannot reach {_origin(url)}: {_short(exc)}") from None
        log.info("%s: HTTPS failed, falling back to plain HTTP", self.what)
        self.base_url = "http://" + self.base_url.removeprefix("https://")
        self._http_fallback = False
        url = "http://" + url.removeprefix("https://")
        try:
            return self._send_once(method, url, headers, body)
        except _TRANSPORT_ERRORS as exc:
            raise ListerError(
                f"{self.what}: cannot reach {_origin(url)} over HTTPS or HTTP: {_short(exc)}"
            ) from None

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


def _short(exc: BaseException) -> str:
    text = str(exc)
    return f"{exc.__class__.__name__}: {text[:200]}" if text else exc.__class__.__name__


def endpoint_verify(endpoint: Any) -> bool | str:
    """`verify=` for a registry's own host: off with skip-tls-verify, else its CA file or the system CAs."""
    if getattr(endpoint, "insecure", False) or not getattr(endpoint, "verify_tls", True):
        return False
    ca_file: str | None = getattr(endpoint, "ca_file", None)
    return ca_file or True


def api_verify(source: Any, base_url: str) -> bool | str:
    """`verify=` for a lister's web API: the registry's own TLS settings when the API is on the
    registry's host; otherwise the source's CA file or the system CAs (skip-tls-verify of the
    registry never switches off verification of another host)."""
    endpoint = source.endpoint() if callable(getattr(source, "endpoint", None)) else None
    if endpoint is not None and urlsplit(base_url).netloc.lower() == str(endpoint.host).lower():
        return endpoint_verify(endpoint)
    ca_file: str | None = getattr(source, "ca_file", None)
    return ca_file or True
