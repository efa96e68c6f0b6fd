"""A registry's certs.d folder serves everything, as it does for skopeo and dregsy: a private CA and
client certificates (mutual TLS) placed where containers tools look work for the lister, the digest
checks and the copies, with no `ca-file` in the config; an incomplete folder is refused up front."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from regmirror.cli.main import main

from tests.testbed import RegistryServer, catalog, manifest_digest, push_image


def b64_auth(server: RegistryServer) -> str:
    import base64

    return base64.b64encode(f"{server.username}:{server.password}".encode()).decode()


def tls_target_config(
    config_file: Callable[[str], Path], src: RegistryServer, dst: RegistryServer, extra: str = ""
) -> Path:
    auth = f", auth: {b64_auth(dst)}" if dst.username else ""
    return config_file(
        f"{extra}tasks:\n  - name: t\n"
        f'    source: {{registry: "{src.host}", skip-tls-verify: true}}\n'
        f'    target: {{registry: "{dst.host}"{auth}}}\n'
        "    mappings: [{from: regex:team/.*, to: mirror}]\n"
    )


def folder_for(root: Path, server: RegistryServer, *, name: str | None = None, client: bool = False) -> Path:
    folder = root / (name or server.host)
    folder.mkdir(parents=True)
    assert server.ca_file is not None
    shutil.copyfile(server.ca_file, folder / "ca.crt")
    if client:
        assert server.client_cert is not None
        shutil.copyfile(server.client_cert[0], folder / "client.cert")
        shutil.copyfile(server.client_cert[1], folder / "client.key")
    return folder


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("where", ["skopeo.certs-dir", "~/.config/containers/certs.d (port dropped)"])
def test_a_private_ca_in_a_certs_folder_serves_checks_and_copies(
    where: str,
    plain_registry: RegistryServer,
    tls_registry: RegistryServer,
    config_file: Callable[[str], Path],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    user_home: Path,
) -> None:
    push_image(plain_registry, "team/app", "1.0", seed="ca")
    if where == "skopeo.certs-dir":
        folder_for(tmp_path / "certs.d", tls_registry)
        extra = f"skopeo: {{certs-dir: {tmp_path / 'certs.d'}}}\n"
    else:
        folder_for(user_home / ".config" / "containers" / "certs.d", tls_registry, name="127.0.0.1")
        extra = ""
    config = tls_target_config(config_file, plain_registry, tls_registry, extra)
    code, out, err = run(capsys, "sync", str(config))
    assert code == 0, out + err
    assert catalog(tls_registry) == ["mirror/team/app"]
    assert manifest_digest(tls_registry, "mirror/team/app", "1.0") == manifest_digest(
        plain_registry, "team/app", "1.0"
    )
    code, out, _err = run(capsys, "plan", str(config))  # the digest check (our HTTP client) trusts it too
    assert code == 0 and "1 in sync" in out


def test_without_the_folder_the_private_ca_is_not_trusted(
    plain_registry: RegistryServer,
    tls_registry: RegistryServer,
    config_file: Callable[[str], Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    push_image(plain_registry, "team/app", "1.0", seed="ca")
    code, out, _err = run(capsys, "plan", str(tls_target_config(config_file, plain_registry, tls_registry)))
    assert code == 0
    assert "its TLS certificate is not trusted" in out


@pytest.fixture
def mtls_registry(registry_factory: Callable[..., RegistryServer]) -> RegistryServer:
    """TLS from a private CA that also requires a client certificate signed by it."""
    return registry_factory(client_certs=True)


def test_mutual_tls_with_client_certificates_from_the_folder(
    plain_registry: RegistryServer,
    mtls_registry: RegistryServer,
    config_file: Callable[[str], Path],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    push_image(plain_registry, "team/app", "1.0", seed="mtls")
    root = tmp_path / "certs.d"
    folder = folder_for(root, mtls_registry)
    config = tls_target_config(config_file, plain_registry, mtls_registry, f"skopeo: {{certs-dir: {root}}}\n")
    code, out, _err = run(capsys, "plan", str(config))  # a CA only: the registry refuses the handshake
    assert "check failed" in out
    shutil.rmtree(folder)
    folder_for(root, mtls_registry, client=True)
    code, out, err = run(capsys, "sync", str(config))
    assert code == 0, out + err
    assert catalog(mtls_registry) == ["mirror/team/app"]
    code, out, _err = run(capsys, "plan", str(config))
    assert code == 0 and "1 in sync" in out


def test_a_client_certificate_without_its_key_is_refused_naming_the_folder(
    plain_registry: RegistryServer,
    mtls_registry: RegistryServer,
    config_file: Callable[[str], Path],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    root = tmp_path / "certs.d"
    folder = folder_for(root, mtls_registry, client=True)
    (folder / "client.key").unlink()
    config = tls_target_config(config_file, plain_registry, mtls_registry, f"skopeo: {{certs-dir: {root}}}\n")
    code, _out, err = run(capsys, "sync", str(config))
    assert code == 2
    assert (
        f"tasks[0].target.registry: {folder}: client certificate without its key (missing client.key)" in err
    )
    assert catalog(plain_registry) == []
