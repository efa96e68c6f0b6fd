"""How many bytes an image holds: config + layers of every manifest, each blob counted once.

skopeo 1.9 does not report what it transferred, so after a copy the relay reads the manifests back
from the *target* (never the source: Docker Hub counts manifest GETs). It is an upper bound of the
bytes moved: skopeo skips blobs the target already had.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

from regmirror.errors import RegmirrorError

MAX_CHILD_MANIFESTS = 64  # a multi-arch index rarely has more; a hostile one must not fan out


class ManifestReader(Protocol):
    def get_manifest(self, repository: str, reference: str) -> tuple[bytes, str, str]: ...


def image_bytes(reader: ManifestReader, repository: str, reference: str) -> int | None:
    """Sum of the image's blob sizes; None when the manifests cannot be read or parsed."""
    try:
        body, _media_type, _digest = reader.get_manifest(repository, reference)
        document = json.loads(body)
        blobs: dict[str, int] = {}
        children = document.get("manifests")
        if isinstance(children, list):
            for child in children[:MAX_CHILD_MANIFESTS]:
                child_body, _, _ = reader.get_manifest(repository, str(child["digest"]))
                _collect(json.loads(child_body), blobs)
        else:
            _collect(document, blobs)
        return sum(blobs.values())
    except (RegmirrorError, ValueError, KeyError, TypeError, AttributeError):
        return None


def _collect(manifest: dict[str, Any], blobs: dict[str, int]) -> None:
    for descriptor in [manifest.get("config") or {}, *(manifest.get("layers") or [])]:
        digest, size = descriptor.get("digest"), descriptor.get("size")
        if isinstance(digest, str) and isinstance(size, int) and size >= 0:
            blobs[digest] = size
