"""What the planner asks of a registry: its tags and the digest of a tag or digest."""

from __future__ import annotations

from typing import Protocol

from regmirror.registries.distribution.media import ManifestInfo


class ManifestSource(Protocol):
    """Tags and manifest digests of a registry (RegistryClient, ECR's DescribeImages listing)."""

    def list_tags(self, repository: str) -> list[str]: ...

    def head_manifest(self, repository: str, reference: str) -> ManifestInfo | None: ...


class TagDigestSource(Protocol):
    """Optional: a source that knows every tag's digest from one listing (ECR)."""

    def tag_digests(self, repository: str) -> dict[str, str] | None: ...
