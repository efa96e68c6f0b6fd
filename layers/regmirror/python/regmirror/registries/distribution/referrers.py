"""The referrers of a manifest (signatures, attestations, SBOMs whose `subject` it is), found by
both schemes of OCI distribution 1.1, and the fallback index written back.

- The referrers API, `GET /v2/<name>/referrers/<digest>`: an image index of descriptors.
- Without it (a 404: distribution 2.8, most registries before 2024), the referrers tag schema: the
  index tagged `sha256-<hex>` in the same repository, maintained by whoever pushes a referrer.
- Either way cosign's own tags, `sha256-<hex>.sig`, `.att`, `.sbom` (cosign writes these by default
  whatever the registry supports).

Nothing here decides what to copy (`sync.referrers` does): this is what a registry holds.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from regmirror.errors import RegistryError
from regmirror.registries.distribution.client import RegistryClient
from regmirror.registries.distribution.media import OCI_INDEX, ManifestInfo, is_index
from regmirror.registries.manifests import ManifestSource
from regmirror.rules import refs
from regmirror.rules.referrers import COSIGN_TAG_TYPES

log = logging.getLogger("regmirror.referrers")

# Per subject: more is a registry answering nonsense or an attack on the mirror; the rest is left
# (with a warning) rather than copied without end.
MAX_REFERRERS = 1000

Scheme = Literal["api", "tag"]


@dataclass(frozen=True, slots=True)
class Referrer:
    """One manifest referring to a subject. `tag` is set for cosign's tags (copied under it)."""

    digest: str
    media_type: str
    size: int
    artifact_type: str
    tag: str | None = None
    annotations: Mapping[str, str] = field(default_factory=dict)

    def descriptor(self) -> dict[str, Any]:
        """Its entry in an image index (the fallback index, as the referrers API would answer)."""
        entry: dict[str, Any] = {"mediaType": self.media_type, "digest": self.digest, "size": self.size}
        if self.artifact_type:
            entry["artifactType"] = self.artifact_type
        if self.annotations:
            entry["annotations"] = dict(self.annotations)
        return entry


@dataclass(frozen=True, slots=True)
class Listing:
    """What a registry holds for one subject: by which scheme, the referrers, and warnings."""

    scheme: Scheme
    referrers: tuple[Referrer, ...] = ()
    warnings: tuple[str, ...] = ()

    def digests(self) -> set[str]:
        return {r.digest for r in self.referrers if r.tag is None}

    def tagged(self) -> dict[str, str]:
        """cosign tag → the digest it names."""
        return {r.tag: r.digest for r in self.referrers if r.tag is not None}


def fallback_tag(digest: str) -> str:
    """The referrers tag schema's tag of a subject: `<algorithm>-<hex>` (`sha256:ab…` → `sha256-ab…`)."""
    algorithm, _, encoded = digest.partition(":")
    return f"{algorithm[:32]}-{encoded[:64]}"


def list_referrers(
    client: RegistryClient, repository: str, digest: str, tags: Collection[str] | None = None
) -> Listing:
    """Every referrer of `digest` in `repository`: the referrers API or the fallback index, plus
    cosign's tags. `tags`, the repository's tags when known, spares the requests for tags it lacks.
    Raises RegistryError when the registry fails or answers something that is not an index."""
    warnings: list[str] = []
    where = f"{client.registry}/{repository}@{digest}"
    entries = client.get_referrers(repository, digest) if client.referrers_api is not False else None
    scheme: Scheme = "api"
    if entries is None:
        scheme = "tag"
        entries = fallback_index(client, repository, digest) if _has(tags, fallback_tag(digest)) else []
    found = _referrers(entries, where, warnings)
    found += _cosign_tags(client, repository, digest, tags)
    if len(found) > MAX_REFERRERS:
        warnings.append(f"{where}: {len(found)} referrers; only the first {MAX_REFERRERS} are mirrored")
        found = found[:MAX_REFERRERS]
    return Listing(scheme, tuple(found), tuple(warnings))


def fallback_index(client: RegistryClient, repository: str, digest: str) -> list[Any]:
    """The `manifests` of the index tagged `sha256-<hex>` (none when there is no such tag)."""
    tag = fallback_tag(digest)
    try:
        body, media_type, _ = client.get_manifest(repository, tag)
    except RegistryError as exc:
        if exc.status == 404:
            return []
        raise
    where = f"{client.registry}/{repository}:{tag}"
    try:
        index = json.loads(body)
    except ValueError:
        raise RegistryError(f"{where}: the referrers tag is not JSON", registry=client.registry) from None
    manifests = index.get("manifests") if isinstance(index, dict) else None
    if not is_index(media_type) or not isinstance(manifests, list):
        raise RegistryError(
            f"{where}: the referrers tag holds {media_type or 'a manifest'}, not an image index",
            registry=client.registry,
        )
    return manifests


def _referrers(entries: list[Any], where: str, warnings: list[str]) -> list[Referrer]:
    found: list[Referrer] = []
    seen: set[str] = set()
    for entry in entries:
        referrer = _descriptor(entry)
        if referrer is None:
            warnings.append(f"{where}: skipped a referrer entry that is not a descriptor: {entry!r:.200}")
        elif referrer.digest not in seen:
            seen.add(referrer.digest)
            found.append(referrer)
    return found


def _descriptor(entry: Any) -> Referrer | None:
    """A descriptor of an index's `manifests`, or None when it is not a valid one."""
    if not isinstance(entry, dict):
        return None
    fields = (
        entry.get("digest"),
        entry.get("mediaType"),
        entry.get("size"),
        entry.get("artifactType", ""),
        entry.get("annotations") or {},
    )
    match fields:
        case (str() as digest, str() as media_type, int() as size, str() as artifact_type, dict() as notes):
            if refs.valid_digest(digest) and size >= 0 and not isinstance(size, bool):
                annotations = {str(k): str(v) for k, v in notes.items()}
                return Referrer(digest, media_type, size, artifact_type, annotations=annotations)
    return None


def might_refer(client: RegistryClient, tags: Collection[str] | None) -> bool:
    """Whether anything in a repository with these tags (None: not known) can refer to a manifest:
    always with the referrers API (or before the registry said whether it has one), else only with
    a `sha256-<hex>` tag (the fallback index or cosign's)."""
    if tags is None or client.referrers_api is not False:
        return True
    return any(t.startswith("sha256-") for t in tags)


def _has(tags: Collection[str] | None, tag: str) -> bool:
    return tags is None or tag in tags


def _cosign_tags(
    client: RegistryClient, repository: str, digest: str, tags: Collection[str] | None
) -> list[Referrer]:
    found = []
    for suffix, artifact_type in COSIGN_TAG_TYPES.items():
        tag = fallback_tag(digest) + suffix
        if not _has(tags, tag):
            continue
        info = client.head_manifest(repository, tag)
        if info is not None:
            found.append(Referrer(info.digest, info.media_type, info.size, artifact_type, tag=tag))
    return found


def merged_index(existing: tuple[dict[str, Any], ...], added: list[Referrer]) -> bytes:
    """The fallback index with `added` appended to what it holds (nothing dropped, no duplicate)."""
    present = {e.get("digest") for e in existing}
    manifests = [*existing, *(r.descriptor() for r in added if r.digest not in present)]
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests}
    return json.dumps(index, separators=(",", ":")).encode()


class RepositoryTags:
    """Each repository's tags, listed once per `ttl` seconds and shared by the run's (or a warm
    Lambda container's) referrer checks: on a registry without the referrers API, which of an
    image's referrer tags exist is read from one listing per repository instead of four requests
    per digest. Tags written by this process are added at once."""

    def __init__(self, ttl: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl, self._clock = ttl, clock
        self._lock = threading.Lock()
        self._tags: dict[tuple[str, str], tuple[float, set[str] | None]] = {}
        self._listing: dict[tuple[str, str], threading.Lock] = {}

    def get(self, client: RegistryClient, repository: str) -> set[str] | None:
        """The tags, or None when the registry would not list them (then every referrer tag is
        asked for by name, as without a listing)."""
        key = (client.registry, repository)
        with self._lock:
            listing = self._listing.setdefault(key, threading.Lock())
        with listing:  # the relays of one repository wait for one listing rather than each list it
            with self._lock:
                cached = self._tags.get(key)
            if cached is not None and self._clock() - cached[0] < self._ttl:
                return cached[1]
            tags: set[str] | None
            try:
                tags = set(_tags_or_none(client, repository))
            except RegistryError as exc:  # e.g. a listing refused where pulls are allowed
                log.info(
                    "%s/%s: tags not listed, referrer tags asked one by one: %s",
                    client.registry,
                    repository,
                    exc,
                )
                tags = None
            with self._lock:
                self._tags[key] = (self._clock(), tags)
            return tags

    def added(self, client: RegistryClient, repository: str, tag: str) -> None:
        with self._lock:
            cached = self._tags.get((client.registry, repository))
            if cached is not None and cached[1] is not None:
                cached[1].add(tag)

    def listed(self, registry: str, repository: str, tags: Collection[str]) -> None:
        """A listing read elsewhere (the planner's), kept as if read here: a repository the plan
        listed is not listed again by its images' referrer checks."""
        with self._lock:
            self._tags[(registry, repository)] = (self._clock(), set(tags))

    def sharing(self, source: ManifestSource, registry: str) -> ManifestSource:
        """`source` whose tag listings are kept here too (`listed`)."""
        return _SharedListings(source, registry, self)


@dataclass(frozen=True, slots=True)
class _SharedListings:
    """A planner's source that hands each tag listing it reads to `RepositoryTags`."""

    source: ManifestSource
    registry: str
    tags: RepositoryTags

    def list_tags(self, repository: str) -> list[str]:
        listed = self.source.list_tags(repository)
        self.tags.listed(self.registry, repository, listed)
        return listed

    def head_manifest(self, repository: str, reference: str) -> ManifestInfo | None:
        return self.source.head_manifest(repository, reference)


def _tags_or_none(client: RegistryClient, repository: str) -> list[str]:
    try:
        return client.list_tags(repository, warn=False)  # the planner warned about bad names
    except RegistryError as exc:
        if exc.status == 404:  # a repository not there yet (a target before its first push)
            return []
        raise
