"""A fault-injecting reverse proxy on 127.0.0.1 in front of a test-bed registry.

Clients (our requests-based client, skopeo) talk to `proxy.host` as if it were the registry; the
proxy forwards every request to the real registry over loopback, streaming bodies both ways, and
rewrites `Location`/`Link`/`Content-Location` headers that name the registry so uploads and paging
come back through the proxy.

Faults, chosen per request by the first matching `Rule`, else at random with probability `rate`
(seeded `random.Random`, so a run's fault density is reproducible; which request gets which fault
depends on thread timing):

    500 502 503          answered by the proxy, nothing forwarded (no side effect upstream)
    429                  Too Many Requests without `Retry-After`
    429-retry-after      ... with `Retry-After: <retry_after seconds>`
    429-retry-date       ... with `Retry-After: <HTTP date retry_after seconds ahead>`
    reset                GET only: half the body, then a TCP reset (SO_LINGER 0)
    truncate             GET only: half the body under the full Content-Length, then a clean close
    slow                 wait `slow_seconds`, then forward normally

`counts()` gives what was injected per kind; `records()` every request with its fault.

`overrides[(method, path)] = fn(query) -> (status, headers, body pieces)` answers a path itself instead
of forwarding it (`pattern_overrides[(method, compiled regex)]`: every path the regex matches in full,
`fn(path?query)`) (a hostile catalog in front of a real registry); without a Content-Length header the
body is streamed chunked, piece by piece, so it can be far larger than memory. `sent(path)` tells how
many body bytes an override got out before the client stopped reading. `on_manifest_put(path, status,
body) -> extra headers` sees every manifest PUT the registry answered, with its body.
"""

from __future__ import annotations

import email.utils
import http.client
import random
import re
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, BinaryIO

STATUS_FAULTS = ("500", "502", "503", "429", "429-retry-after", "429-retry-date")
BODY_FAULTS = ("reset", "truncate")
ALL_FAULTS = (*STATUS_FAULTS, *BODY_FAULTS, "slow")
# The random mix of the "20% of requests fail" figure: everything that makes a request fail.
RANDOM_FAULTS = (*STATUS_FAULTS, *BODY_FAULTS)

_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
_REWRITTEN = ("location", "link", "content-location")
_REASONS = {
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    429: "Too Many Requests",
}
_PIECE = 64 * 1024

Override = Callable[[str], tuple[int, dict[str, str], Iterable[bytes]]]


@dataclass
class Rule:
    """Inject `fault` into requests matching `method` (None: any) and `path` (regex, full match on the
    path without query; None: any), after letting `skip` matching requests through, at most `times`
    times (None: every time)."""

    fault: str
    method: str | None = None
    path: str | None = None
    times: int | None = None
    skip: int = 0

    def __post_init__(self) -> None:
        if self.fault not in ALL_FAULTS:
            raise ValueError(f"unknown fault {self.fault!r}; known: {', '.join(ALL_FAULTS)}")
        self._pattern = re.compile(self.path) if self.path else None
        self._seen = 0
        self._used = 0

    def take(self, method: str, path: str) -> bool:
        """Whether this rule fires for the request (counts it); called under the proxy's lock."""
        if self.method is not None and self.method != method:
            return False
        if self._pattern is not None and not self._pattern.fullmatch(path):
            return False
        if self.fault in BODY_FAULTS and method != "GET":
            return False
        self._seen += 1
        if self._seen <= self.skip or (self.times is not None and self._used >= self.times):
            return False
        self._used += 1
        return True


@dataclass(frozen=True)
class ProxyRecord:
    method: str
    path: str
    status: int | None  # what the client was told (None when the connection was cut before headers)
    fault: str | None


class FaultProxy:
    """Reverse proxy to `upstream` ("127.0.0.1:PORT", plain HTTP). Use as a context manager."""

    def __init__(
        self,
        upstream: str,
        *,
        rules: Iterable[Rule] = (),
        rate: float = 0.0,
        faults: Sequence[str] = RANDOM_FAULTS,
        seed: int = 0,
        retry_after: int = 1,
        slow_seconds: float = 0.5,
        extra_headers: dict[str, str] | None = None,
    ) -> None:
        self.upstream = upstream
        self.rules = list(rules)
        self.rate = rate
        self.faults = tuple(faults)
        self.retry_after = retry_after
        self.slow_seconds = slow_seconds
        self.extra_headers = dict(extra_headers or {})  # added to every forwarded answer
        self.overrides: dict[tuple[str, str], Override] = {}
        self.pattern_overrides: dict[tuple[str, re.Pattern[str]], Override] = {}
        self.on_manifest_put: Callable[[str, int, bytes], dict[str, str]] | None = None
        self._sent: Counter[str] = Counter()
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._injected: Counter[str] = Counter()
        self._records: list[ProxyRecord] = []
        self._httpd = _QuietServer(("127.0.0.1", 0), _handler_for(self))
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="faultproxy", daemon=True)
        self._thread.start()

    # -- addresses and results ------------------------------------------------------------------
    @property
    def host(self) -> str:
        return f"127.0.0.1:{self._httpd.server_address[1]}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def counts(self) -> dict[str, int]:
        """Faults injected so far, per kind (only those actually applied)."""
        with self._lock:
            return dict(self._injected)

    def injected(self) -> int:
        return sum(self.counts().values())

    def records(self) -> list[ProxyRecord]:
        with self._lock:
            return list(self._records)

    def sent(self, path: str) -> int:
        """Body bytes an override wrote for `path` (all requests)."""
        with self._lock:
            return self._sent[path]

    def add_sent(self, path: str, count: int) -> None:
        with self._lock:
            self._sent[path] += count

    def reset_counts(self) -> None:
        with self._lock:
            self._injected.clear()
            self._records.clear()

    # -- lifecycle ------------------------------------------------------------------------------
    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"FaultProxy({self.host} -> {self.upstream}, rate={self.rate})"

    # -- decisions (called by the handler) ------------------------------------------------------
    def choose(self, method: str, path: str) -> str | None:
        with self._lock:
            for rule in self.rules:
                if rule.take(method, path):
                    return rule.fault
            if self.rate <= 0 or self._rng.random() >= self.rate:
                return None
            usable = [f for f in self.faults if f not in BODY_FAULTS or method == "GET"]
            return self._rng.choice(usable) if usable else None

    def note(self, method: str, path: str, status: int | None, fault: str | None) -> None:
        with self._lock:
            if fault is not None:
                self._injected[fault] += 1
            self._records.append(ProxyRecord(method, path, status, fault))

    def override_for(self, method: str, path: str, query: str) -> Callable[[], Any] | None:
        exact = self.overrides.get((method, path))
        if exact is not None:
            return lambda: exact(query)
        for (wanted, pattern), override in self.pattern_overrides.items():
            if method == wanted and pattern.fullmatch(path):
                return lambda: override(f"{path}?{query}")
        return None

    def rewrite(self, value: str) -> str:
        """Header values naming the registry name the proxy instead."""
        return value.replace(f"//{self.upstream}", f"//{self.host}")


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up mid-answer (it gave up, or we reset it) is not news."""


# -- the handler ---------------------------------------------------------------------------------
def _read_chunked(rfile: BinaryIO) -> Iterator[bytes]:
    """De-chunk a `Transfer-Encoding: chunked` request body as it arrives."""
    while True:
        line = rfile.readline(65537)
        size = int(line.split(b";", 1)[0].strip() or b"0", 16)
        if size == 0:
            while rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                pass  # trailers
            return
        data = rfile.read(size)
        rfile.readline()
        yield data


def _read_sized(rfile: BinaryIO, length: int) -> Iterator[bytes]:
    while length > 0:
        data = rfile.read(min(_PIECE, length))
        if not data:
            return
        length -= len(data)
        yield data


def _handler_for(proxy: FaultProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            return

        # every method goes the same way
        def do_GET(self) -> None:
            self._handle()

        do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = do_GET

        @property
        def _path_only(self) -> str:
            return self.path.split("?", 1)[0]

        def _request_body(self) -> tuple[Iterator[bytes], bool]:
            """(body pieces, chunked?)."""
            if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                return _read_chunked(self.rfile), True  # type: ignore[arg-type]
            length = int(self.headers.get("Content-Length") or 0)
            return _read_sized(self.rfile, length), False  # type: ignore[arg-type]

        def _handle(self) -> None:
            method, path = self.command, self._path_only
            fault = proxy.choose(method, path)
            body, chunked = self._request_body()
            if fault in STATUS_FAULTS:
                for _ in body:  # drain, so the connection stays usable
                    pass
                status = 429 if fault.startswith("429") else int(fault)
                proxy.note(method, path, status, fault)  # before answering: the client may act at once
                self._fail(fault, status)
                return
            if fault == "slow":
                time.sleep(proxy.slow_seconds)
            override = proxy.override_for(method, path, self.path.partition("?")[2])
            if override is not None:
                for _ in body:
                    pass
                proxy.note(method, path, None, None)
                self._answer_override(override, path)
                return
            self._forward(body, chunked, fault)

        def _answer_override(self, override: Callable[[], Any], path: str) -> None:
            status, headers, pieces = override()
            self.send_response_only(status)
            for name, value in headers.items():
                self.send_header(name, value)
            streamed = "Content-Length" not in headers
            if streamed:
                self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            if self.command == "HEAD":
                return
            try:
                for piece in pieces:
                    self._write(piece, streamed)
                    proxy.add_sent(path, len(piece))
                if streamed:
                    self.wfile.write(b"0\r\n\r\n")
            except OSError:  # the client stopped reading (as it should, past its size cap)
                self.close_connection = True

        def _fail(self, fault: str, status: int) -> None:
            code = "TOOMANYREQUESTS" if status == 429 else "UNAVAILABLE"
            payload = f'{{"errors":[{{"code":"{code}","message":"injected by faultproxy"}}]}}'.encode()
            self.send_response(status, _REASONS[status])
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            if fault == "429-retry-after":
                self.send_header("Retry-After", str(proxy.retry_after))
            elif fault == "429-retry-date":
                when = time.time() + proxy.retry_after + 1  # +1: the date has whole seconds
                self.send_header("Retry-After", email.utils.formatdate(when, usegmt=True))
            self.end_headers()
            if self.command != "HEAD":  # a HEAD answer has headers only, Content-Length included
                self.wfile.write(payload)

        def _open_upstream(self, chunked: bool) -> http.client.HTTPConnection:
            conn = http.client.HTTPConnection(proxy.upstream, timeout=120)
            conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
            conn.putheader("Host", proxy.upstream)
            for name, value in self.headers.items():
                if name.lower() not in _HOP_BY_HOP and name.lower() != "host":
                    conn.putheader(name, value)
            if chunked:
                conn.putheader("Transfer-Encoding", "chunked")
            conn.endheaders()
            return conn

        def _forward(self, body: Iterator[bytes], chunked: bool, fault: str | None) -> None:
            conn = self._open_upstream(chunked)
            watched = proxy.on_manifest_put is not None and self.command == "PUT"
            watched = watched and "/manifests/" in self._path_only
            sent: list[bytes] = []
            try:
                for piece in body:
                    conn.send(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
                    if watched:
                        sent.append(piece)
                if chunked:
                    conn.send(b"0\r\n\r\n")
                answer = conn.getresponse()
                if watched and proxy.on_manifest_put is not None:
                    self.extra = proxy.on_manifest_put(self._path_only, answer.status, b"".join(sent))
                has_body = self.command != "HEAD" and answer.status not in (204, 304)
                length = answer.getheader("Content-Length")
                cut = self._cut_at(fault, length) if has_body else None
                applied = fault if cut is not None or fault == "slow" else None
                proxy.note(self.command, self._path_only, answer.status, applied)
                self._relay(answer, has_body, length, cut, fault == "reset")
            finally:
                conn.close()

        def _relay(
            self,
            answer: http.client.HTTPResponse,
            has_body: bool,
            length: str | None,
            cut: int | None,
            reset: bool,
        ) -> None:
            """Send the upstream answer on; with `cut`, break the connection after that many body bytes."""
            self.send_response_only(answer.status, answer.reason)
            for name, value in answer.getheaders():
                lowered = name.lower()
                if lowered in _HOP_BY_HOP:
                    continue
                self.send_header(name, proxy.rewrite(value) if lowered in _REWRITTEN else value)
            for name, value in {**proxy.extra_headers, **getattr(self, "extra", {})}.items():
                self.send_header(name, value)
            self.extra = {}
            streamed = has_body and length is None
            if streamed:
                self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            if has_body:
                self._copy_body(answer, streamed, cut, reset)

        @staticmethod
        def _cut_at(fault: str | None, length: str | None) -> int | None:
            if fault not in BODY_FAULTS or not (length and length.isdigit()) or int(length) < 2:
                return None  # distribution always sends Content-Length on what we cut
            return int(length) // 2

        def _copy_body(
            self, answer: http.client.HTTPResponse, streamed: bool, cut: int | None, reset: bool
        ) -> None:
            sent = 0
            while piece := answer.read(_PIECE):
                if cut is not None and sent + len(piece) >= cut:
                    self._write(piece[: cut - sent], streamed)
                    self._break_connection(reset=reset)
                    return
                self._write(piece, streamed)
                sent += len(piece)
            if streamed:
                self.wfile.write(b"0\r\n\r\n")

        def _write(self, piece: bytes, streamed: bool) -> None:
            if not piece:
                return
            self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece) if streamed else piece)

        def _break_connection(self, *, reset: bool) -> None:
            self.wfile.flush()
            self.close_connection = True
            sock: socket.socket = self.connection
            if reset:  # SO_LINGER 0: close() sends RST instead of FIN
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.rfile.close()  # drops the makefile reference so close() really closes the socket
            sock.close()

    return Handler
