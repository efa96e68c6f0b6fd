"""Is the skopeo regmirror will run there, and new enough? Asked once before any work (`sync`, `run`;
`validate` and `--version` say it too), so a missing or old skopeo is one clear message instead of
every copy failing with `FileNotFoundError` or `unknown flag`.

The minimum is what the relay's argv needs: `--preserve-digests` came with skopeo 1.6.0 (Ubuntu 22.04
still ships 1.4.1).
"""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
from dataclasses import dataclass

from regmirror.errors import RegmirrorError

MIN_VERSION = (1, 6, 0)
_VERSION = re.compile(r"\bversion (\d+)\.(\d+)\.(\d+)")
INSTALL_HINT = (
    "install it (Debian/Ubuntu: apt install skopeo; Fedora/RHEL: dnf install skopeo; macOS: "
    "brew install skopeo) or set `skopeo: {binary: /path/to/skopeo}`"
)


class SkopeoUnusable(RegmirrorError):
    """No skopeo where the config says, or one too old for the relay's options."""


@dataclass(frozen=True, slots=True)
class SkopeoInfo:
    path: str
    version: tuple[int, int, int] | None  # None: its `--version` said nothing we could read

    def __str__(self) -> str:
        version = ".".join(map(str, self.version)) if self.version else "version unknown"
        return f"skopeo {version} at {self.path}"


@functools.lru_cache(maxsize=8)
def check_skopeo(binary: str) -> SkopeoInfo:
    """The skopeo `binary` names (a path, or a name looked up on PATH); SkopeoUnusable when there is
    none or it is older than MIN_VERSION. A version it does not print readably is let through."""
    path = shutil.which(binary)
    if path is None:
        raise SkopeoUnusable(f"skopeo not found: {binary!r} is not an executable on PATH; {INSTALL_HINT}")
    try:
        answer = subprocess.run(
            [path, "--version"], capture_output=True, text=True, timeout=10, stdin=subprocess.DEVNULL
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SkopeoUnusable(f"{path} does not run as skopeo ({exc.__class__.__name__}: {exc})") from None
    found = _VERSION.search(answer.stdout)
    version = (int(found.group(1)), int(found.group(2)), int(found.group(3))) if found else None
    info = SkopeoInfo(path, version)
    if version is not None and version < MIN_VERSION:
        needed = ".".join(map(str, MIN_VERSION))
        raise SkopeoUnusable(
            f"{info} is too old: regmirror needs skopeo {needed} or newer (for --preserve-digests); "
            f"{INSTALL_HINT.replace('install it', 'install a newer one')}"
        )
    return info


def describe_skopeo(binary: str = "skopeo") -> str:
    """One line for `--version` and `validate`: the skopeo found, or why none is usable."""
    try:
        return str(check_skopeo(binary))
    except SkopeoUnusable as exc:
        return str(exc)
