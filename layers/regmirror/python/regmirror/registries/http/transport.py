"""Sending one request to one host: the session, `verify=`, (connect, read) timeouts, proxies, streamed
bodies, request counts per kind, and every answer's headers to an observer (rate-limit budgets).

Failures are left to the caller to word: a timeout raises `TimedOut`, an unreachable host raises one of
`TRANSPORT_ERRORS` (the caller may fall back to plain HTTP, see `fallback`), other requests errors pass.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import requests
import urllib3

from regmirror.registries.http.fallback import SchemeChoice
from regmirror.registries.http.session import USER_AGENT, ProxyCache, new_session, timeouts

Observer = Callable[[int, Mapping[str, str]], None]  # (status, headers) of every answer


class TimedOut(Exception):
    """The request timed out (connecting or reading)."""

    def __init__(self, method: str, url: str, cause: BaseException) -> None:
        super().__init__(f"{method} {url} timed out ({cause.__class__.__name__})")
        self.method, self.url, self.cause = method, url, cause


class RequestStats:
    """Requests sent, per kind (e.g. "manifest_head"), and the quickest answer; thread-safe."""

    def __init__(self, kinds: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._counts = dict.fromkeys(kinds, 0)
        self._fastest: float | None = None

    def count(self, kind: str) -> None:
        with self._lock:
            self._counts[kind] = self._counts.get(kind, 0) + 1

    def answered(self, seconds: float) -> None:
        """One answer's time, from sending the request to its headers."""
        with self._lock:
            if self._fastest is None or seconds < self._fastest:
                self._fastest = seconds

    @property
    def fastest(self) -> float | None:
        """The quickest answer so far (None before the first): the host's round trip, or close above
        it (the first answers also paid for connecting, every answer for the registry's own work)."""
        with self._lock:
            return self._fastest

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    @property
    def total(self) -> int:
        with self._lock:
            return sum(self._counts.values())


class Transport:
    """Requests to one host, `verify=` and scheme as given. Thread-safe: one per client."""

    def __init__(
        self,
        *,
        verify: bool | str,
        schemes: SchemeChoice,
        cert: tuple[str, str] | None = None,
        timeout: float = 30.0,
        user_agent: str = USER_AGENT,
        pool_size: int | None = None,
        stat_kinds: Iterable[str] = (),
        observe: Observer | None = None,
    ) -> None:
        self.timeout = timeouts(timeout)
        self.verify = verify
        self.cert = cert  # a client certificate and key (mutual TLS), from the host's certs.d folder
        self.session, self.adapter = new_session(user_agent, pool_size=pool_size)  # pools serve lean_head too
        self.user_agent = user_agent
        self.pool_timeout = urllib3.Timeout(connect=self.timeout[0], read=self.timeout[1])
        self.schemes = schemes
        self.proxies = ProxyCache()
        self.stats = RequestStats(stat_kinds)
        self._observe = observe

    def close(self) -> None:
        self.session.close()

    def send(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        *,
        kind: str,
        auth: Any = None,
        json: Any = None,
        data: Mapping[str, str] | bytes | None = None,
        timeout: float | None = None,
    ) -> requests.Response:
        """One request, body streamed (read it with `body.read_capped`); redirects followed (requests
        drops Authorization when a redirect changes host). `timeout` replaces the transport's own."""
        self.stats.count(kind)
        try:
            answer = self.session.request(
                method,
                url,
                headers=dict(headers),
                auth=auth,
                json=json,
                data=data,
                verify=self.verify,
                cert=self.cert,
                timeout=self.timeout if timeout is None else timeouts(timeout),
                proxies=self.proxies.for_url(url),
                allow_redirects=True,
                stream=True,
            )
        except requests.exceptions.Timeout as exc:
            raise TimedOut(method, url, exc) from None
        self.stats.answered(answer.elapsed.total_seconds())
        if self._observe is not None:
            self._observe(answer.status_code, answer.headers)
        return answer

    def observe(self, status: int, headers: Mapping[str, str]) -> None:
        """An answer that came another way (the lean HEAD path) is observed too."""
        if self._observe is not None:
            self._observe(status, headers)
