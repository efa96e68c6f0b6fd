"""Requests a registry served, by kind, from its access log (tests.testbed.RegistryServer.requests)."""

from __future__ import annotations

import os
import re
from pathlib import Path

from tests.testbed import RegistryServer

_KINDS = (
    ("manifest_get", "GET", re.compile(r"/v2/.+/manifests/[^/]+")),
    ("manifest_head", "HEAD", re.compile(r"/v2/.+/manifests/[^/]+")),
    ("manifest_put", "PUT", re.compile(r"/v2/.+/manifests/[^/]+")),
    ("blob_get", "GET", re.compile(r"/v2/.+/blobs/[^/]+")),
    ("blob_head", "HEAD", re.compile(r"/v2/.+/blobs/[^/]+")),
    ("tags_list", "GET", re.compile(r"/v2/.+/tags/list")),
    ("catalog", "GET", re.compile(r"/v2/_catalog")),
    ("ping", "GET", re.compile(r"/v2/?")),
)


def count_requests(server: RegistryServer, since: int) -> dict[str, int]:
    """Requests after `since` (a `server.mark()`), by kind; uploads and anything else under "other"."""
    counts = {kind: 0 for kind, _, _ in _KINDS} | {"other": 0, "total": 0}
    for record in server.requests(since=since):
        counts["total"] += 1
        kind = next((k for k, m, p in _KINDS if record.method == m and p.fullmatch(record.path)), "other")
        counts[kind] += 1
    return counts


def server_cpu(server: RegistryServer) -> float:
    """CPU seconds (user + system) the registry process has used so far; 0.0 when unknown."""
    process = getattr(server, "_process", None)  # the test bed keeps its Popen private
    if process is None:
        return 0.0
    try:
        fields = Path(f"/proc/{process.pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def per_tag(counts: dict[str, int], tags: int) -> dict[str, float]:
    return {kind: round(n / tags, 3) for kind, n in counts.items() if n} if tags else {}
