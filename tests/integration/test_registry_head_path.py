"""The digest-check hot path (RegistryClient.head_manifest) against real registries: connections are
kept alive, every auth mode and TLS work on it, and a 401 mid-run (token expiry) is still answered."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from regmirror.registries.credentials import Credentials
from regmirror.registries.distribution.client import RegistryClient
from regmirror.registries.distribution.media import MANIFEST_ACCEPT
from regmirror.registries.endpoint import Endpoint
from regmirror.registries.http.fallback import SchemeChoice
from regmirror.registries.http.lean_head import lean_head
from regmirror.registries.http.transport import Transport

from tests.testbed import RegistryServer, manifest_digest, push_image
from tests.testbed.faultproxy import FaultProxy, Rule

MANIFESTS = r"/v2/.+/manifests/.+"
_TCP_TABLES = ("/proc/net/tcp", "/proc/net/tcp6")


def client_ports(server_port: int) -> set[int]:
    """Local ports of every TCP socket (open or in TIME_WAIT) talking to `server_port` on this host."""
    ports: set[int] = set()
    for table in _TCP_TABLES:
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            local, remote = line.split()[1:3]
            if int(remote.rsplit(":", 1)[1], 16) == server_port:
                ports.add(int(local.rsplit(":", 1)[1], 16))
    return ports


def client_for(server: RegistryServer) -> RegistryClient:
    endpoint = Endpoint(
        server.host,
        insecure=not server.tls,
        verify_tls=server.tls,
        ca_file=server.ca_file,
        plain_http=not server.tls,
    )
    creds = Credentials(server.username, server.password) if server.username and server.password else None
    return RegistryClient(endpoint, creds)


@pytest.mark.parametrize(
    "mode", [{}, {"auth": "htpasswd"}, {"auth": "token"}, {"tls": True, "auth": "htpasswd"}], ids=str
)
def test_head_checks_reuse_connections_in_every_mode(registry_factory: type, mode: dict[str, object]) -> None:
    server = registry_factory(**mode)
    digest = push_image(server, "team/app", "1.0")
    client = client_for(server)
    assert client.head_manifest("team/app", "1.0").digest == digest  # learns scheme and challenge
    before, mark, sent = client_ports(server.port), server.mark(), client.stats["manifest_head"]
    for _ in range(40):
        assert client.head_manifest("team/app", "1.0").digest == digest
        assert client.head_manifest("team/app", "missing") is None
    opened = client_ports(server.port) - before
    assert len(opened) <= 2, f"{len(opened)} new connections for 80 HEADs"
    heads = server.requests("HEAD", MANIFESTS, since=mark)
    assert [r.status for r in heads].count(200) == 40 and [r.status for r in heads].count(404) == 40
    assert client.stats["manifest_head"] - sent == 80  # no 401 round trips in the steady state


def test_expired_token_is_renewed_on_the_head_path(registry_factory: type) -> None:
    server = registry_factory(auth="token", token_expires_in=2)
    digest = push_image(server, "team/app", "1.0")
    client = client_for(server)
    assert client.head_manifest("team/app", "1.0").digest == digest
    time.sleep(2.5)  # the registry now refuses the cached token: 401, then a fresh token
    assert client.head_manifest("team/app", "1.0").digest == digest
    assert manifest_digest(server, "team/app", "1.0") == digest


def test_the_quickest_answer_is_kept_on_the_lean_and_the_full_path(plain_registry: RegistryServer) -> None:
    """The round trip pacing starts from (`RequestStats.fastest`): the lean HEAD times its answer as
    requests' path does, and the quickest answer wins."""
    push_image(plain_registry, "team/app", "1.0")
    path = "/v2/team/app/manifests/1.0"
    with FaultProxy(plain_registry.host, rules=[Rule("slow", path=MANIFESTS)], slow_seconds=0.05) as link:
        transport = Transport(verify=False, schemes=SchemeChoice(plain_http=True, may_fall_back=False))
        assert transport.stats.fastest is None
        answer = lean_head(transport, f"http://{link.host}{path}", path, {"Accept": MANIFEST_ACCEPT}, "m")
        assert answer is not None and answer[0] == 200
        lean = transport.stats.fastest
        assert lean is not None and 0.05 <= lean < 2
        transport.send("GET", f"http://{link.host}/v2/", {}, kind="ping").close()  # not slowed
        assert (transport.stats.fastest or 1) < 0.05

    with FaultProxy(plain_registry.host, rules=[Rule("slow")], slow_seconds=0.05) as link:
        client = RegistryClient(Endpoint(link.host, insecure=True, verify_tls=False, plain_http=True), None)
        assert client.round_trip is None
        for _ in range(3):
            assert client.head_manifest("team/app", "1.0") is not None
        assert 0.05 <= (client.round_trip or 0) < 2
