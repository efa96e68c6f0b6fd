"""Manifest media types and what a HEAD tells about a manifest."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
# distribution answers 404 for OCI manifests (or down-converts to schema1) unless all are accepted.
MANIFEST_MEDIA_TYPES = (OCI_INDEX, OCI_MANIFEST, DOCKER_MANIFEST_LIST, DOCKER_MANIFEST)
MANIFEST_ACCEPT = ", ".join(MANIFEST_MEDIA_TYPES)


@dataclass(frozen=True, slots=True)
class ManifestInfo:
    digest: str
    media_type: str
    size: int  # -1 when the registry did not say


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def content_type(headers: Mapping[str, str]) -> str:
    return headers.get("Content-Type", "").split(";")[0].strip()


def embedded_media_type(body: bytes) -> str:
    """The manifest's own `mediaType` (for registries that answer without a Content-Type)."""
    try:
        value = json.loads(body).get("mediaType", "")
    except (ValueError, AttributeError, RecursionError):
        return ""
    return value if isinstance(value, str) else ""


def is_index(media_type: str | None) -> bool:
    """An index / manifest list (multi-arch), told by its media type."""
    return bool(media_type) and ("index" in str(media_type) or "manifest.list" in str(media_type))
