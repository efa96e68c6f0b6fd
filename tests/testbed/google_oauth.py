"""Google's OAuth2 token endpoint on loopback: a service account's signed JWT for an access token.

Serves `POST /token` as oauth2.googleapis.com does for `grant_type=urn:ietf:params:oauth:grant-type:
jwt-bearer`: the assertion must be an RS256 JWT signed by the service account's key, issued by its
email, for Google's token audience. `service_account_file()` writes the JSON file
`GOOGLE_APPLICATION_CREDENTIALS` names, with `token_uri` pointing here.
"""

from __future__ import annotations

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
AUDIENCE = "https://oauth2.googleapis.com/token"  # what the real endpoint requires as `aud`
EMAIL = "mirror@regmirror-test.iam.gserviceaccount.com"


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class GoogleTokenServer:
    def __init__(self, access_token: str, *, expires_in: int = 3600) -> None:
        self.access_token = access_token
        self.expires_in = expires_in
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.grants: list[dict[str, Any]] = []  # the JWT claims of every granted request
        self.refused = 0
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    @property
    def token_uri(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/token"

    def service_account_file(self, directory: Path) -> Path:
        pem = self.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        body = {
            "type": "service_account",
            "project_id": "regmirror-test",
            "private_key_id": "k1",
            "private_key": pem,
            "client_email": EMAIL,
            "client_id": "1",
            "token_uri": self.token_uri,
        }
        path = directory / "service-account.json"
        path.write_text(json.dumps(body))
        return path

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def _claims(self, assertion: str) -> dict[str, Any] | None:
        try:
            header, payload, signature = assertion.split(".")
            self.key.public_key().verify(
                _b64url_decode(signature), f"{header}.{payload}".encode(), padding.PKCS1v15(), hashes.SHA256()
            )
            claims: dict[str, Any] = json.loads(_b64url_decode(payload))
        except (ValueError, InvalidSignature):
            return None
        ok = claims.get("iss") == EMAIL and claims.get("aud") in (AUDIENCE, self.token_uri)
        return claims if ok else None

    def _answer(self, form: dict[str, list[str]]) -> tuple[int, dict[str, Any]]:
        grant = next(iter(form.get("grant_type", [])), "")
        claims = self._claims(next(iter(form.get("assertion", [])), "")) if grant == JWT_BEARER else None
        if claims is None:
            self.refused += 1
            return 400, {"error": "invalid_grant"}
        self.grants.append(claims)
        return 200, {"access_token": self.access_token, "expires_in": self.expires_in, "token_type": "Bearer"}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                status, body = server._answer(parse_qs(self.rfile.read(length).decode()))
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                return

        return Handler
