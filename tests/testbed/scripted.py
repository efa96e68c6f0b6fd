"""A loopback HTTP server answering from a script: for registry behaviour distribution never shows
(malformed JSON, absolute or foreign `Link`s, HEAD without a digest, invalid names, huge bodies)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

Answer = tuple[int, dict[str, str], bytes]
Route = Callable[["ScriptedRequest"], Answer]


@dataclass(frozen=True)
class ScriptedRequest:
    method: str
    path: str
    query: str
    headers: dict[str, str] = field(default_factory=dict)


class ScriptedServer:
    """`routes[(method, path)] = fn(request) -> (status, headers, body)`; unknown routes answer 404."""

    def __init__(self, routes: dict[tuple[str, str], Route]) -> None:
        self.routes = routes
        self.seen: list[ScriptedRequest] = []
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, name="scripted", daemon=True).start()

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self._httpd.server_address[1]}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> ScriptedServer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _answer(self, method: str, raw_path: str, headers: dict[str, str]) -> Answer:
        url = urlsplit(raw_path)
        request = ScriptedRequest(method, url.path, url.query, headers)
        with self._lock:
            self.seen.append(request)
        route = self.routes.get((method, url.path))
        if route is None:
            return 404, {"Content-Type": "application/json"}, b'{"errors":[{"code":"NOT_FOUND"}]}'
        return route(request)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _reply(self, with_body: bool) -> None:
                status, headers, body = server._answer(self.command, self.path, dict(self.headers.items()))
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                if "Content-Length" not in headers:
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if with_body:
                    self.wfile.write(body)

            def do_GET(self) -> None:
                self._reply(True)

            def do_HEAD(self) -> None:
                self._reply(False)

            def log_message(self, format: str, *args: Any) -> None:
                return

        return Handler


def json_answer(body: bytes | str, status: int = 200, **headers: str) -> Answer:
    data = body.encode() if isinstance(body, str) else body
    return status, {"Content-Type": "application/json", **headers}, data
