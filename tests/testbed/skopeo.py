"""Run skopeo against a test-bed registry with the right transport flags (never `--creds`)."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from tests.testbed.registry import RegistryServer, write_authfile


def skopeo_args(server: RegistryServer, authfile: Path | None = None, *, prefix: str = "") -> list[str]:
    """Transport flags for `server`: `--{prefix}tls-verify=false` for plain HTTP, else
    `--{prefix}cert-dir=...` for TLS, plus `--authfile=...` when given.

    `prefix` is "" for `inspect`, "src-" or "dest-" for `copy` (which has one shared --authfile).
    """
    args = []
    if server.tls:
        args.append(f"--{prefix}cert-dir={server.skopeo_cert_dir}")
    else:
        args.append(f"--{prefix}tls-verify=false")
    if authfile is not None:
        args.append(f"--authfile={authfile}")
    return args


def skopeo_inspect_raw(server: RegistryServer, repository: str, reference: str) -> bytes:
    """`skopeo inspect --raw docker://host/repo:tag|@digest`; credentials go through a 0600 authfile."""
    sep = "@" if reference.startswith("sha256:") else ":"
    with tempfile.TemporaryDirectory(prefix="regmirror-skopeo-") as tmp:
        authfile = write_authfile(server, Path(tmp) / "auth.json") if server.basic_auth else None
        result = subprocess.run(
            [
                "skopeo",
                "inspect",
                "--raw",
                *skopeo_args(server, authfile),
                f"docker://{server.host}/{repository}{sep}{reference}",
            ],
            capture_output=True,
            timeout=60,
            check=False,
            env={"PATH": "/usr/bin:/bin", "HOME": tmp, "TMPDIR": tmp},
        )
    if result.returncode != 0:
        raise AssertionError(
            f"skopeo inspect failed ({result.returncode}): {result.stderr.decode(errors='replace')}"
        )
    return result.stdout
