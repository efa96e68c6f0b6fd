"""certs.d folders: which one a host gets, and what in it is a CA or a client certificate."""

from __future__ import annotations

from pathlib import Path

import pytest
from regmirror.registries.certdirs import (
    CertDirError,
    certs_roots,
    host_folder,
    host_without_port,
    read_host_tls,
)


@pytest.mark.parametrize(
    ("host", "folder"),
    [("reg.example:5000", "reg.example"), ("reg.example", "reg.example"), ("[::1]:5000", "[::1]")],
)
def test_host_without_port(host: str, folder: str) -> None:
    assert host_without_port(host) == folder


def test_roots_in_order_skopeo_dir_first_then_the_containers_and_docker_ones() -> None:
    roots = certs_roots(None, {"HOME": "/h"})
    assert roots == [
        Path("/etc/skopeo/certs.d"),
        Path("/h/.config/containers/certs.d"),
        Path("/etc/containers/certs.d"),
        Path("/etc/docker/certs.d"),
    ]
    assert certs_roots("/mine", {"HOME": "/h", "XDG_CONFIG_HOME": "/c"})[:2] == [
        Path("/mine"),
        Path("/c/containers/certs.d"),
    ]


def test_host_with_port_first_then_without_then_the_next_root(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    (first / "reg.example").mkdir(parents=True)
    (second / "reg.example:5000").mkdir(parents=True)
    assert host_folder("reg.example:5000", [first, second]) == first / "reg.example"
    (first / "reg.example:5000").mkdir()
    assert host_folder("reg.example:5000", [first, second]) == first / "reg.example:5000"
    assert host_folder("other.example", [first, second]) is None


def test_what_a_folder_holds(tmp_path: Path) -> None:
    for name in ("ca.crt", "extra.crt", "client.cert", "client.key", "README"):
        (tmp_path / name).write_text(name)
    tls = read_host_tls(tmp_path)
    assert [p.name for p in tls.ca_files] == ["ca.crt", "extra.crt"]
    assert tls.client_cert == (str(tmp_path / "client.cert"), str(tmp_path / "client.key"))


@pytest.mark.parametrize(
    ("names", "message"),
    [
        (["client.cert"], "client certificate without its key (missing client.key)"),
        (["client.key"], "client key without its certificate (missing client.cert)"),
    ],
)
def test_an_incomplete_pair_names_the_folder(tmp_path: Path, names: list[str], message: str) -> None:
    for name in names:
        (tmp_path / name).write_text(name)
    with pytest.raises(CertDirError) as raised:
        read_host_tls(tmp_path)
    assert str(raised.value) == f"{tmp_path}: {message}"
