"""What an image to copy holds, read from the source's manifests before its copy, where a manifest GET
is free (never Docker Hub, which counts one as a pull): the copy order's keys (its large blobs, per
target registry: `sync.order`) and the relay's size (its bytes, so the target is not read back after
the copy). Learnt in the check threads, one round trip per image (two or more for an index)."""

from __future__ import annotations

import threading

from regmirror.model import ItemState, SyncItem, canonical_host
from regmirror.registries.sizes import image_blobs
from regmirror.sync.order import repository_of
from regmirror.sync.plan import PlannedItem
from regmirror.sync.registries import Registries

# Blobs smaller than this are not waited for: uploading one twice costs less than waiting for another
# copy to finish (1 MiB is one 40 ms round trip at 200 Mbit/s; a shared base is tens of MiB).
SHARED_BLOB_MIN = 1024 * 1024


class ImageBlobs:
    """The large blobs and the size of each image of a run that needs copying. Thread-safe."""

    def __init__(self, registries: Registries, shared_min: int = SHARED_BLOB_MIN) -> None:
        self.registries = registries
        self.shared_min = shared_min
        self._lock = threading.Lock()
        self._keys: dict[str, tuple[str, ...]] = {}
        self._sizes: dict[str, int] = {}

    def learn(self, planned: PlannedItem) -> None:
        """Read an image's manifests from its source, if it is to be copied and a GET costs nothing."""
        item = planned.item
        source = self.registries.task(item.task).source
        if planned.state != ItemState.COPY or self.registries.kind(source).counts_manifest_gets:
            return
        reference = planned.source_digest or item.source.reference
        blobs = image_blobs(self.registries.client(source), item.source.repository, reference)
        if blobs is None:  # the copy tells what is wrong; the order falls back to the repository
            return
        host = canonical_host(item.target.registry)
        keys = tuple(f"{host}@{digest}" for digest, size in blobs.items() if size >= self.shared_min)
        with self._lock:
            self._keys[item.key()] = keys
            if item.platform == "all":  # one platform of an index holds fewer than all of them
                self._sizes[item.key()] = sum(blobs.values())

    def keys(self, item: SyncItem) -> tuple[str, ...]:
        """`sync.order`'s keys: the target repository, the whole image (the same image in two
        repositories: the second is mounted from the first, `sync.retag`), and the large blobs when
        known."""
        image = (
            (f"{canonical_host(item.target.registry)}@{item.source_digest}",)
            if item.platform == "all" and item.source_digest
            else ()
        )
        with self._lock:
            return (repository_of(item), *image, *self._keys.get(item.key(), ()))

    def size(self, item: SyncItem) -> int | None:
        with self._lock:
            return self._sizes.get(item.key())

    def forget(self, item: SyncItem) -> None:
        """The copy is done: nothing more is asked about it (memory stays bounded)."""
        with self._lock:
            self._keys.pop(item.key(), None)
            self._sizes.pop(item.key(), None)
