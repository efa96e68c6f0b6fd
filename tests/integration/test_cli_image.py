"""The CLI container image (examples/container), as `make image` builds it before the tests: pushed to
a real registry as an OCI image, and its regmirror run inside its own root filesystem (chroot, as
the non-root user the image runs as) against real registries."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.testbed import catalog, manifest_digest, push_image
from tests.testbed.registry import RegistryServer

REPO = Path(__file__).resolve().parents[2]
IMAGE = REPO / ".image"
ROOTFS = IMAGE / "rootfs"
USER = "10001:10001"  # regmirror, as install.sh creates it
CHROOT = shutil.which("chroot", path="/usr/sbin:/usr/bin:/sbin:/bin") or "chroot"


@pytest.fixture(scope="module")
def image() -> Path:
    assert (IMAGE / "oci" / "index.json").is_file(), "run `make image` (make test does) first"
    return IMAGE


def in_image(*argv: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CHROOT, f"--userspec={USER}", str(ROOTFS), *argv],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": "/home/regmirror"},
    )


def test_the_image_is_pushed_as_oci_and_runs_regmirror_as_a_non_root_user(
    image: Path, plain_registry: RegistryServer
) -> None:
    target = f"docker://{plain_registry.host}/tools/regmirror:test"
    subprocess.run(
        ["skopeo", "copy", "--dest-tls-verify=false", f"oci:{image / 'oci'}:latest", target],
        check=True,
        capture_output=True,
        timeout=300,
    )
    assert manifest_digest(plain_registry, "tools/regmirror", "test")
    inspected = subprocess.run(
        ["skopeo", "inspect", "--config", "--tls-verify=false", target],
        check=True,
        capture_output=True,
        text=True,
    )
    config = json.loads(inspected.stdout)["config"]
    assert config["User"] == "regmirror" and config["Entrypoint"] == ["/usr/local/bin/regmirror"]
    assert config["WorkingDir"] == "/config"
    version = in_image("/usr/local/bin/regmirror", "--version")
    assert version.returncode == 0, version.stderr
    assert version.stdout.startswith("regmirror ") and "skopeo 1." in version.stdout
    assert "regmirror:x:10001:10001" in (ROOTFS / "etc" / "passwd").read_text()
    # compiled by the image's Python: a read-only root filesystem starts without compiling
    assert list((ROOTFS / "opt/regmirror/regmirror/cli/__pycache__").glob("main.cpython-311.pyc"))


def test_the_images_regmirror_mirrors_between_real_registries(
    image: Path, plain_registry: RegistryServer, second_plain_registry: RegistryServer
) -> None:
    digest = push_image(plain_registry, "apps/web", "1.0", layers=2)
    config = ROOTFS / "config" / "mirror.yaml"
    config.write_text(
        f"""tasks:
  - name: image
    source: {{registry: "{plain_registry.host}", insecure: true}}
    target: {{registry: "{second_plain_registry.host}", insecure: true}}
    mappings: [{{from: apps/web, to: mirror/web}}]
"""
    )
    try:
        done = in_image("/usr/local/bin/regmirror", "sync", "/config/mirror.yaml", "--no-record")
        assert done.returncode == 0, done.stdout + done.stderr
        assert catalog(second_plain_registry) == ["mirror/web"]
        assert manifest_digest(second_plain_registry, "mirror/web", "1.0") == digest
        again = in_image("/usr/local/bin/regmirror", "sync", "/config/mirror.yaml", "--no-record")
        assert again.returncode == 0 and "0 copied, 1 already in sync" in again.stdout
    finally:
        config.unlink()


def test_the_dockerfile_installs_what_the_rootfs_build_installs() -> None:
    """No Docker here to build it: the Dockerfile must take the same packages and the same install."""
    dockerfile = (REPO / "examples/container/Dockerfile").read_text()
    build = (REPO / "examples/container/build.sh").read_text()
    for script in (dockerfile, build):
        assert "packages.txt" in script and "install.sh" in script
    assert "USER regmirror" in dockerfile and 'ENTRYPOINT ["/usr/local/bin/regmirror"]' in dockerfile
    assert "WORKDIR /config" in dockerfile and "--config.workingdir /config" in build
    assert "FROM debian:bookworm" in dockerfile and " bookworm " in build
    assert (
        "python3 -m compileall -q /opt/regmirror" in dockerfile
        and "python3 -m compileall -q /opt/regmirror" in build
    )
