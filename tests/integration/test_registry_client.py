"""RegistryClient against real distribution registries: plain, htpasswd, TLS, token auth, fallbacks."""

from __future__ import annotations

import json
import logging
import time

import pytest
from regmirror.errors import AuthError, ListerError, RegistryError
from regmirror.registries.credentials import Credentials
from regmirror.registries.distribution.client import RegistryClient
from regmirror.registries.distribution.media import (
    DOCKER_MANIFEST,
    DOCKER_MANIFEST_LIST,
    OCI_INDEX,
    OCI_MANIFEST,
    is_index,
)
from regmirror.registries.endpoint import Endpoint

from tests.conftest import RegistryFactory
from tests.testbed import RegistryServer, get_manifest, push_image
from tests.testbed.scripted import ScriptedRequest, ScriptedServer, json_answer

PLATFORMS = ["linux/amd64", "linux/arm64", "linux/arm/v7"]
MANIFEST_PATH = r"/v2/.+/manifests/.+"


def creds(server: RegistryServer, password: str | None = None) -> Credentials:
    assert server.username is not None
    assert server.password is not None
    return Credentials(server.username, password or server.password)


def client_for(server: RegistryServer, **endpoint: object) -> RegistryClient:
    """A client as the config would build it: TLS servers trusted through their CA file."""
    settings: dict[str, object] = {"host": server.host}
    if server.tls:
        settings["ca_file"] = server.ca_file
    else:
        settings.update(insecure=True, plain_http=True)
    settings.update(endpoint)
    credentials = creds(server) if server.basic_auth else None
    return RegistryClient(Endpoint(**settings), credentials, timeout=10)  # type: ignore[arg-type]


# -- plain registry: every API call, and stats that agree with the registry's own log ----------
def test_plain_registry_reads_what_was_pushed(plain_registry: RegistryServer) -> None:
    docker = push_image(plain_registry, "team/docker", "1.0")
    oci = push_image(plain_registry, "team/oci", "1.0", oci=True)
    index = push_image(plain_registry, "team/multi", "2.0", platforms=PLATFORMS, oci=True)
    docker_list = push_image(plain_registry, "team/multi", "2.1", platforms=PLATFORMS[:2])
    client = client_for(plain_registry)
    mark = plain_registry.mark()

    client.ping()
    assert sorted(client.catalog()) == ["team/docker", "team/multi", "team/oci"]
    assert sorted(client.list_tags("team/multi")) == ["2.0", "2.1"]
    infos = {
        "docker": client.head_manifest("team/docker", "1.0"),
        "oci": client.head_manifest("team/oci", "1.0"),
        "index": client.head_manifest("team/multi", "2.0"),
        "list": client.head_manifest("team/multi", "2.1"),
    }
    assert {k: (v.digest, v.media_type) for k, v in infos.items() if v} == {
        "docker": (docker, DOCKER_MANIFEST),
        "oci": (oci, OCI_MANIFEST),
        "index": (index, OCI_INDEX),
        "list": (docker_list, DOCKER_MANIFEST_LIST),
    }
    assert infos["index"] is not None
    assert is_index(infos["index"].media_type)
    assert not is_index(infos["docker"].media_type if infos["docker"] else None)
    body, media_type, digest = client.get_manifest("team/multi", "2.0")
    assert (digest, media_type) == (index, OCI_INDEX)
    assert body == get_manifest(plain_registry, "team/multi", "2.0")[0]
    assert infos["index"].size == len(body)
    child = json.loads(body)["manifests"][1]["digest"]
    assert client.get_manifest("team/multi", child)[2] == child

    assert client.stats == {
        "ping": 1,
        "catalog": 1,
        "tags": 1,
        "manifest_head": 4,
        "manifest_get": 2,
        "manifest_put": 0,
        "blob_mount": 0,
        "referrers": 0,
        "token": 0,
    }
    assert len(plain_registry.requests("HEAD", MANIFEST_PATH, since=mark)) == 4
    ours = [r for r in plain_registry.requests(since=mark) if r.user_agent.startswith("regmirror/")]
    assert len([r for r in ours if r.method == "GET" and "/manifests/" in r.path]) == 2
    assert len(ours) == sum(client.stats.values())


def test_absent_manifest_and_repository(plain_registry: RegistryServer) -> None:
    push_image(plain_registry, "team/app", "1")
    client = client_for(plain_registry)
    assert client.head_manifest("team/app", "nope") is None
    assert client.head_manifest("team/none", "1") is None
    with pytest.raises(RegistryError) as missing:
        client.get_manifest("team/app", "nope")
    assert missing.value.status == 404
    assert "MANIFEST_UNKNOWN" in str(missing.value)
    with pytest.raises(RegistryError) as no_repo:
        client.list_tags("team/none")
    assert no_repo.value.status == 404
    assert plain_registry.host in str(no_repo.value)


# -- htpasswd ----------------------------------------------------------------------------------
def test_basic_auth_learns_challenge_once(auth_registry: RegistryServer) -> None:
    digest = push_image(auth_registry, "secure/app", "1")
    client = client_for(auth_registry)
    mark = auth_registry.mark()
    assert list(client.catalog()) == ["secure/app"]
    for _ in range(3):
        info = client.head_manifest("secure/app", "1")
        assert info is not None
        assert info.digest == digest
    seen = auth_registry.requests(since=mark)
    assert [r.status for r in seen].count(401) == 1  # only the very first request is challenged
    assert len(seen) == 5


def test_bad_password_is_auth_error_without_password(auth_registry: RegistryServer) -> None:
    push_image(auth_registry, "secure/app", "1")
    wrong = "Wr0ng-" + "pa55word-xyz"
    client = RegistryClient(
        Endpoint(auth_registry.host, insecure=True, plain_http=True), creds(auth_registry, wrong), timeout=10
    )
    for call in (
        lambda: list(client.catalog()),
        lambda: client.head_manifest("secure/app", "1"),
        client.ping,
    ):
        with pytest.raises(AuthError) as caught:
            call()
        assert auth_registry.host in str(caught.value)
        assert wrong not in str(caught.value)
        assert wrong not in repr(caught.value)
        assert caught.value.status == 401
        assert not isinstance(caught.value, ListerError)


def test_no_credentials_on_auth_registry(auth_registry: RegistryServer) -> None:
    client = RegistryClient(Endpoint(auth_registry.host, insecure=True, plain_http=True), None, timeout=10)
    with pytest.raises(AuthError, match="anonymous"):
        client.ping()


# -- TLS ---------------------------------------------------------------------------------------
def test_tls_with_ca_file(tls_registry: RegistryServer) -> None:
    digest = push_image(tls_registry, "tls/app", "1", platforms=PLATFORMS[:2])
    client = client_for(tls_registry)
    info = client.head_manifest("tls/app", "1")
    assert info is not None
    assert info.digest == digest
    assert client.scheme == "https"
    assert tls_registry.requests("HEAD", MANIFEST_PATH)


def test_tls_wrong_ca_fails(tls_registry: RegistryServer, registry_factory: RegistryFactory) -> None:
    other = registry_factory(tls=True)
    client = client_for(tls_registry, ca_file=other.ca_file)
    with pytest.raises(RegistryError, match="SSL"):
        client.ping()
    with pytest.raises(RegistryError, match="SSL"):  # and no silent fallback to plain HTTP either
        client_for(tls_registry, ca_file=None).ping()


def test_requests_ca_bundle_env_does_not_override(
    tls_registry: RegistryServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    push_image(tls_registry, "tls/app", "1")
    # env points elsewhere (system CAs): the endpoint's own CA file still decides
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    monkeypatch.setenv("CURL_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    assert client_for(tls_registry).list_tags("tls/app") == ["1"]
    # env names our CA, the endpoint names none: env must not make the registry trusted
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", tls_registry.ca_file or "")
    monkeypatch.setenv("CURL_CA_BUNDLE", tls_registry.ca_file or "")
    with pytest.raises(RegistryError, match="SSL"):
        client_for(tls_registry, ca_file=None).list_tags("tls/app")


def test_skip_tls_verify_on_tls(tls_registry: RegistryServer) -> None:
    digest = push_image(tls_registry, "tls/app", "1")
    client = client_for(tls_registry, ca_file=None, insecure=True, verify_tls=False)
    info = client.head_manifest("tls/app", "1")
    assert info is not None
    assert info.digest == digest
    assert client.scheme == "https"  # TLS worked, so no downgrade


def test_insecure_falls_back_to_plain_http_once(plain_registry: RegistryServer) -> None:
    digest = push_image(plain_registry, "team/app", "1")
    client = RegistryClient(Endpoint(plain_registry.host, insecure=True, verify_tls=False), None, timeout=10)
    assert client.scheme == "https"
    info = client.head_manifest("team/app", "1")
    assert info is not None
    assert info.digest == digest
    assert client.scheme == "http"
    assert list(client.catalog()) == ["team/app"]
    # the failed HTTPS attempt counts as one extra request; later calls go straight to HTTP
    assert client.stats["manifest_head"] == 2
    assert client.stats["catalog"] == 1


def test_plain_http_only_when_allowed(plain_registry: RegistryServer) -> None:
    strict = RegistryClient(Endpoint(plain_registry.host), None, timeout=10)
    with pytest.raises(RegistryError, match="cannot reach"):
        strict.ping()
    assert strict.scheme == "https"
    direct = RegistryClient(Endpoint(plain_registry.host, insecure=True, plain_http=True), None, timeout=10)
    direct.ping()
    assert direct.stats["ping"] == 1


# -- token auth --------------------------------------------------------------------------------
def test_token_auth_reuses_tokens_per_scope(token_registry: RegistryServer) -> None:
    assert token_registry.token_server is not None
    digests = {f"tok/app{i}": push_image(token_registry, f"tok/app{i}", "1") for i in range(3)}
    token_registry.token_server.reset()
    client = client_for(token_registry)

    for _ in range(2):
        assert sorted(client.catalog(page_size=2)) == sorted(digests)
        for repo, digest in digests.items():
            assert client.list_tags(repo) == ["1"]
            info = client.head_manifest(repo, "1")
            assert info is not None
            assert info.digest == digest

    fetched = token_registry.token_server.token_requests()
    assert [r.scopes for r in fetched] == [
        ("registry:catalog:*",),
        ("repository:tok/app0:pull",),
        ("repository:tok/app1:pull",),
        ("repository:tok/app2:pull",),
    ]
    assert all(r.account == token_registry.username for r in fetched)
    assert client.stats["token"] == 4
    # one 401 for the very first request; after that the challenge is known and tokens go up front
    assert [r.status for r in token_registry.requests()].count(401) >= 1
    assert client.stats["catalog"] == 2 * 2 + 1


def test_token_expiry_refetches(registry_factory: RegistryFactory) -> None:
    server = registry_factory(auth="token", token_expires_in=2)
    assert server.token_server is not None
    push_image(server, "tok/app", "1")
    server.token_server.reset()
    client = client_for(server)
    assert client.list_tags("tok/app") == ["1"]
    assert client.list_tags("tok/app") == ["1"]
    assert client.stats["token"] == 1
    time.sleep(1.2)  # lifetime 2 s minus margin -> renewed after 1 s
    assert client.list_tags("tok/app") == ["1"]
    assert client.stats["token"] == 2
    assert len(server.token_server.token_requests()) == 2


def test_token_bad_password(token_registry: RegistryServer) -> None:
    wrong = "not-" + "the-password-42"
    client = RegistryClient(
        Endpoint(token_registry.host, insecure=True, plain_http=True),
        creds(token_registry, wrong),
        timeout=10,
    )
    with pytest.raises(AuthError) as caught:
        list(client.catalog())
    assert token_registry.host in str(caught.value)
    assert wrong not in str(caught.value)
    assert "token server" in str(caught.value)


def test_token_answer_with_access_token_only(registry_factory: RegistryFactory) -> None:
    server = registry_factory(auth="token", token_field="access_token")
    digest = push_image(server, "tok/app", "1")
    info = client_for(server).head_manifest("tok/app", "1")
    assert info is not None
    assert info.digest == digest


def test_anonymous_token_pull_and_refused_catalog(registry_factory: RegistryFactory) -> None:
    server = registry_factory(auth="token", token_anonymous_pull=True)
    digest = push_image(server, "public/app", "1")
    client = RegistryClient(Endpoint(server.host, insecure=True, plain_http=True), None, timeout=10)
    info = client.head_manifest("public/app", "1")
    assert info is not None
    assert info.digest == digest
    with pytest.raises(ListerError) as caught:
        list(client.catalog())
    message = str(caught.value)
    assert server.host in message
    assert "refuses catalog listing" in message
    assert "index" in message
    assert "from" in message


def test_catalog_refused_to_authenticated_user(registry_factory: RegistryFactory) -> None:
    server = registry_factory(auth="token", token_catalog_access=False)
    push_image(server, "team/app", "1")
    client = client_for(server)
    with pytest.raises(ListerError, match="refuses catalog listing"):
        list(client.catalog())
    assert client.list_tags("team/app") == ["1"]  # the credentials themselves are fine


# -- behaviour distribution never shows: a scripted loopback server ----------------------------
def scripted_client(server: ScriptedServer) -> RegistryClient:
    return RegistryClient(Endpoint(server.host, insecure=True, plain_http=True), None, timeout=5)


def test_link_absolute_same_host_followed_and_invalid_names_skipped(caplog: pytest.LogCaptureFixture) -> None:
    def page(request: ScriptedRequest) -> tuple[int, dict[str, str], bytes]:
        if "last=b" in request.query:
            return json_answer('{"repositories": ["c/d", "UPPER/case", 7, "-bad"]}')
        link = f'<http://{server.host}/v2/_catalog?n=2&last=b>; rel="next"'
        return json_answer('{"repositories": ["a", "b"]}', Link=link)

    with (
        ScriptedServer({("GET", "/v2/_catalog"): page}) as server,
        caplog.at_level(logging.WARNING, logger="regmirror.registry"),
    ):
        assert list(scripted_client(server).catalog(page_size=2)) == ["a", "b", "c/d"]
    skipped = [r.getMessage() for r in caplog.records if "skipping invalid" in r.getMessage()]
    assert len(skipped) == 3


def test_link_to_other_host_refused() -> None:
    routes = {
        ("GET", "/v2/_catalog"): lambda r: json_answer(
            '{"repositories": ["a"]}', Link='<http://127.0.0.2:1/v2/_catalog?last=a>; rel="next"'
        )
    }
    with ScriptedServer(routes) as server, pytest.raises(RegistryError, match="another host"):
        list(scripted_client(server).catalog())


def test_link_loop_refused() -> None:
    routes = {
        ("GET", "/v2/_catalog"): lambda r: json_answer(
            '{"repositories": ["a"]}', Link='</v2/_catalog?last=a>; rel="next"'
        )
    }
    # the next page repeats the names of the first: refused as paging that does not advance
    with (
        ScriptedServer(routes) as server,
        pytest.raises((RegistryError, ListerError), match=r"loops|does not advance"),
    ):
        list(scripted_client(server).catalog())


def test_malformed_and_oversized_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    routes = {
        ("GET", "/v2/_catalog"): lambda r: json_answer('{"repositories": ["a", '),
        ("GET", "/v2/x/tags/list"): lambda r: json_answer('{"name": "x", "tags": null}'),
        ("GET", "/v2/y/tags/list"): lambda r: json_answer('{"name": "y", "tags": "latest"}'),
        ("GET", "/v2/z/tags/list"): lambda r: json_answer("[" * 100000),
        ("GET", "/v2/big/tags/list"): lambda r: json_answer('{"tags": ["' + "a" * 5000 + '"]}'),
    }
    with ScriptedServer(routes) as server:
        client = scripted_client(server)
        with pytest.raises(RegistryError, match="malformed JSON"):
            list(client.catalog())
        assert client.list_tags("x") == []
        with pytest.raises(RegistryError, match="not a list"):
            client.list_tags("y")
        with pytest.raises(RegistryError, match="malformed JSON"):
            client.list_tags("z")
        monkeypatch.setattr("regmirror.registries.distribution.client.MAX_LIST_BYTES", 1024)
        with pytest.raises(RegistryError, match="limit"):
            client.list_tags("big")


def test_head_without_digest_falls_back_to_get() -> None:
    manifest = json.dumps({"schemaVersion": 2, "mediaType": DOCKER_MANIFEST, "layers": []}).encode()
    routes = {
        ("HEAD", "/v2/a/manifests/1"): lambda r: (200, {"Content-Type": DOCKER_MANIFEST}, manifest),
        ("GET", "/v2/a/manifests/1"): lambda r: (200, {"Content-Type": DOCKER_MANIFEST}, manifest),
    }
    with ScriptedServer(routes) as server:
        client = scripted_client(server)
        info = client.head_manifest("a", "1")
        assert info is not None
        assert info.digest == "sha256:" + __import__("hashlib").sha256(manifest).hexdigest()
        assert info.size == len(manifest)
        assert client.stats["manifest_head"] == 1
        assert client.stats["manifest_get"] == 1
        accept = [r.headers.get("Accept", "") for r in server.seen]
        assert all(OCI_INDEX in a and DOCKER_MANIFEST_LIST in a and OCI_MANIFEST in a for a in accept)


def test_unsupported_catalog_is_lister_error() -> None:
    routes = {
        ("GET", "/v2/_catalog"): lambda r: json_answer(
            '{"errors": [{"code": "UNSUPPORTED", "message": "catalog disabled"}]}', status=405
        )
    }
    with ScriptedServer(routes) as server, pytest.raises(ListerError, match="UNSUPPORTED"):
        list(scripted_client(server).catalog())


def test_catalog_page_size_falls_back_when_a_registry_refuses_large_n() -> None:
    """regmirror asks for pages of 1000 (distribution's limit); a registry capping lower answers 400."""

    def page(request: ScriptedRequest) -> tuple[int, dict[str, str], bytes]:
        if "n=1000" in request.query:
            body = b'{"errors": [{"code": "PAGINATION_NUMBER_INVALID", "message": "n too large"}]}'
            return 400, {"Content-Type": "application/json"}, body
        if "last=b" in request.query:
            return json_answer('{"repositories": ["c"]}')
        return json_answer('{"repositories": ["a", "b"]}', Link='</v2/_catalog?n=100&last=b>; rel="next"')

    with ScriptedServer({("GET", "/v2/_catalog"): page}) as server:
        assert list(scripted_client(server).catalog(page_size=1000)) == ["a", "b", "c"]
        assert [r.query for r in server.seen] == ["n=1000", "n=100", "n=100&last=b"]
