"""A config without `auth` uses the user's existing logins, as skopeo and dregsy do: auth files in a
temporary HOME, real credential-helper executables on PATH, real htpasswd and token registries, real
skopeo. Explicit `auth:` wins, `auth: none` and `credentials-from-environment: false` go anonymous, and
a broken file or helper is a clear error naming it."""

from __future__ import annotations

import base64
import json
import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from regmirror.cli.main import main

from tests.testbed import RegistryServer, catalog, manifest_digest, push_image


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def docker_config(home: Path, body: dict[str, object]) -> Path:
    path = home / ".docker" / "config.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(body), encoding="utf-8")
    return path


def helper(bin_dir: Path, name: str, script: str) -> Path:
    """An executable `docker-credential-<name>` speaking the helper protocol (a shell script)."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    path = bin_dir / f"docker-credential-{name}"
    path.write_text("#!/bin/sh\n" + script, encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def mirror(
    config_file: Callable[[str], Path], src: RegistryServer, dst: RegistryServer, extra: str = ""
) -> Path:
    return config_file(
        f"{extra}tasks:\n  - name: t\n"
        f'    source: {{registry: "{src.host}", skip-tls-verify: true}}\n'
        f'    target: {{registry: "{dst.host}", skip-tls-verify: true}}\n'
        "    mappings: [{from: regex:team/.*, to: mirror}]\n"
    )


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def private_source(auth_registry: RegistryServer) -> RegistryServer:
    push_image(auth_registry, "team/app", "1.0", seed="private")
    return auth_registry


def test_docker_login_in_config_json_serves_the_lister_checks_and_skopeo(
    private_source: RegistryServer,
    plain_registry: RegistryServer,
    config_file: Callable[[str], Path],
    capsys: pytest.CaptureFixture[str],
    user_home: Path,
) -> None:
    src = private_source
    path = docker_config(user_home, {"auths": {src.host: {"auth": b64(f"{src.username}:{src.password}")}}})
    code, out, err = run(capsys, "-v", "sync", str(mirror(config_file, src, plain_registry)))
    assert code == 0, out + err
    assert catalog(plain_registry) == ["mirror/team/app"]
    assert manifest_digest(plain_registry, "mirror/team/app", "1.0") == manifest_digest(
        src, "team/app", "1.0"
    )
    assert f"credentials for {src.host}: {path} auths['{src.host}']" in err
    assert src.password not in out + err


def test_precedence_auth_file_before_docker_config_and_explicit_auth_before_both(
    private_source: RegistryServer,
    plain_registry: RegistryServer,
    config_file: Callable[[str], Path],
    capsys: pytest.CaptureFixture[str],
    user_home: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    src = private_source
    docker_config(user_home, {"auths": {src.host: {"auth": b64(f"{src.username}:wrong")}}})
    auth_json = user_home / "podman-auth.json"
    auth_json.write_text(json.dumps({"auths": {src.host: {"auth": b64(f"{src.username}:{src.password}")}}}))
    config = mirror(config_file, src, plain_registry)
    code, out, _err = run(capsys, "plan", str(config))
    assert code == 1 and "check the password or token in " + str(user_home / ".docker" / "config.json") in out
    monkeypatch.setenv("REGISTRY_AUTH_FILE", str(auth_json))
    code, out, err = run(capsys, "plan", str(config))
    assert code == 0, out + err
    assert "1 to copy" in out
    # the config's own `auth` wins over every login
    explicit = config.read_text().replace(
        "skip-tls-verify: true}", f"skip-tls-verify: true, auth: {b64(src.username + ':bad')}}}", 1
    )
    config.write_text(explicit)
    code, out, _err = run(capsys, "plan", str(config))
    assert code == 1 and "check the password or token in the config's auth" in out


@pytest.mark.parametrize("how", ["auth: none", "credentials-from-environment: false"])
def test_anonymous_on_request_despite_a_login(
    how: str,
    private_source: RegistryServer,
    plain_registry: RegistryServer,
    config_file: Callable[[str], Path],
    capsys: pytest.CaptureFixture[str],
    user_home: Path,
) -> None:
    src = private_source
    docker_config(user_home, {"auths": {src.host: {"auth": b64(f"{src.username}:{src.password}")}}})
    config = mirror(config_file, src, plain_registry, extra=f"{how}\n" if "environment" in how else "")
    if how == "auth: none":
        config.write_text(
            config.read_text().replace("skip-tls-verify: true}", "skip-tls-verify: true, auth: none}", 1)
        )
    code, out, _err = run(capsys, "plan", str(config))
    assert code == 1
    assert "refused anonymous access (401)" in out


def test_credential_helper_from_cred_helpers_and_creds_store(
    private_source: RegistryServer,
    plain_registry: RegistryServer,
    config_file: Callable[[str], Path],
    capsys: pytest.CaptureFixture[str],
    user_home: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    src = private_source
    seen = tmp_path / "asked"
    answer = json.dumps({"ServerURL": src.host, "Username": src.username, "Secret": src.password})
    helper(
        tmp_path / "bin",
        "test",
        f"[ \"$1\" = get ] || exit 3\ncat >> {seen}\necho >> {seen}\necho '{answer}'\n",
    )
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    config = mirror(config_file, src, plain_registry)
    for body, key in (
        ({"credHelpers": {src.host: "test"}}, f"credHelpers['{src.host}']"),
        ({"credsStore": "test"}, "credsStore"),
    ):
        path = docker_config(user_home, {"auths": {}, **body})
        code, out, err = run(capsys, "-v", "sync", "--no-record", str(config))
        assert code == 0, out + err
        assert f"credential helper docker-credential-test ({path} {key})" in err
    asked = seen.read_text().split()  # the host on stdin, once per run (a store is asked for every host)
    assert (asked.count(src.host), asked.count(plain_registry.host)) == (2, 1)
    assert src.password not in err


@pytest.mark.parametrize(
    ("script", "message"),
    [
        (
            "echo 'permission denied by keychain' >&2\nexit 1",
            "docker-credential-broken failed (exit 1): permission denied by keychain",
        ),
        ("sleep 30", "docker-credential-broken did not answer within 0.5 s"),
        ("echo not-json", "docker-credential-broken printed no JSON"),
    ],
)
def test_a_failing_or_hanging_helper_is_a_clear_error_before_any_work(
    script: str,
    message: str,
    private_source: RegistryServer,
    plain_registry: RegistryServer,
    config_file: Callable[[str], Path],
    capsys: pytest.CaptureFixture[str],
    user_home: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from regmirror.registries.logins import helpers

    monkeypatch.setattr(helpers, "HELPER_TIMEOUT_SECONDS", 0.5)
    helper(tmp_path / "bin", "broken", script + "\n")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    path = docker_config(user_home, {"credHelpers": {private_source.host: "broken"}})
    code, _out, err = run(capsys, "sync", str(mirror(config_file, private_source, plain_registry)))
    assert code == 2
    assert f"{path} credHelpers['{private_source.host}']: credential helper {message}" in err
    assert catalog(plain_registry) == []


def test_a_helper_without_the_host_falls_back_to_the_stored_login(
    private_source: RegistryServer,
    plain_registry: RegistryServer,
    config_file: Callable[[str], Path],
    capsys: pytest.CaptureFixture[str],
    user_home: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    src = private_source
    helper(tmp_path / "bin", "empty", "echo 'credentials not found in native keychain'\nexit 1\n")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    docker_config(
        user_home,
        {
            "credsStore": "empty",
            "auths": {f"https://{src.host}/v1/": {"auth": b64(f"{src.username}:{src.password}")}},
        },
    )
    code, out, err = run(capsys, "plan", str(mirror(config_file, src, plain_registry)))
    assert code == 0, out + err


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not valid JSON"),
        ('{"auths": []}', "'auths' must map registry names to objects"),
        ('{"auths": {"HOST": {"auth": "%%%"}}}', "auths['HOST'].auth is not base64 of user:password"),
    ],
)
def test_a_malformed_auth_file_is_an_error_naming_the_file(
    content: str,
    message: str,
    private_source: RegistryServer,
    plain_registry: RegistryServer,
    config_file: Callable[[str], Path],
    capsys: pytest.CaptureFixture[str],
    user_home: Path,
) -> None:
    path = user_home / ".docker" / "config.json"
    path.parent.mkdir()
    path.write_text(content.replace("HOST", private_source.host))
    code, _out, err = run(capsys, "plan", str(mirror(config_file, private_source, plain_registry)))
    assert code == 2
    assert f"{path}: " in err and message.replace("HOST", private_source.host) in err


def test_an_identity_token_login_is_exchanged_by_regmirror_and_by_skopeo(
    token_registry: RegistryServer,
    plain_registry: RegistryServer,
    config_file: Callable[[str], Path],
    capsys: pytest.CaptureFixture[str],
    user_home: Path,
) -> None:
    src = token_registry
    push_image(src, "team/app", "1.0", seed="token")
    assert src.token_server is not None
    src.token_server.refresh_tokens["refresh-abc123"] = str(src.username)
    docker_config(user_home, {"auths": {src.host: {"auth": "", "identitytoken": "refresh-abc123"}}})
    src.token_server.reset()
    code, out, err = run(capsys, "sync", str(mirror(config_file, src, plain_registry)))
    assert code == 0, out + err
    assert catalog(plain_registry) == ["mirror/team/app"]
    granted = [r for r in src.token_server.token_requests() if r.account == src.username and r.granted]
    assert len(granted) >= 2  # regmirror's lister/checks and skopeo's pull both exchanged the token
    assert "refresh-abc123" not in out + err
