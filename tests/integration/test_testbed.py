"""The test bed itself: real registries in every mode, images pushed and read back, skopeo agrees."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path

import pytest
import requests

from tests.conftest import RegistryFactory
from tests.testbed import (
    RegistryServer,
    catalog,
    delete_manifest,
    get_manifest,
    list_tags,
    manifest_digest,
    push_image,
    push_repositories,
    skopeo_inspect_raw,
    write_authfile,
    write_config,
)
from tests.testbed.images import DOCKER_LIST, DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST

PLATFORMS = ["linux/amd64", "linux/arm64", "linux/arm/v7"]


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("oci", [False, True], ids=["docker", "oci"])
def test_single_image_round_trip_and_skopeo_agrees(plain_registry: RegistryServer, oci: bool) -> None:
    digest = push_image(plain_registry, "team/app", "1.0", oci=oci, layers=2)

    assert manifest_digest(plain_registry, "team/app", "1.0") == digest
    body, media_type, body_digest = get_manifest(plain_registry, "team/app", "1.0")
    assert body_digest == digest
    assert media_type == (OCI_MANIFEST if oci else DOCKER_MANIFEST)
    assert len(json.loads(body)["layers"]) == 2
    assert _sha(skopeo_inspect_raw(plain_registry, "team/app", "1.0")) == digest
    assert list_tags(plain_registry, "team/app") == ["1.0"]


@pytest.mark.parametrize("oci", [False, True], ids=["docker", "oci"])
def test_multi_arch_index(plain_registry: RegistryServer, oci: bool) -> None:
    digest = push_image(plain_registry, "team/multi", "2.0", platforms=PLATFORMS, oci=oci)

    body, media_type, body_digest = get_manifest(plain_registry, "team/multi", "2.0")
    index = json.loads(body)
    assert body_digest == digest
    assert media_type == (OCI_INDEX if oci else DOCKER_LIST)
    platforms = [
        "/".join(
            filter(None, (m["platform"]["os"], m["platform"]["architecture"], m["platform"].get("variant")))
        )
        for m in index["manifests"]
    ]
    assert platforms == PLATFORMS
    for entry in index["manifests"]:  # children are reachable by digest
        assert manifest_digest(plain_registry, "team/multi", entry["digest"]) == entry["digest"]
    # skopeo --raw keeps the index as is (no flattening): same digest as ours
    assert _sha(skopeo_inspect_raw(plain_registry, "team/multi", "2.0")) == digest
    assert _sha(skopeo_inspect_raw(plain_registry, "team/multi", digest)) == digest


def test_content_is_deterministic_across_registries(
    plain_registry: RegistryServer, second_plain_registry: RegistryServer
) -> None:
    first = push_image(plain_registry, "a/b", "v1", platforms=PLATFORMS[:2], seed="same")
    second = push_image(second_plain_registry, "other/name", "v9", platforms=PLATFORMS[:2], seed="same")
    third = push_image(second_plain_registry, "other/name", "v10", platforms=PLATFORMS[:2], seed="different")
    assert first == second
    assert third != first


def test_shared_base_layers_are_common(plain_registry: RegistryServer) -> None:
    push_image(plain_registry, "x/one", "1", layers=2, shared_base=True)
    push_image(plain_registry, "x/two", "1", layers=2, shared_base=True)
    one = json.loads(get_manifest(plain_registry, "x/one", "1")[0])["layers"]
    two = json.loads(get_manifest(plain_registry, "x/two", "1")[0])["layers"]
    assert one[0]["digest"] == two[0]["digest"]
    assert one[1]["digest"] != two[1]["digest"]


def test_htpasswd_registry_refuses_anonymous_and_accepts_credentials(auth_registry: RegistryServer) -> None:
    digest = push_image(auth_registry, "secure/app", "1")
    anonymous = requests.get(f"{auth_registry.url}/v2/_catalog", timeout=5)
    assert anonymous.status_code == 401
    assert anonymous.headers["WWW-Authenticate"].startswith("Basic")
    wrong = requests.get(
        f"{auth_registry.url}/v2/_catalog", auth=(auth_registry.username or "", "wrong"), timeout=5
    )
    assert wrong.status_code == 401
    assert catalog(auth_registry) == ["secure/app"]
    assert _sha(skopeo_inspect_raw(auth_registry, "secure/app", "1")) == digest


def test_tls_registry_trusts_only_its_ca(tls_registry: RegistryServer, tmp_path: Path) -> None:
    assert tls_registry.url.startswith("https://127.0.0.1:")
    digest = push_image(tls_registry, "tls/app", "1", platforms=PLATFORMS[:2], oci=True)
    assert manifest_digest(tls_registry, "tls/app", "1") == digest
    with pytest.raises(requests.exceptions.SSLError):  # system CAs do not know our CA
        requests.get(f"{tls_registry.url}/v2/", verify=True, timeout=5)
    assert requests.get(f"{tls_registry.url}/v2/", verify=tls_registry.ca_file, timeout=5).status_code == 401
    cert_dir = Path(tls_registry.skopeo_cert_dir or "")
    assert cert_dir == Path(tls_registry.certs_dir or "") / tls_registry.host
    assert (cert_dir / "ca.crt").read_bytes() == Path(tls_registry.ca_file or "").read_bytes()
    assert _sha(skopeo_inspect_raw(tls_registry, "tls/app", "1")) == digest


def test_token_registry_issues_scoped_tokens(token_registry: RegistryServer) -> None:
    assert token_registry.token_server is not None
    challenge = requests.get(f"{token_registry.url}/v2/_catalog", timeout=5).headers["WWW-Authenticate"]
    assert challenge.startswith("Bearer ")
    assert 'scope="registry:catalog:*"' in challenge
    digest = push_image(token_registry, "tok/app", "1")
    assert catalog(token_registry) == ["tok/app"]
    scopes = {s for r in token_registry.token_server.token_requests() for s in r.scopes}
    assert "repository:tok/app:pull,push" in scopes
    assert "registry:catalog:*" in scopes
    assert all(r.account == token_registry.username for r in token_registry.token_server.token_requests())
    token_registry.token_server.reset()
    assert _sha(skopeo_inspect_raw(token_registry, "tok/app", "1")) == digest
    assert [r.scopes for r in token_registry.token_server.token_requests()] == [("repository:tok/app:pull",)]


def test_token_server_refuses_bad_credentials(token_registry: RegistryServer) -> None:
    assert token_registry.token_server is not None
    answer = requests.get(
        token_registry.token_server.realm,
        params={"service": token_registry.token_server.service, "scope": "registry:catalog:*"},
        auth=(token_registry.username or "", "not-the-password"),
        timeout=5,
    )
    assert answer.status_code == 401
    assert token_registry.token_server.token_requests()[-1].granted is False


def test_request_counting(plain_registry: RegistryServer) -> None:
    push_image(plain_registry, "count/app", "1", platforms=PLATFORMS[:2])
    assert len(plain_registry.requests("PUT", r"/v2/.+/manifests/.+")) == 3  # two children and the index
    mark = plain_registry.mark()
    for _ in range(4):
        manifest_digest(plain_registry, "count/app", "1")
    get_manifest(plain_registry, "count/app", "1")
    heads = plain_registry.requests("HEAD", r"/v2/.+/manifests/.+", since=mark)
    assert len(heads) == 4
    assert {r.path for r in heads} == {"/v2/count/app/manifests/1"}
    assert len(plain_registry.requests("GET", r"/v2/.+/manifests/.+", since=mark)) == 1
    assert plain_registry.requests(since=plain_registry.mark()) == []


def test_delete_and_many_repositories(plain_registry: RegistryServer) -> None:
    names = [f"bulk/r{i:03d}" for i in range(40)]
    digest = push_repositories(plain_registry, names)
    assert sorted(catalog(plain_registry, page_size=7)) == names
    assert manifest_digest(plain_registry, "bulk/r039", "latest") == digest
    delete_manifest(plain_registry, "bulk/r039", "latest")
    assert manifest_digest(plain_registry, "bulk/r039", "latest") is None


def test_factory_stops_process_and_files(registry_factory: RegistryFactory) -> None:
    server = registry_factory(auth="htpasswd")
    assert server.running
    server.stop()
    assert not server.running
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{server.url}/v2/", timeout=2)


def test_authfile_is_private_and_config_helper(auth_registry: RegistryServer, tmp_path: Path) -> None:
    path = write_authfile(auth_registry, tmp_path / "auth.json")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert auth_registry.host in json.loads(path.read_text())["auths"]
    config = write_config(
        tmp_path,
        """
        tasks:
          - name: t
    """,
    )
    assert config.read_text() == "tasks:\n  - name: t\n"
