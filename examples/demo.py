"""The `make demo` driver: real registries on 127.0.0.1:5000 and :5001, seeded over the registry API."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.testbed import RegistryServer, push_image

SOURCE_PORT, TARGET_PORT = 5000, 5001
CONFIG = Path(__file__).with_name("local.yaml")
IMAGES = [
    ("myproject/webui", "1.0.0", None),
    ("myproject/webui", "1.1.0", ["linux/amd64", "linux/arm64"]),
    ("myproject/webui", "1.2.0", ["linux/amd64", "linux/arm64"]),
    ("myproject/webui", "dev", None),
    ("myproject/api", "1.0.0", None),
    ("myproject/api", "0.9.1", None),
    ("jenkins/jnlp-slave", "latest", None),
    ("jenkins/jnlp-slave", "3.40", None),
    ("jenkins/master", "latest", None),
    ("base/busybox", "1.36", ["linux/amd64", "linux/arm64", "linux/arm/v7"]),
    ("base/busybox", "latest", ["linux/amd64", "linux/arm64", "linux/arm/v7"]),
]


def port_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def step(title: str, work: Path, *args: str) -> int:
    print(f"\n$ regmirror {' '.join(args)}    # {title}", flush=True)
    # The demo's registries are new each time: so is its copy record (kept under the demo's folder).
    env = {**os.environ, "XDG_STATE_HOME": str(work / "state")}
    return subprocess.call([sys.executable, "-m", "regmirror.cli", *args], env=env)


def main() -> int:
    for port in (SOURCE_PORT, TARGET_PORT):
        if not port_free(port):
            print(
                f"demo: port {port} on 127.0.0.1 is in use; examples/local.yaml expects it free",
                file=sys.stderr,
            )
            return 2
    work = Path(tempfile.mkdtemp(prefix="regmirror-demo-"))
    try:
        with (
            RegistryServer(port=SOURCE_PORT, base_dir=work / "source") as source,
            RegistryServer(port=TARGET_PORT, base_dir=work / "target"),
        ):
            print(f"demo: source registry {source.host}, target registry 127.0.0.1:{TARGET_PORT}; seeding…")
            for repo, tag, platforms in IMAGES:
                push_image(source, repo, tag, platforms=platforms, seed=f"{repo}:{tag}", shared_base=True)
            codes = [
                step("what would be copied, and why", work, "plan", str(CONFIG)),
                step("copy it", work, "sync", str(CONFIG), "--no-progress"),
                step("again: in sync, nothing is copied", work, "sync", str(CONFIG), "--no-progress"),
            ]
            return max(codes)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
