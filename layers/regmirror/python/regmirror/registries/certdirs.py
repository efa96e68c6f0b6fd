"""Per-host TLS material in `certs.d` folders, found as skopeo and dregsy find it, used by everything.

The folder of a registry is the first of these that exists, for `host:port` and then for the host
without its port (dregsy's folder name): `<skopeo.certs-dir>/` (default `/etc/skopeo/certs.d`, as
dregsy), `~/.config/containers/certs.d/`, `/etc/containers/certs.d/`, `/etc/docker/certs.d/` (the
containers/image order). In it, as containers/image reads it: `*.crt` are CA certificates (added to the
system's), `*.cert` with the `*.key` of the same name are client certificates (mutual TLS). regmirror's
HTTP client uses them and skopeo gets the folder (`--src-cert-dir`/`--dest-cert-dir`).
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import os
import re
import ssl
import tempfile
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from regmirror.errors import RegmirrorError

DEFAULT_SKOPEO_CERTS_DIR = "/etc/skopeo/certs.d"  # dregsy's default
SYSTEM_CERTS_DIRS = (Path("/etc/containers/certs.d"), Path("/etc/docker/certs.d"))
_PORT_SUFFIX = re.compile(r":\d+$")


class CertDirError(RegmirrorError):
    """A certs.d folder that cannot be used as it is (a client certificate without its key, …)."""


def certs_roots(skopeo_certs_dir: str | None, environ: Mapping[str, str] | None = None) -> list[Path]:
    """The certs.d roots, in the order they are searched."""
    env = os.environ if environ is None else environ
    home = Path(env.get("HOME") or Path.home())
    config_home = Path(env.get("XDG_CONFIG_HOME") or home / ".config")
    first = Path(skopeo_certs_dir or DEFAULT_SKOPEO_CERTS_DIR)
    return [first, config_home / "containers" / "certs.d", *SYSTEM_CERTS_DIRS]


def host_without_port(host: str) -> str:
    """dregsy's cert folder name: the configured host with its port dropped."""
    return _PORT_SUFFIX.sub("", host)


def host_folder(host: str, roots: list[Path]) -> Path | None:
    """The first existing `<root>/<host:port>` or `<root>/<host>` (see the module docstring)."""
    names = list(dict.fromkeys([host, host_without_port(host)]))
    for root in roots:
        for name in names:
            folder = root / name
            if folder.is_dir():
                return folder
    return None


@dataclass(frozen=True, slots=True)
class HostTls:
    """What one host's folder holds."""

    folder: Path
    ca_files: tuple[Path, ...]
    client_pairs: tuple[tuple[Path, Path], ...]  # (certificate, key)

    @property
    def client_cert(self) -> tuple[str, str] | None:
        """requests' `cert=`: the first pair (containers/image offers each; one is what servers ask)."""
        return (str(self.client_pairs[0][0]), str(self.client_pairs[0][1])) if self.client_pairs else None


def read_host_tls(folder: Path) -> HostTls:
    """The folder's CAs and client pairs; CertDirError naming the folder when a pair is incomplete."""
    names = _file_names(folder)
    cas = tuple(folder / f"{stem}.crt" for stem in sorted(_stems(names, ".crt")))
    certs, keys = _stems(names, ".cert"), _stems(names, ".key")
    _complete(folder, certs - keys, "client certificate without its key", ".key")
    _complete(folder, keys - certs, "client key without its certificate", ".cert")
    pairs = tuple((folder / f"{stem}.cert", folder / f"{stem}.key") for stem in sorted(certs))
    return HostTls(folder, cas, pairs)


def _file_names(folder: Path) -> list[str]:
    try:
        return sorted(p.name for p in folder.iterdir() if p.is_file())
    except OSError as exc:
        raise CertDirError(f"{folder}: cannot read the certificate folder: {exc.strerror or exc}") from None


def _stems(names: list[str], suffix: str) -> set[str]:
    return {name.removesuffix(suffix) for name in names if name.endswith(suffix)}


def _complete(folder: Path, lacking: set[str], what: str, suffix: str) -> None:
    if lacking:
        missing = ", ".join(f"{stem}{suffix}" for stem in sorted(lacking))
        raise CertDirError(f"{folder}: {what} (missing {missing})")


_bundles: dict[str, str] = {}
_bundles_lock = threading.Lock()


def ca_bundle(tls: HostTls) -> str | None:
    """A PEM file of the system CAs plus the folder's (requests' `verify=` takes one file); None when the
    folder holds no CA. Written once per process and content, removed at exit."""
    if not tls.ca_files:
        return None
    extra = b"\n".join(path.read_bytes() for path in tls.ca_files)
    key = hashlib.sha256(extra).hexdigest()
    with _bundles_lock:
        if key not in _bundles:
            _bundles[key] = _write_bundle(_system_cas() + b"\n" + extra)
        return _bundles[key]


def _system_cas() -> bytes:
    cafile = ssl.get_default_verify_paths().cafile
    try:
        return Path(cafile).read_bytes() if cafile else b""
    except OSError:
        return b""


def _write_bundle(pem: bytes) -> str:
    fd, path = tempfile.mkstemp(prefix="regmirror-ca-", suffix=".pem")
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    atexit.register(_remove, path)
    return path


def _remove(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)
