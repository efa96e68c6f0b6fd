"""Tags, digests and media types of ECR repositories from one `DescribeImages` listing per repository,
so the planner needs no HEAD request per tag.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from regmirror.errors import RegistryError
from regmirror.registries.distribution.media import ManifestInfo
from regmirror.registries.ecr.aws import (
    MAX_PAGE_SIZE,
    Clock,
    api_client,
    api_repository_name,
    aws_error_text,
    error_code,
    registry_kwargs,
)
from regmirror.registries.spec import RegistrySpec

log = logging.getLogger("regmirror.ecr")

DEFAULT_DIGEST_TTL = 60.0  # seconds a DescribeImages listing is reused (one planning pass)


@dataclass(frozen=True)
class ImageListing:
    """One repository's images: tag → digest, and digest → (media type, size in bytes)."""

    tags: dict[str, str]
    images: dict[str, tuple[str, int]]


def _image_details(
    client: Any, rc: RegistrySpec, repository: str, page_size: int
) -> Iterator[dict[str, Any]]:
    paginator = client.get_paginator("describe_images")
    pages = paginator.paginate(
        repositoryName=repository, PaginationConfig={"PageSize": page_size}, **registry_kwargs(rc)
    )
    for page in pages:
        yield from page.get("imageDetails") or []


def _listing(details: Iterator[dict[str, Any]]) -> ImageListing:
    tags: dict[str, str] = {}
    images: dict[str, tuple[str, int]] = {}
    for detail in details:
        digest = str(detail.get("imageDigest", ""))
        if not digest:
            continue
        images[digest] = (
            str(detail.get("imageManifestMediaType", "")),
            int(detail.get("imageSizeInBytes", -1)),
        )
        for tag in detail.get("imageTags") or []:
            tags[str(tag)] = digest
    return ImageListing(tags, images)


class EcrTagDigests:
    """Tags and digests of ECR repositories from `DescribeImages` (one paginated listing per repository).

    Implements what the planner asks of a source or target (`list_tags`, `head_manifest`) plus
    `tag_digests`, without a registry API request per tag. A listing is reused for `ttl` seconds;
    `forget(repository)` drops it (e.g. after a copy into that repository).
    """

    def __init__(
        self,
        rc: RegistrySpec,
        *,
        ttl: float = DEFAULT_DIGEST_TTL,
        page_size: int = MAX_PAGE_SIZE,
        client: Any = None,
        clock: Clock = time.monotonic,
    ) -> None:
        self.rc = rc
        self.registry = rc.registry
        self._ttl = ttl
        self._page_size = max(1, min(page_size, MAX_PAGE_SIZE))
        self._client = client
        self._clock = clock
        self._lock = threading.Lock()
        self._listings: dict[str, tuple[ImageListing | None, float]] = {}  # repository -> (listing, taken at)
        self.describe_calls = 0  # listings fetched (not pages)

    def __repr__(self) -> str:
        return f"EcrTagDigests({self.registry!r})"

    def _api(self) -> Any:
        return self._client if self._client is not None else api_client(self.rc)

    def listing(self, repository: str) -> ImageListing | None:
        """The repository's images; None when the repository does not exist."""
        with self._lock:
            cached = self._listings.get(repository)
        if cached is not None and cached[1] + self._ttl > self._clock():
            return cached[0]
        taken_at = self._clock()
        fresh = self._fetch(repository)
        with self._lock:
            self._listings[repository] = (fresh, taken_at)
        return fresh

    def _fetch(self, repository: str) -> ImageListing | None:
        self.describe_calls += 1
        try:
            name = api_repository_name(self.rc, repository)
            return _listing(_image_details(self._api(), self.rc, name, self._page_size))
        except ClientError as exc:
            if error_code(exc) == "RepositoryNotFoundException":
                return None
            raise self._error(repository, exc) from None
        except BotoCoreError as exc:
            raise self._error(repository, exc) from None

    def _error(self, repository: str, exc: BaseException) -> RegistryError:
        return RegistryError(
            f"{self.registry}: DescribeImages on {repository} failed: {aws_error_text(exc)}",
            registry=self.registry,
        )

    def tag_digests(self, repository: str) -> dict[str, str] | None:
        """tag → manifest digest; None when the repository does not exist."""
        found = self.listing(repository)
        return dict(found.tags) if found is not None else None

    def list_tags(self, repository: str) -> list[str]:
        found = self.listing(repository)
        if found is None:
            raise RegistryError(
                f"{self.registry}: repository {repository} does not exist", status=404, registry=self.registry
            )
        return sorted(found.tags)

    def head_manifest(self, repository: str, reference: str) -> ManifestInfo | None:
        """Digest and media type of a tag or digest, as a registry HEAD would give; None when absent."""
        found = self.listing(repository)
        if found is None:
            return None
        digest = reference if reference.startswith("sha256:") else found.tags.get(reference)
        if digest is None or digest not in found.images:
            return None
        media_type, _image_size = found.images[digest]
        return ManifestInfo(digest, media_type, -1)  # DescribeImages gives the image size, not the manifest's

    def forget(self, repository: str) -> None:
        with self._lock:
            self._listings.pop(repository, None)
