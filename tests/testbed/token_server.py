"""A tiny Docker token server (the `auth: token:` realm of distribution) on 127.0.0.1.

It checks basic credentials, grants the scopes asked for (anonymous callers get nothing unless
`anonymous_pull`), signs ES256 JWTs the registry trusts through its `rootcertbundle`, and records
every request so tests can count token fetches and see which scopes were asked for.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from tests.testbed.tls import make_signing_key

ISSUER = "regmirror-testbed-issuer"
SERVICE = "regmirror-testbed-registry"


@dataclass(frozen=True)
class TokenRequest:
    account: str | None  # user from the basic credentials; None when anonymous
    scopes: tuple[str, ...]  # raw `scope` query values, in order
    service: str | None
    granted: bool  # False when credentials were refused (401)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def libtrust_key_id(public_key: ec.EllipticCurvePublicKey) -> str:
    """Key ID as docker/libtrust computes it (distribution looks trusted keys up by it)."""
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    encoded = base64.b32encode(hashlib.sha256(der).digest()[:30]).decode().rstrip("=")
    return ":".join(encoded[i : i + 4] for i in range(0, len(encoded), 4))


def parse_scope(scope: str) -> dict[str, Any] | None:
    """`repository:team/app:pull,push` -> access claim entry; None when malformed."""
    kind, _, rest = scope.partition(":")
    name, _, actions = rest.rpartition(":")
    if not kind or not name or not actions:
        return None
    return {"type": kind, "name": name, "actions": [a for a in actions.split(",") if a]}


class TokenServer:
    def __init__(
        self,
        directory: Path,
        users: dict[str, str],
        *,
        expires_in: int = 300,
        anonymous_pull: bool = False,
        token_field: Literal["token", "access_token", "both"] = "both",  # noqa: S107 - a JSON key
        catalog_access: bool = True,
    ) -> None:
        self.users = dict(users)
        self.expires_in = expires_in
        self.anonymous_pull = anonymous_pull
        self.token_field = token_field
        self.catalog_access = catalog_access  # False: like registries that never let anyone list
        self.refresh_tokens: dict[str, str] = {}  # identity token -> user (OAuth2 refresh-token grant)
        self._key, self.rootcertbundle = make_signing_key(directory)
        self._kid = libtrust_key_id(self._key.public_key())
        self._lock = threading.Lock()
        self._log: list[TokenRequest] = []
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="token-server", daemon=True)
        self._thread.start()

    # -- public ---------------------------------------------------------------------------------
    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def realm(self) -> str:
        return f"http://127.0.0.1:{self.port}/token"

    @property
    def issuer(self) -> str:
        return ISSUER

    @property
    def service(self) -> str:
        return SERVICE

    def token_requests(self) -> list[TokenRequest]:
        with self._lock:
            return list(self._log)

    def reset(self) -> None:
        with self._lock:
            self._log.clear()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    # -- token issuing --------------------------------------------------------------------------
    def _sign(self, account: str | None, access: list[dict[str, Any]]) -> str:
        now = int(time.time())
        header = {"typ": "JWT", "alg": "ES256", "kid": self._kid}
        claims = {
            "iss": ISSUER,
            "sub": account or "",
            "aud": SERVICE,
            "exp": now + self.expires_in,
            "nbf": now - 10,
            "iat": now,
            "jti": uuid.uuid4().hex,
            "access": access,
        }
        signing_input = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
        der = self._key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        return f"{signing_input}.{_b64url(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"

    def _grant(self, account: str | None, scopes: list[str]) -> list[dict[str, Any]]:
        access = []
        for scope in scopes:
            entry = parse_scope(scope)
            if entry is None or (entry["type"] == "registry" and not self.catalog_access):
                continue
            if account is None:
                if not (self.anonymous_pull and entry["type"] == "repository"):
                    continue
                entry["actions"] = [a for a in entry["actions"] if a == "pull"]
            access.append(entry)
        return access

    def _authenticate(self, header: str | None) -> tuple[bool, str | None]:
        """(credentials acceptable, account). No header means anonymous (acceptable, None)."""
        if not header:
            return True, None
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "basic":
            return False, None
        try:
            user, _, password = base64.b64decode(value.strip()).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False, None
        return self.users.get(user) == password, user

    def _answer(self, query: dict[str, list[str]], auth_header: str | None) -> tuple[int, dict[str, Any]]:
        ok, account = self._authenticate(auth_header)
        scopes = [s for value in query.get("scope", []) for s in value.split(" ") if s]
        service = next(iter(query.get("service", [])), None)
        with self._lock:
            self._log.append(TokenRequest(account, tuple(scopes), service, ok))
        if not ok:
            return 401, {"errors": [{"code": "UNAUTHORIZED", "message": "invalid credentials"}]}
        token = self._sign(account, self._grant(account, scopes))
        body: dict[str, Any] = {
            "expires_in": self.expires_in,
            "issued_at": time.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        if self.token_field in ("token", "both"):
            body["token"] = token
        if self.token_field in ("access_token", "both"):
            body["access_token"] = token
        return 200, body

    def _refresh(self, form: dict[str, list[str]]) -> tuple[int, dict[str, Any]]:
        """The OAuth2 refresh-token grant (POST /token), as `docker login` identity tokens use it."""
        grant = next(iter(form.get("grant_type", [])), "")
        refresh = next(iter(form.get("refresh_token", [])), "")
        account = self.refresh_tokens.get(refresh) if grant == "refresh_token" else None
        scopes = [s for value in form.get("scope", []) for s in value.split(" ") if s]
        with self._lock:
            self._log.append(TokenRequest(account, tuple(scopes), None, account is not None))
        if account is None:
            return 401, {"error": "invalid_grant"}
        token = self._sign(account, self._grant(account, scopes))
        return 200, {"access_token": token, "expires_in": self.expires_in, "scope": " ".join(scopes)}

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                if urlsplit(self.path).path != "/token":
                    self.send_error(404)
                    return
                form = parse_qs(self._body().decode())
                self._reply(*server._refresh(form))

            def _body(self) -> bytes:
                """The request body, sent with a length or chunked (Go's client chunks this one)."""
                if "chunked" not in self.headers.get("Transfer-Encoding", "").lower():
                    return self.rfile.read(int(self.headers.get("Content-Length") or 0))
                body = b""
                while (size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)) > 0:
                    body += self.rfile.read(size)
                    self.rfile.readline()
                self.rfile.readline()  # the end of the (empty) trailer
                return body

            def do_GET(self) -> None:
                url = urlsplit(self.path)
                if url.path != "/token":
                    self.send_error(404)
                    return
                self._reply(*server._answer(parse_qs(url.query), self.headers.get("Authorization")))

            def _reply(self, status: int, body: dict[str, Any]) -> None:
                payload = json.dumps(body).encode()
                self.send_response(status)
                if status == 401:
                    self.send_header("WWW-Authenticate", 'Basic realm="token"')
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                return  # quiet: requests are recorded in TokenServer._log

        return Handler
