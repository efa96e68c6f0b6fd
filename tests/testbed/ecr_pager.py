"""An HTTP front for a moto server that adds the ECR paging moto lacks.

moto 5.2 answers `DescribeRepositories` and `DescribeImages` with every item at once and ignores
`maxResults`/`nextToken`. The real API pages (maxResults 1..1000, default 100) and a client that
never follows `nextToken` silently loses everything after the first page. This front forwards every
request to moto unchanged, except those two operations: their full moto answer is cut into the page
asked for, with an opaque `nextToken`, exactly as ECR's contract says. The data is moto's.

It also records each paged call (`calls`) and can answer the next call of an operation with an AWS
error (`fail_next`), for error-path tests.
"""

from __future__ import annotations

import base64
import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests

TARGET_PREFIX = "AmazonEC2ContainerRegistry_V20150921."
PAGED = {"DescribeRepositories": "repositories", "DescribeImages": "imageDetails"}
DEFAULT_MAX_RESULTS = 100
_HOP_HEADERS = frozenset({"host", "content-length", "connection", "transfer-encoding", "accept-encoding"})


@dataclass(frozen=True)
class PagedCall:
    operation: str
    max_results: int | None
    next_token: str | None
    returned: int


def _token(offset: int) -> str:
    return base64.b64encode(json.dumps({"offset": offset}).encode()).decode()


def _offset(token: str | None) -> int | None:
    if token is None:
        return 0
    try:
        value = json.loads(base64.b64decode(token))["offset"]
    except (ValueError, KeyError, TypeError):
        return None
    return value if isinstance(value, int) and value >= 0 else None


class EcrPager:
    """`EcrPager(moto_url)`; point AWS_ENDPOINT_URL at `.url`."""

    def __init__(self, moto_url: str) -> None:
        self.moto_url = moto_url.rstrip("/")
        self._lock = threading.Lock()
        self.calls: list[PagedCall] = []
        self._failures: dict[str, tuple[int, str, str]] = {}
        self._http = requests.Session()
        self._http.trust_env = False
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, args=(0.05,), name="ecr-pager", daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def fail_next(self, operation: str, code: str, message: str, status: int = 400) -> None:
        with self._lock:
            self._failures[operation] = (status, code, message)

    def paged_calls(self, operation: str) -> list[PagedCall]:
        with self._lock:
            return [c for c in self.calls if c.operation == operation]

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()
            self._failures.clear()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._http.close()

    # -- forwarding ---------------------------------------------------------------------------
    def _forward(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        answer = self._http.request(
            method, f"{self.moto_url}{path}", headers=headers, data=body, timeout=60, allow_redirects=False
        )
        out_headers = {
            k: v for k, v in answer.headers.items() if k.lower() not in _HOP_HEADERS | {"content-encoding"}
        }
        return answer.status_code, out_headers, answer.content

    def _failure(self, operation: str) -> tuple[int, dict[str, str], bytes] | None:
        with self._lock:
            failure = self._failures.pop(operation, None)
        if failure is None:
            return None
        status, code, message = failure
        body = json.dumps({"__type": code, "message": message}).encode()
        return status, {"Content-Type": "application/x-amz-json-1.1", "x-amzn-ErrorType": code}, body

    def _paged(
        self, operation: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        request = json.loads(body or b"{}")
        max_results = request.pop("maxResults", None)
        token = request.pop("nextToken", None)
        offset = _offset(token)
        if offset is None:
            error = {"__type": "InvalidParameterException", "message": "Invalid parameter: nextToken"}
            return 400, {"Content-Type": "application/x-amz-json-1.1"}, json.dumps(error).encode()
        status, out_headers, content = self._forward("POST", "/", headers, json.dumps(request).encode())
        if status != 200:
            return status, out_headers, content
        answer = json.loads(content)
        key = PAGED[operation]
        items = answer.get(key, [])
        size = int(max_results or DEFAULT_MAX_RESULTS)
        answer[key] = items[offset : offset + size]
        answer.pop("nextToken", None)
        if offset + size < len(items):
            answer["nextToken"] = _token(offset + size)
        with self._lock:
            self.calls.append(PagedCall(operation, max_results, token, len(answer[key])))
        return 200, out_headers, json.dumps(answer).encode()

    def handle(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        target = headers.get("X-Amz-Target", "")
        operation = target.removeprefix(TARGET_PREFIX) if target.startswith(TARGET_PREFIX) else ""
        failure = self._failure(operation) if operation else None
        if failure is not None:
            return failure
        if method == "POST" and operation in PAGED:
            return self._paged(operation, headers, body)
        return self._forward(method, path, headers, body)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        pager = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out in two writes

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_HEADERS}
                status, out_headers, content = pager.handle(self.command, self.path, headers, body)
                self.send_response(status)
                for name, value in out_headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            do_GET = _serve
            do_POST = _serve
            do_PUT = _serve
            do_DELETE = _serve

            def log_message(self, format: str, *args: Any) -> None:
                return

        return Handler
