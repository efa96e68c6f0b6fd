"""Which hosts are Google's registries (as dregsy tells them): `gcr.io`, `*.gcr.io`, `*-docker.pkg.dev`."""

from __future__ import annotations

import re

_GOOGLE = re.compile(r"(?:[a-z0-9-]+\.)?gcr\.io|[a-z0-9-]+-docker\.pkg\.dev", re.IGNORECASE)


def is_google_registry(host: str) -> bool:
    return _GOOGLE.fullmatch(host.rsplit(":", 1)[0] if host.count(":") == 1 else host) is not None
