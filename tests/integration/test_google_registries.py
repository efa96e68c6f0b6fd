"""GCR and Artifact Registry without `auth`: a token from Google application default credentials, as
dregsy gets it. On loopback only: a service account JSON whose `token_uri` is the test bed's token
endpoint (it checks the signed JWT), and a registry that accepts exactly the issued token as the password
of `oauth2accesstoken`. The lister, the digest checks and skopeo all use it."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from regmirror.cli.main import main

from tests.testbed import RegistryServer, catalog, manifest_digest, push_image
from tests.testbed.google_oauth import GoogleTokenServer

TOKEN = "ya29." + secrets.token_urlsafe(24)


@pytest.fixture
def google_token_server() -> Iterator[GoogleTokenServer]:
    server = GoogleTokenServer(TOKEN)
    yield server
    server.stop()


@pytest.fixture
def google_registry(registry_factory: Callable[..., RegistryServer]) -> RegistryServer:
    """Accepts only `oauth2accesstoken` with the token the test bed's Google endpoint issues."""
    registry = registry_factory(auth="htpasswd", username="oauth2accesstoken", password=TOKEN)
    push_image(registry, "project/app", "1.0", seed="gcr")
    return registry


def config(config_file: Callable[[str], Path], src: RegistryServer, dst: RegistryServer) -> Path:
    return config_file(
        "tasks:\n  - name: from-gcr\n"
        # a Google registry at 127.0.0.1: `kind: gcr` says what its host name cannot
        f'    source: {{registry: "{src.host}", kind: gcr, skip-tls-verify: true}}\n'
        f'    target: {{registry: "{dst.host}", skip-tls-verify: true}}\n'
        "    mappings: [{from: regex:project/.*, to: mirror}]\n"
    )


def test_application_default_credentials_serve_lister_checks_and_skopeo(
    google_registry: RegistryServer,
    plain_registry: RegistryServer,
    google_token_server: GoogleTokenServer,
    config_file: Callable[[str], Path],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    account = google_token_server.service_account_file(tmp_path)
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(account))
    code = main(["-v", "sync", str(config(config_file, google_registry, plain_registry))])
    out, err = capsys.readouterr()
    assert code == 0, out + err
    assert catalog(plain_registry) == ["mirror/project/app"]
    assert manifest_digest(plain_registry, "mirror/project/app", "1.0") == manifest_digest(
        google_registry, "project/app", "1.0"
    )
    assert len(google_token_server.grants) == 1  # one token for the run, reused
    assert google_token_server.grants[0]["scope"] == "https://www.googleapis.com/auth/cloud-platform"
    assert f"credentials for Google registries: GOOGLE_APPLICATION_CREDENTIALS ({account})" in err
    assert TOKEN not in out + err


def test_without_application_default_credentials_the_registry_is_asked_anonymously(
    google_registry: RegistryServer,
    plain_registry: RegistryServer,
    config_file: Callable[[str], Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["plan", str(config(config_file, google_registry, plain_registry))])
    out, _err = capsys.readouterr()
    assert code == 1
    assert "refused anonymous access (401)" in out


def test_a_service_account_the_endpoint_refuses_is_a_clear_error(
    google_registry: RegistryServer,
    plain_registry: RegistryServer,
    google_token_server: GoogleTokenServer,
    config_file: Callable[[str], Path],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A key the endpoint does not know (a deleted or rotated service account key)."""
    stranger = GoogleTokenServer(TOKEN)  # another key pair
    stranger.stop()
    forged = json.loads(stranger.service_account_file(tmp_path).read_text())
    forged["token_uri"] = google_token_server.token_uri
    account = tmp_path / "forged.json"
    account.write_text(json.dumps(forged))
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(account))
    code = main(["plan", str(config(config_file, google_registry, plain_registry))])
    out, err = capsys.readouterr()
    assert code == 1
    assert f"GOOGLE_APPLICATION_CREDENTIALS ({account})) gave no token: ('invalid_grant" in out + err
    assert google_token_server.refused >= 1
    assert catalog(plain_registry) == []
