"""Requests a registry served, by kind, from its access log (tests.testbed.RegistryServer.requests)."""

from __future__ import annotations

import re

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


def per_tag(counts: dict[str, int], tags: int) -> dict[str, float]:
    return {kind: round(n / tags, 3) for kind, n in counts.items() if n} if tags else {}
