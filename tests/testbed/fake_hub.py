"""A loopback Docker Hub API (hub.docker.com + index.docker.io search) for lister tests.

Answers with the real API's response shapes:

- `POST /v2/users/login[/]` `{"username", "password"}` (password or personal access token) →
  `{"token": <JWT>}`; 401 `{"detail": "Incorrect authentication credentials"}` otherwise.
- `GET /v2/repositories/<namespace>/?page_size=&page=` → `{"count", "next", "previous", "results"}`,
  `next`/`previous` absolute URLs; private repositories only for a valid JWT of the owner or an
  organisation member; 401 for a bad or expired JWT; 404 for an unknown namespace or page.
- `GET /v2/repositories/<namespace>/<name>/tags?page_size=&page=` → tags with `name` and `digest`.
- `GET /v1/search?q=&n=&page=` → `{"num_pages", "num_results", "page", "page_size", "query", "results"}`.
- Rate limiting on request: `throttle(count, retry_after=...)` answers the next `count` API calls
  with 429 and `Retry-After` (plus the X-RateLimit headers Docker Hub sends).

Every request is recorded (`requests()`), without credentials. Optional TLS with its own CA.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import re
import secrets
import ssl
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from tests.testbed.tls import TlsFiles, make_tls_files

MAX_PAGE_SIZE = 100
_REPOS = re.compile(r"/v2/repositories/(?P<ns>[^/]+)/?")
_TAGS = re.compile(r"/v2/repositories/(?P<ns>[^/]+)/(?P<name>[^/]+)/tags/?")


@dataclass
class HubRepository:
    namespace: str
    name: str
    private: bool = False
    repository_type: str | None = "image"
    description: str = ""
    star_count: int = 0
    pull_count: int = 0
    tags: dict[str, str] = field(default_factory=dict)  # tag -> digest

    @property
    def full_name(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def is_official(self) -> bool:
        return self.namespace == "library"

    def api_entry(self) -> dict[str, Any]:
        """One `results[]` entry of `/v2/repositories/<namespace>/`."""
        return {
            "name": self.name,
            "namespace": self.namespace,
            "repository_type": self.repository_type,
            "status": 1,
            "status_description": "active",
            "description": self.description,
            "is_private": self.private,
            "star_count": self.star_count,
            "pull_count": self.pull_count,
            "last_updated": "2024-05-01T10:00:00.000000Z",
            "last_modified": "2024-05-01T10:00:00.000000Z",
            "date_registered": "2020-01-01T00:00:00.000000Z",
            "affiliation": "",
            "media_types": ["application/vnd.docker.container.image.v1+json"],
            "content_types": ["image"] if self.repository_type in (None, "image") else [self.repository_type],
            "categories": [],
            "storage_size": 0,
        }

    def search_entry(self) -> dict[str, Any]:
        """One `results[]` entry of `/v1/search` (official images are named without `library/`)."""
        return {
            "name": self.name if self.is_official else self.full_name,
            "description": self.description,
            "star_count": self.star_count,
            "is_trusted": False,
            "is_automated": False,
            "is_official": self.is_official,
        }


@dataclass(frozen=True)
class HubRequest:
    method: str
    path: str
    query: dict[str, str]
    status: int
    authorized_as: str | None  # user of a valid JWT sent with the request
    auth_scheme: str | None  # scheme of the Authorization header ("Bearer", "Basic", ...)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class FakeHub:
    """`FakeHub(users={"alice": "pw"})`; add repositories, point `lister.baseUrl` at `.url`."""

    def __init__(
        self,
        *,
        users: dict[str, str] | None = None,
        access_tokens: dict[str, str] | None = None,  # PAT -> username
        members: dict[str, set[str]] | None = None,  # organisation -> users
        two_factor: set[str] | None = None,  # users whose password login needs a second factor
        tls_dir: Path | None = None,
        token_lifetime: int = 3600,
    ) -> None:
        self.users = dict(users or {})
        self.access_tokens = dict(access_tokens or {})
        self.members = {org: set(users_) for org, users_ in (members or {}).items()}
        self.two_factor = set(two_factor or ())
        self.token_lifetime = token_lifetime
        self.repositories: dict[str, HubRepository] = {}
        self.search_limit: int | None = None  # cap on num_results, like the real index
        self._secret = secrets.token_bytes(32)
        self._epoch = 0  # bumped by expire_tokens(): older JWTs stop being valid
        self._lock = threading.Lock()
        self._log: list[HubRequest] = []
        self._throttle_left = 0
        self._retry_after = "1"
        self.tls: TlsFiles | None = make_tls_files(tls_dir) if tls_dir is not None else None
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        if self.tls is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(self.tls.cert_file, self.tls.key_file)
            self._httpd.socket = context.wrap_socket(self._httpd.socket, server_side=True)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, args=(0.05,), name="fake-hub", daemon=True
        )
        self._thread.start()

    # -- setup and inspection -------------------------------------------------------------------
    @property
    def url(self) -> str:
        port = self._httpd.server_address[1]
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{port}"

    @property
    def ca_file(self) -> str | None:
        return str(self.tls.ca_file) if self.tls else None

    def add(self, full_name: str, **kwargs: Any) -> HubRepository:
        namespace, _, name = full_name.partition("/")
        repo = HubRepository(namespace, name, **kwargs)
        with self._lock:
            self.repositories[repo.full_name] = repo
        return repo

    def add_many(self, names: list[str], **kwargs: Any) -> None:
        for name in names:
            self.add(name, **kwargs)

    def throttle(self, count: int, retry_after: str = "1") -> None:
        """Answer the next `count` API calls with 429 and this `Retry-After` value."""
        with self._lock:
            self._throttle_left = count
            self._retry_after = retry_after

    def expire_tokens(self) -> None:
        with self._lock:
            self._epoch += 1

    def requests(self, path_regex: str = ".*", method: str | None = None) -> list[HubRequest]:
        with self._lock:
            log = list(self._log)
        return [r for r in log if re.fullmatch(path_regex, r.path) and (method is None or r.method == method)]

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> FakeHub:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- JWTs -----------------------------------------------------------------------------------
    def issue_token(self, username: str) -> str:
        header = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        now = int(time.time())
        claims = {
            "sub": username,
            "username": username,
            "iat": now,
            "exp": now + self.token_lifetime,
            "epoch": self._epoch,
            "jti": secrets.token_hex(8),
        }
        body = _b64url(json.dumps(claims).encode())
        signature = hmac.new(self._secret, f"{header}.{body}".encode(), hashlib.sha256).digest()
        return f"{header}.{body}.{_b64url(signature)}"

    def _token_user(self, token: str) -> str | None:
        parts = token.split(".")
        if len(parts) != 3:
            return None
        expected = hmac.new(self._secret, f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256).digest()
        try:
            if not hmac.compare_digest(expected, _b64url_decode(parts[2])):
                return None
            claims = json.loads(_b64url_decode(parts[1]))
        except ValueError:
            return None
        if claims.get("epoch") != self._epoch or claims.get("exp", 0) < time.time():
            return None
        user = claims.get("username")
        return user if isinstance(user, str) else None

    # -- request handling -----------------------------------------------------------------------
    def _login(self, body: Any) -> tuple[int, dict[str, Any], dict[str, str]]:
        if not isinstance(body, dict):
            return 400, {"detail": "JSON body with username and password required"}, {}
        username, password = str(body.get("username", "")), str(body.get("password", ""))
        if self.access_tokens.get(password) == username:
            return 200, {"token": self.issue_token(username)}, {}
        if self.users.get(username) == password and username in self.two_factor:
            body = {
                "detail": "Require secondary authentication on MFA enabled account",
                "login_2fa_token": "x",
            }
            return 401, body, {}
        if self.users.get(username) == password:
            return 200, {"token": self.issue_token(username)}, {}
        return 401, {"detail": "Incorrect authentication credentials"}, {}

    def _visible(self, repo: HubRepository, user: str | None) -> bool:
        if not repo.private:
            return True
        return user is not None and (
            user == repo.namespace or user in self.members.get(repo.namespace, set())
        )

    @staticmethod
    def _page_params(query: dict[str, str], size_key: str) -> tuple[int, int] | None:
        try:
            size = min(max(1, int(query.get(size_key, "10"))), MAX_PAGE_SIZE)
            page = int(query.get("page", "1"))
        except ValueError:
            return None
        return (size, page) if page >= 1 else None

    def _paged(
        self, items: list[dict[str, Any]], path: str, query: dict[str, str]
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        params = self._page_params(query, "page_size")
        if params is None:
            return 400, {"detail": "Invalid page or page_size."}, {}
        size, page = params
        pages = max(1, math.ceil(len(items) / size))
        if page > pages:
            return 404, {"detail": "Invalid page."}, {}

        def link(number: int) -> str | None:
            if not 1 <= number <= pages:
                return None
            return f"{self.url}{path}?{urlencode({**query, 'page': number, 'page_size': size})}"

        body = {
            "count": len(items),
            "next": link(page + 1),
            "previous": link(page - 1),
            "results": items[(page - 1) * size : page * size],
        }
        return 200, body, {}

    def _namespace(self, namespace: str, path: str, query: dict[str, str], user: str | None) -> Any:
        with self._lock:
            all_repos = [r for r in self.repositories.values() if r.namespace == namespace]
        if not all_repos and namespace not in self.users and namespace not in self.members:
            return 404, {"message": "httperror 404: object not found", "errinfo": {}}, {}
        visible = sorted((r for r in all_repos if self._visible(r, user)), key=lambda r: r.name)
        return self._paged([r.api_entry() for r in visible], path, query)

    def _tags(self, namespace: str, name: str, path: str, query: dict[str, str], user: str | None) -> Any:
        with self._lock:
            repo = self.repositories.get(f"{namespace}/{name}")
        if repo is None or not self._visible(repo, user):
            return 404, {"message": "httperror 404: object not found", "errinfo": {}}, {}
        entries = [
            {"name": tag, "digest": digest, "images": [], "tag_status": "active", "content_type": "image"}
            for tag, digest in sorted(repo.tags.items())
        ]
        return self._paged(entries, path, query)

    def _search(self, query: dict[str, str]) -> Any:
        params = self._page_params(query, "n")
        if params is None:
            return 400, {"detail": "Invalid page or n."}, {}
        size, page = params
        term = query.get("q", "").lower()
        with self._lock:
            hits = [r for r in self.repositories.values() if not r.private and r.repository_type == "image"]
        hits = [r for r in hits if term in r.full_name.lower() or term in r.description.lower()]
        hits.sort(key=lambda r: (-r.star_count, r.full_name))
        if self.search_limit is not None:
            hits = hits[: self.search_limit]
        pages = math.ceil(len(hits) / size)
        body = {
            "num_pages": pages,
            "num_results": len(hits),
            "page": page,
            "page_size": size,
            "query": query.get("q", ""),
            "results": [r.search_entry() for r in hits[(page - 1) * size : page * size]],
        }
        return 200, body, {}

    def _throttled(self) -> dict[str, str] | None:
        with self._lock:
            if self._throttle_left <= 0:
                return None
            self._throttle_left -= 1
            retry_after = self._retry_after
        return {
            "Retry-After": retry_after,
            "X-RateLimit-Limit": "180",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": str(int(time.time()) + 1),
        }

    def _user_of(self, header: str | None) -> tuple[str | None, bool]:
        """(user, acceptable): no header is anonymous; a bad or expired JWT is not acceptable."""
        if not header:
            return None, True
        scheme, _, value = header.partition(" ")
        if scheme.lower() not in ("bearer", "jwt"):
            return None, False
        user = self._token_user(value.strip())
        return user, user is not None

    def _route_get(self, path: str, query: dict[str, str], user: str | None) -> Any:
        tags = _TAGS.fullmatch(path)
        if tags:
            return self._tags(tags["ns"], tags["name"], path, query, user)
        repos = _REPOS.fullmatch(path)
        if repos:
            return self._namespace(repos["ns"], path, query, user)
        return 404, {"detail": "Not found."}, {}

    def answer(
        self, method: str, raw_path: str, headers: Any, body: bytes
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        url = urlsplit(raw_path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        extra = self._throttled()
        if extra is not None:
            return 429, {"detail": "Too Many Requests"}, extra
        if method == "POST" and url.path.rstrip("/") == "/v2/users/login":
            try:
                return self._login(json.loads(body or b"null"))
            except ValueError:
                return 400, {"detail": "malformed JSON"}, {}
        if method != "GET":
            return 405, {"detail": f'Method "{method}" not allowed.'}, {}
        if url.path == "/v1/search":  # the index ignores credentials: public repositories only
            return self._search(query)
        user, acceptable = self._user_of(headers.get("Authorization"))
        if not acceptable:
            return 401, {"detail": "Authentication credentials were not provided or are invalid."}, {}
        return self._route_get(url.path, query, user)

    def _record(self, method: str, raw_path: str, status: int, header: str | None) -> None:
        url = urlsplit(raw_path)
        user, _ = self._user_of(header)
        scheme = header.split(" ", 1)[0] if header else None
        entry = HubRequest(
            method, url.path, {k: v[-1] for k, v in parse_qs(url.query).items()}, status, user, scheme
        )
        with self._lock:
            self._log.append(entry)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out in two writes

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status, payload, extra = hub.answer(self.command, self.path, self.headers, body)
                hub._record(self.command, self.path, status, self.headers.get("Authorization"))
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in extra.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            do_GET = _serve
            do_POST = _serve

            def log_message(self, format: str, *args: Any) -> None:
                return  # recorded in FakeHub._log

        return Handler
