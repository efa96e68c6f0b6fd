"""Where logins are looked up, and how a file's keys name a host (containers/image and docker order)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from regmirror.errors import AuthError
from regmirror.registries.logins import find_login
from regmirror.registries.logins.files import auth_file_paths, read_auth_file


def test_the_lookup_order_of_containers_tools() -> None:
    env = {"HOME": "/h", "XDG_RUNTIME_DIR": "/run/user/1", "DOCKER_CONFIG": "/d"}
    assert auth_file_paths(env) == [
        Path("/run/user/1/containers/auth.json"),
        Path("/h/.config/containers/auth.json"),
        Path("/d/config.json"),
    ]
    explicit = {**env, "REGISTRY_AUTH_FILE": "/x/auth.json", "XDG_CONFIG_HOME": "/c"}
    assert auth_file_paths(explicit) == [
        Path("/x/auth.json"),
        Path("/c/containers/auth.json"),
        Path("/d/config.json"),
    ]
    assert auth_file_paths({"HOME": "/h"})[-1] == Path("/h/.docker/config.json")


def write(path: Path, body: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(body))
    return path


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize(
    ("key", "host"),
    [
        ("registry.example.com:5000", "registry.example.com:5000"),
        ("https://registry.example.com:5000", "registry.example.com:5000"),
        ("https://registry.example.com/v2/", "registry.example.com"),
        ("https://index.docker.io/v1/", "docker.io"),
        ("docker.io", "registry-1.docker.io"),
        ("index.docker.io", "registry.hub.docker.com"),
    ],
)
def test_a_key_names_its_host_in_every_spelling(tmp_path: Path, key: str, host: str) -> None:
    path = write(tmp_path / "config.json", {"auths": {key: {"auth": b64("user-x:secret-for-test-files")}}})
    found = find_login(host, {"HOME": str(tmp_path), "DOCKER_CONFIG": str(tmp_path)})
    assert found is not None and (found.username, found.password) == ("user-x", "secret-for-test-files")
    assert found.origin == f"{path} auths['{key}']"


def test_a_namespace_key_is_not_a_login_for_the_whole_registry(tmp_path: Path) -> None:
    write(
        tmp_path / "config.json", {"auths": {"quay.io/team": {"auth": b64("user-x:secret-for-test-files")}}}
    )
    assert find_login("quay.io", {"HOME": str(tmp_path), "DOCKER_CONFIG": str(tmp_path)}) is None


def test_the_first_file_that_knows_the_host_wins(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path), "XDG_RUNTIME_DIR": str(tmp_path / "run")}
    write(
        tmp_path / "run" / "containers" / "auth.json",
        {"auths": {"other.io": {"auth": b64("other-user:other-secret-xyz")}}},
    )
    write(
        tmp_path / ".config" / "containers" / "auth.json",
        {"auths": {"r.io": {"auth": b64("podman:podman-secret-xyz")}}},
    )
    write(
        tmp_path / ".docker" / "config.json", {"auths": {"r.io": {"auth": b64("docker:docker-secret-xyz")}}}
    )
    found = find_login("r.io", env)
    assert found is not None and found.username == "podman"


def test_an_identity_token_and_an_empty_entry(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path)}
    write(
        tmp_path / ".docker" / "config.json",
        {"auths": {"t.io": {"identitytoken": "identity-token-xyz"}, "e.io": {}}},
    )
    token = find_login("t.io", env)
    assert token is not None and (token.username, token.identity_token) == ("", "identity-token-xyz")
    assert find_login("e.io", env) is None  # docker writes `{}` when a helper holds the secret
    assert "identity-token-xyz" not in repr(token)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"{", "not valid JSON"),
        (b"[]", "expected a JSON object"),
        (b'{"credHelpers": {"r.io": 1}}', "'credHelpers' must map"),
        (b'{"credsStore": 5}', "'credsStore' must be a helper name"),
        (b'{"auths": {"r.io": {"auth": 5}}}', "is not a string"),
        (b'{"auths": {"r.io": {"auth": "' + base64.b64encode(b"nocolon") + b'"}}}', "does not decode"),
    ],
)
def test_malformed_files_name_themselves(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "auth.json"
    path.write_bytes(content)
    with pytest.raises(AuthError, match=message) as raised:
        _entries(path)
    assert str(raised.value).startswith(f"{path}: ")


def _entries(path: Path) -> list[object]:
    auth_file = read_auth_file(path)
    return list(auth_file.entries("r.io")) if auth_file is not None else []


def test_an_empty_file_holds_no_logins_and_a_missing_one_is_skipped(tmp_path: Path) -> None:
    (tmp_path / "empty.json").write_text("  \n")
    empty = read_auth_file(tmp_path / "empty.json")
    assert empty is not None and empty.entries("r.io") == []
    assert read_auth_file(tmp_path / "missing.json") is None
