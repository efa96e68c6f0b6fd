"""Copying an image the target registry already holds, without skopeo: its manifest is PUT under the
new tag (a re-tag: `1.2.3` and `latest` are one image), after its blobs are mounted and its platform
manifests PUT when another repository of the registry holds it (the same image mirrored twice).

A re-tag is one manifest GET and one PUT on the target, against a skopeo process's ~40 round trips to
both registries; nothing is read from the source. `sync.held` tells where the manifest is (a local
sync learns it from its checks and copies); a relay copying one image per message asks the target
repository with a HEAD (`probe`).

Only a whole-image copy (platform "all") qualifies: it keeps the source digest, so the manifest the
target holds is byte for byte the one to push. A surprise (the manifest gone, a mount refused, a PUT
refused) leaves the image to skopeo, with nothing half-done: the tag is written last, once everything
it references is in place.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from regmirror.errors import RegistryError
from regmirror.model import CopiedBy, CopyResult, SyncItem
from regmirror.registries.distribution.client import RegistryClient
from regmirror.registries.distribution.media import is_index
from regmirror.registries.sizes import MAX_CHILD_MANIFESTS, Manifest, child_manifests, collect_blobs
from regmirror.sync.held import HeldImages
from regmirror.sync.prepare import prepare_target
from regmirror.sync.registries import Registries

log = logging.getLogger("regmirror.sync")


class ManifestCopy:
    """`copy(item)`: the image copied by manifest alone, or None when skopeo must copy it."""

    def __init__(self, registries: Registries, held: HeldImages, *, probe: bool = False) -> None:
        self.registries = registries
        self.held = held
        # Without a run's knowledge (a relay copying one image per message), ask the target repository
        # whether it holds the digest: one HEAD, against a skopeo process when it does (a tag pushed
        # after the version tag of the same image, a rollback).
        self.probe = probe

    def copy(self, item: SyncItem) -> CopyResult | None:
        origin = self._origin(item)
        if origin is None:
            return None
        start, digest = time.monotonic(), str(item.source_digest)
        target = self.registries.task(item.task).target
        try:
            return self._copy(item, self.registries.client(target), origin, start)
        except (RegistryError, ValueError, KeyError, TypeError) as exc:
            if isinstance(exc, RegistryError) and exc.status == 404:
                self.held.forget(item.target.registry, origin, digest)
            log.debug("%s: left to skopeo (%s from %s: %s)", item.target, digest, origin, exc)
            return None

    def _origin(self, item: SyncItem) -> str | None:
        """The target repository to copy `item` from: its own when it holds the image, else another."""
        if not self._qualifies(item):
            return None
        holders = self.held.holders(item.target.registry, str(item.source_digest))
        if item.target.repository in holders or (not holders and self._probed(item)):
            return item.target.repository
        return holders[0] if holders else None

    def _probed(self, item: SyncItem) -> bool:
        if not self.probe:
            return False
        client = self.registries.client(self.registries.task(item.task).target)
        try:
            return client.head_manifest(item.target.repository, str(item.source_digest)) is not None
        except RegistryError:
            return False  # skopeo's copy says what is wrong

    def _qualifies(self, item: SyncItem) -> bool:
        """A whole image of known digest, into a registry where a manifest GET costs nothing (on
        Docker Hub it counts as a pull, while skopeo's blob HEADs do not)."""
        if item.platform != "all" or not item.source_digest:
            return False
        target = self.registries.task(item.task).target
        return not self.registries.kind(target).counts_manifest_gets

    def _copy(self, item: SyncItem, client: RegistryClient, origin: str, start: float) -> CopyResult | None:
        digest = str(item.source_digest)
        body, media_type, _ = client.get_manifest(origin, digest)  # a body not of `digest` raises
        in_sync = prepare_target(self.registries, item)  # e.g. an ECR repository created
        if in_sync is not None:
            return in_sync
        repository = item.target.repository
        children = 0 if origin == repository else _mount(client, origin, repository, body, media_type)
        if children is None:
            return None
        client.put_manifest(repository, item.target.tag or digest, body, media_type)
        log.info("%s: copied by manifest (%s held in %s)", item.target, digest, origin)
        return CopyResult(
            item=item,
            status="copied",
            reason=CopiedBy.RETAGGED if origin == repository else CopiedBy.MOUNTED,
            duration=time.monotonic() - start,
            bytes=len(body) + children,
            source_digest=digest,
            target_digest=digest,
            error=None,
            attempts=1,
        )


def _mount(client: RegistryClient, origin: str, repository: str, body: bytes, media_type: str) -> int | None:
    """Mount every blob of the image from `origin` into `repository` and PUT its platform manifests
    there; the bytes of those manifests, or None when a mount was refused (skopeo copies then)."""
    document: dict[str, Any] = json.loads(body)
    children = _platform_manifests(client, origin, document, media_type)
    if children is None:
        return None
    blobs: dict[str, int] = {}
    for manifest in [json.loads(child_body) for _, child_body, _ in children] or [document]:
        collect_blobs(manifest, blobs)
    if not all(client.mount_blob(repository, blob, origin) for blob in blobs):
        return None
    for child_digest, child_body, child_type in children:
        client.put_manifest(repository, child_digest, child_body, child_type)
    return sum(len(child_body) for _, child_body, _ in children)


def _platform_manifests(
    client: RegistryClient, origin: str, document: dict[str, Any], media_type: str
) -> list[Manifest] | None:
    """An index's platform manifests from `origin` (none for an image manifest); None for what skopeo
    should copy instead: an index of indexes, or one too large."""
    entries = document.get("manifests")
    if entries is None and not is_index(media_type):
        return []
    if not isinstance(entries, list) or len(entries) > MAX_CHILD_MANIFESTS:
        return None
    children = child_manifests(client, origin, document)
    return None if any(is_index(child_type) for _, _, child_type in children) else children
