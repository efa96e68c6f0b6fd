"""The blobs an image holds (config + layers of every manifest, each once) and their bytes.

skopeo 1.9 does not report what it transferred. Before a copy, where the source's kind gives manifests
for free (never Docker Hub, which counts manifest GETs as pulls), the sync reads them from the source:
the copy order learns the large blobs images share, and the relay their total. Otherwise the relay
reads them back from the *target* after the copy. Either is an upper bound of the bytes moved: skopeo
skips blobs the target already had.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

from regmirror.errors import RegmirrorError

MAX_CHILD_MANIFESTS = 64  # a multi-arch index rarely has more; a hostile one must not fan out

Manifest = tuple[str, bytes, str]  # digest, body, media type


class ManifestReader(Protocol):
    def get_manifest(self, repository: str, reference: str) -> tuple[bytes, str, str]: ...


def image_bytes(reader: ManifestReader, repository: str, reference: str) -> int | None:
    """Sum of the image's blob sizes; None when the manifests cannot be read or parsed."""
    blobs = image_blobs(reader, repository, reference)
    return None if blobs is None else sum(blobs.values())


def image_blobs(reader: ManifestReader, repository: str, reference: str) -> dict[str, int] | None:
    """Digest -> size of every blob of the image (every platform of an index); None when the manifests
    cannot be read or parsed."""
    try:
        body, _media_type, _digest = reader.get_manifest(repository, reference)
        document = json.loads(body)
        blobs: dict[str, int] = {}
        children = [json.loads(child) for _, child, _ in child_manifests(reader, repository, document)]
        for manifest in children or [document]:
            collect_blobs(manifest, blobs)
        return blobs
    except (RegmirrorError, ValueError, KeyError, TypeError, AttributeError):
        return None


def child_manifests(reader: ManifestReader, repository: str, document: dict[str, Any]) -> list[Manifest]:
    """(digest, body, media type) of each platform manifest of an index, its first
    `MAX_CHILD_MANIFESTS`, read from `repository`; none for an image manifest."""
    entries = document.get("manifests")
    if not isinstance(entries, list):
        return []
    out: list[Manifest] = []
    for entry in entries[:MAX_CHILD_MANIFESTS]:
        body, media_type, digest = reader.get_manifest(repository, str(entry["digest"]))
        out.append((digest, body, media_type))
    return out


def collect_blobs(manifest: dict[str, Any], blobs: dict[str, int]) -> None:
    """Add the config and layers of one image manifest to `blobs` (digest -> size)."""
    for descriptor in [manifest.get("config") or {}, *(manifest.get("layers") or [])]:
        digest, size = descriptor.get("digest"), descriptor.get("size")
        if isinstance(digest, str) and isinstance(size, int) and size >= 0:
            blobs[digest] = size
