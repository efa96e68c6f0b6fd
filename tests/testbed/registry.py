"""A real CNCF distribution registry (`docker-registry serve`) on a free 127.0.0.1 port.

Modes: plain HTTP without auth, htpasswd basic auth, TLS (own CA), token auth (own token server);
TLS combines with either auth. Every request lands in the access log (stdout, Apache combined
format), which `requests()` parses so tests can count calls by method and path.
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Literal

import bcrypt
import requests

from tests.testbed.tls import make_tls_files
from tests.testbed.token_server import TokenServer

REGISTRY_BINARY = os.environ.get("REGMIRROR_TEST_REGISTRY_BINARY", "/usr/bin/docker-registry")
AuthMode = Literal["none", "htpasswd", "token"]

# 127.0.0.1 - - [28/Nov/2025:05:29:01 +0000] "GET /v2/ HTTP/1.1" 401 87 "" "python-requests/2.34"
_ACCESS_LINE = re.compile(
    r'^\S+ \S+ \S+ \[[^\]]+\] "(?P<method>[A-Z]+) (?P<uri>\S+) [^"]+" (?P<status>\d{3}) \S+ '
    r'"[^"]*" "(?P<agent>[^"]*)"'
)
_SENTINEL_PREFIX = "/testbed-sentinel-"


@dataclass(frozen=True)
class RequestRecord:
    method: str
    path: str  # without the query string
    query: str
    status: int
    user_agent: str


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_authfile(server: RegistryServer, path: Path) -> Path:
    """A containers-auth.json (0600) holding the server's credentials, for skopeo `--authfile`."""
    auths = {}
    if server.username is not None and server.password is not None:
        token = base64.b64encode(f"{server.username}:{server.password}".encode()).decode()
        auths[server.host] = {"auth": token}
    path.write_text(json.dumps({"auths": auths}))
    path.chmod(0o600)
    return path


class RegistryServer:
    """One registry process. Use as a context manager or call `stop()`."""

    def __init__(
        self,
        *,
        tls: bool = False,
        auth: AuthMode = "none",
        username: str = "regmirror-user",
        password: str | None = None,
        base_dir: Path | None = None,
        token_expires_in: int = 300,
        token_anonymous_pull: bool = False,
        token_field: Literal["token", "access_token", "both"] = "both",  # noqa: S107 - a JSON key
        token_catalog_access: bool = True,
        start_timeout: float = 20.0,
        port: int | None = None,
        client_certs: bool = False,
    ) -> None:
        self.tls = tls or client_certs
        self.client_certs = client_certs  # TLS that requires a client certificate the CA signed
        self.auth: AuthMode = auth
        self._owns_dir = base_dir is None
        self.base_dir = Path(tempfile.mkdtemp(prefix="regmirror-registry-")) if base_dir is None else base_dir
        self.base_dir.mkdir(parents=True, exist_ok=True)
        self.storage_dir = self.base_dir / "storage"
        self.storage_dir.mkdir(exist_ok=True)
        self.access_log = self.base_dir / "access.log"
        self.error_log = self.base_dir / "registry.log"
        self.username: str | None = username if auth != "none" else None
        self.password: str | None = (password or secrets.token_urlsafe(12)) if auth != "none" else None
        self.token_server: TokenServer | None = None
        self._tls_files = make_tls_files(self.base_dir / "tls") if self.tls else None
        self._process: subprocess.Popen[bytes] | None = None
        self.port = 0
        self._fixed_port = port  # the demo wants the ports its config names; tests take free ones
        if auth == "token":
            assert self.username is not None
            assert self.password is not None
            self.token_server = TokenServer(
                self.base_dir / "token",
                {self.username: self.password},
                expires_in=token_expires_in,
                anonymous_pull=token_anonymous_pull,
                token_field=token_field,
                catalog_access=token_catalog_access,
            )
        try:
            self._start(start_timeout)
        except BaseException:
            self.stop()
            raise

    # -- addresses and files --------------------------------------------------------------------
    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}"

    @property
    def ca_file(self) -> str | None:
        return str(self._tls_files.ca_file) if self._tls_files else None

    @property
    def certs_dir(self) -> str | None:
        """Root of a certs.d tree: `<certs_dir>/<host:port>/ca.crt` (what `skopeo.certs-dir` names)."""
        return str(self.base_dir / "certs.d") if self._tls_files else None

    @property
    def skopeo_cert_dir(self) -> str | None:
        """The one folder skopeo's `--cert-dir` wants for this registry (holds `ca.crt`)."""
        return str(self.base_dir / "certs.d" / self.host) if self._tls_files else None

    @property
    def client_cert(self) -> tuple[str, str] | None:
        """(certificate, key) of a client the registry accepts (with `client_certs=True`)."""
        files = self._tls_files
        return (
            (str(files.client_cert_file), str(files.client_key_file)) if files and self.client_certs else None
        )

    @property
    def verify(self) -> str | bool:
        """What to pass as requests' `verify=` to trust this registry."""
        return self.ca_file or True

    @property
    def basic_auth(self) -> tuple[str, str] | None:
        if self.username is None or self.password is None:
            return None
        return (self.username, self.password)

    # -- lifecycle ------------------------------------------------------------------------------
    def _config_yaml(self) -> str:
        lines = [
            "version: 0.1",
            "log:",
            "  level: info",
            "  formatter: json",
            "  accesslog:",
            "    disabled: false",
            "storage:",
            "  filesystem:",
            f"    rootdirectory: {json.dumps(str(self.storage_dir))}",
            "  delete:",
            "    enabled: true",
            "  maintenance:",
            "    uploadpurging:",
            "      enabled: false",
            "http:",
            f"  addr: 127.0.0.1:{self.port}",
            f"  secret: {secrets.token_hex(16)}",
        ]
        if self._tls_files:
            lines += [
                "  tls:",
                f"    certificate: {json.dumps(str(self._tls_files.cert_file))}",
                f"    key: {json.dumps(str(self._tls_files.key_file))}",
            ]
            if self.client_certs:
                lines += ["    clientcas:", f"      - {json.dumps(str(self._tls_files.ca_file))}"]
        lines += self._auth_yaml()
        return "\n".join(lines) + "\n"

    def _auth_yaml(self) -> list[str]:
        if self.auth == "htpasswd":
            assert self.username is not None
            assert self.password is not None
            hashed = bcrypt.hashpw(self.password.encode(), bcrypt.gensalt(rounds=4)).decode()
            htpasswd = self.base_dir / "htpasswd"
            htpasswd.write_text(f"{self.username}:{hashed}\n")
            return [
                "auth:",
                "  htpasswd:",
                "    realm: regmirror-testbed",
                f"    path: {json.dumps(str(htpasswd))}",
            ]
        if self.auth == "token":
            assert self.token_server is not None
            ts = self.token_server
            return [
                "auth:",
                "  token:",
                f"    realm: {ts.realm}",
                f"    service: {ts.service}",
                f"    issuer: {ts.issuer}",
                f"    rootcertbundle: {json.dumps(str(ts.rootcertbundle))}",
            ]
        return []

    def _start(self, timeout: float) -> None:
        for _attempt in range(5):  # a free port can be taken between probe and bind: retry
            self.port = self._fixed_port or free_port()
            config = self.base_dir / "config.yml"
            config.write_text(self._config_yaml())
            if self._tls_files:
                host_dir = self.base_dir / "certs.d" / self.host
                host_dir.mkdir(parents=True, exist_ok=True)
                shutil.copy(self._tls_files.ca_file, host_dir / "ca.crt")
            with self.access_log.open("ab") as out, self.error_log.open("ab") as err:
                self._process = subprocess.Popen(
                    [REGISTRY_BINARY, "serve", str(config)], stdout=out, stderr=err, stdin=subprocess.DEVNULL
                )
            if self._wait_ready(timeout):
                return
            self._kill()
        raise RuntimeError(f"registry did not start; log:\n{self.error_log.read_text()[-4000:]}")

    def _wait_ready(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                return False
            try:
                answer = requests.get(f"{self.url}/v2/", verify=self.verify, cert=self.client_cert, timeout=2)
                if answer.status_code in (200, 401):
                    return True
            except requests.RequestException:
                pass
            time.sleep(0.05)
        return False

    def _kill(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=5)
        self._process = None

    def stop(self) -> None:
        self._kill()
        if self.token_server is not None:
            self.token_server.stop()
            self.token_server = None
        if self._owns_dir:
            shutil.rmtree(self.base_dir, ignore_errors=True)

    @property
    def pid(self) -> int:
        assert self._process is not None, "registry not running"
        return self._process.pid

    def kill(self) -> None:
        """Stop the process, keep its storage (a registry that went away)."""
        self._kill()

    def resume(self) -> None:
        """SIGCONT: a registry frozen with SIGSTOP (a test's way to make one that accepts connections,
        as the kernel does, and never answers) answers again."""
        os.kill(self.pid, signal.SIGCONT)

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def __enter__(self) -> RegistryServer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"RegistryServer(url={self.url!r}, auth={self.auth!r})"

    # -- request log ----------------------------------------------------------------------------
    def _flush_log(self) -> None:
        """The access log line is written after the response went out: wait for a sentinel line."""
        sentinel = f"{_SENTINEL_PREFIX}{uuid.uuid4().hex}"
        requests.get(f"{self.url}{sentinel}", verify=self.verify, timeout=5)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if sentinel in self.access_log.read_text(errors="replace"):
                return
            time.sleep(0.02)

    def all_requests(self) -> list[RequestRecord]:
        self._flush_log()
        records = []
        for line in self.access_log.read_text(errors="replace").splitlines():
            match = _ACCESS_LINE.match(line)
            if not match:
                continue
            path, _, query = match["uri"].partition("?")
            if path.startswith(_SENTINEL_PREFIX):
                continue
            records.append(RequestRecord(match["method"], path, query, int(match["status"]), match["agent"]))
        return records

    def mark(self) -> int:
        """Number of requests so far; pass as `since=` to count only later ones."""
        return len(self.all_requests())

    def requests(
        self,
        method: str | None = None,
        path_regex: str | None = None,
        *,
        status: int | None = None,
        since: int = 0,
    ) -> list[RequestRecord]:
        """Requests seen by the registry (readiness probes included), filtered.

        `path_regex` must match the whole path (query string excluded), e.g. r"/v2/.+/manifests/.+".
        """
        pattern = re.compile(path_regex) if path_regex else None
        return [
            r
            for r in self.all_requests()[since:]
            if (method is None or r.method == method.upper())
            and (pattern is None or pattern.fullmatch(r.path))
            and (status is None or r.status == status)
        ]
