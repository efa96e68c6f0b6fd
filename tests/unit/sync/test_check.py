"""The copy/skip decision (`sync.check`), with fake manifest sources: every state and every note."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from regmirror.errors import RegistryError
from regmirror.model import ImageRef, ItemState, SyncItem
from regmirror.registries.distribution.media import DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST, ManifestInfo
from regmirror.sync.check import TagDigestListings, check_item, check_items, finalize_item
from regmirror.sync.plan import PlannedItem
from regmirror.sync.record import CopyRecord

A = "sha256:" + "a" * 64
B = "sha256:" + "b" * 64
C = "sha256:" + "c" * 64


class FakeRegistry:
    """Manifests by (repository, reference); counts HEADs; optionally a digest listing."""

    def __init__(
        self,
        manifests: dict[tuple[str, str], ManifestInfo] | None = None,
        *,
        fail: Exception | None = None,
    ) -> None:
        self.manifests = manifests or {}
        self.heads: list[tuple[str, str]] = []
        self._fail = fail
        self._lock = threading.Lock()

    def list_tags(self, repository: str) -> list[str]:
        tags = sorted(ref for repo, ref in self.manifests if repo == repository)
        if not tags:
            raise RegistryError(f"src:5000: repository {repository} not known", status=404)
        return tags

    def head_manifest(self, repository: str, reference: str) -> ManifestInfo | None:
        with self._lock:
            self.heads.append((repository, reference))
        if self._fail is not None:
            raise self._fail
        return self.manifests.get((repository, reference))


class ListingRegistry(FakeRegistry):
    """A registry that also gives every tag's digest in one listing (as ECR's DescribeImages)."""

    def __init__(
        self, manifests: dict[tuple[str, str], ManifestInfo], listing: dict[str, dict[str, str] | None]
    ) -> None:
        super().__init__(manifests)
        self.listing = listing
        self.listings: list[str] = []

    def tag_digests(self, repository: str) -> dict[str, str] | None:
        self.listings.append(repository)
        return self.listing.get(repository)


def item(tag: str | None = "1.0", *, digest: str | None = None, platform: str = "all") -> SyncItem:
    return SyncItem(
        task="t",
        source=ImageRef("src:5000", "team/app", tag, digest),
        target=ImageRef("dst:5000", "mirror/app", tag, None if tag else digest),
        platform=platform,
    )


def info(digest: str, media_type: str = OCI_MANIFEST) -> ManifestInfo:
    return ManifestInfo(digest, media_type, 100)


def check(planned_item: SyncItem, source: FakeRegistry, target: FakeRegistry, **kw: object) -> PlannedItem:
    return check_item(PlannedItem(planned_item), source, target, **kw)  # type: ignore[arg-type]


def test_same_digest_is_in_sync() -> None:
    p = check(
        item(), FakeRegistry({("team/app", "1.0"): info(A)}), FakeRegistry({("mirror/app", "1.0"): info(A)})
    )
    assert (p.state, p.source_digest, p.target_digest, p.note) == (ItemState.IN_SYNC, A, A, "")


def test_absent_target_is_copied() -> None:
    p = check(item(), FakeRegistry({("team/app", "1.0"): info(A)}), FakeRegistry())
    assert (p.state, p.target_digest, p.note) == (ItemState.COPY, None, "not in target")


def test_other_digest_is_copied() -> None:
    p = check(
        item(), FakeRegistry({("team/app", "1.0"): info(A)}), FakeRegistry({("mirror/app", "1.0"): info(B)})
    )
    assert (p.state, p.note) == (ItemState.COPY, "digest differs")


def test_one_platform_of_an_index_cannot_be_proven_without_a_get() -> None:
    source = FakeRegistry({("team/app", "1.0"): info(A, OCI_INDEX)})
    p = check(item(platform="linux/arm64"), source, FakeRegistry({("mirror/app", "1.0"): info(B)}))
    assert p.state == ItemState.COPY
    assert p.note == "single-platform copy of a multi-arch source (no digest proof without a GET)"
    # a whole-index copy of the same is just "digest differs"
    whole = check(item(), source, FakeRegistry({("mirror/app", "1.0"): info(B)}))
    assert whole.note == "digest differs"


def test_missing_at_source_says_what_is_missing_and_never_asks_the_target() -> None:
    target = FakeRegistry({("mirror/app", "1.0"): info(A)})
    p = check(item(), FakeRegistry(), target)
    assert (p.state, p.note) == (ItemState.MISSING, "repository team/app missing at the source")
    assert target.heads == []
    other_tag = FakeRegistry({("team/app", "2.0"): info(A)})
    assert check(item(), other_tag, target).note == "tag 1.0 missing at the source"
    assert check(item(None, digest=B), other_tag, target).note == f"digest {B} missing at the source"


def test_a_registry_error_is_check_failed_with_its_message() -> None:
    source = FakeRegistry(fail=RegistryError("src:5000: HEAD manifest team/app:1.0 answered 500", status=500))
    p = check(item(), source, FakeRegistry())
    assert p.state == ItemState.CHECK_FAILED
    assert p.note == "src:5000: HEAD manifest team/app:1.0 answered 500"
    target_down = FakeRegistry(fail=RegistryError("dst:5000: cannot reach", status=None))
    p = check(item(), FakeRegistry({("team/app", "1.0"): info(A)}), target_down)
    assert (p.state, p.source_digest, p.note) == (ItemState.CHECK_FAILED, A, "dst:5000: cannot reach")


def test_a_pinned_digest_is_asked_by_digest_and_a_tagless_target_by_that_digest() -> None:
    source = FakeRegistry({("team/app", A): info(A)})
    target = FakeRegistry({("mirror/app", A): info(A)})
    p = check(item(None, digest=A), source, target)
    assert p.state == ItemState.IN_SYNC
    assert (source.heads, target.heads) == ([("team/app", A)], [("mirror/app", A)])


def test_a_digest_listing_replaces_the_source_head() -> None:
    source = ListingRegistry({("team/app", "1.0"): info(B)}, {"team/app": {"1.0": A, "2.0": C}})
    target = FakeRegistry({("mirror/app", "1.0"): info(A)})
    listings = TagDigestListings()
    p = check(item(), source, target, listings=listings)
    q = check(item("2.0"), source, FakeRegistry(), listings=listings)
    assert (p.state, p.source_digest, q.state, q.source_digest) == (ItemState.IN_SYNC, A, ItemState.COPY, C)
    assert source.heads == [] and source.listings == ["team/app"]  # one listing for both tags


def test_a_tag_missing_from_the_listing_falls_back_to_a_head() -> None:
    source = ListingRegistry({("team/app", "3.0"): info(A)}, {"team/app": {"1.0": B}})
    p = check(item("3.0"), source, FakeRegistry(), listings=TagDigestListings())
    assert (p.state, p.source_digest, source.heads) == (ItemState.COPY, A, [("team/app", "3.0")])


def test_a_failed_listing_falls_back_to_heads() -> None:
    class Broken(ListingRegistry):
        def tag_digests(self, repository: str) -> dict[str, str] | None:
            raise RegistryError("DescribeImages failed")

    source = Broken({("team/app", "1.0"): info(A)}, {})
    p = check(item(), source, FakeRegistry({("mirror/app", "1.0"): info(A)}), listings=TagDigestListings())
    assert (p.state, source.heads) == (ItemState.IN_SYNC, [("team/app", "1.0")])


@pytest.fixture
def record(tmp_path: Path) -> CopyRecord:
    return CopyRecord.open(tmp_path / "record.json", ttl=3600.0)


def test_a_fresh_record_entry_replaces_the_target_head(record: CopyRecord) -> None:
    record.copied(item(), A, A)
    target = FakeRegistry()
    p = check(item(), FakeRegistry({("team/app", "1.0"): info(A)}), target, record=record)
    assert (p.state, p.target_digest, p.note) == (ItemState.IN_SYNC, A, "copy record (target not checked)")
    assert target.heads == []


def test_a_record_of_another_source_digest_is_not_trusted(record: CopyRecord) -> None:
    record.copied(item(), B, B)
    target = FakeRegistry({("mirror/app", "1.0"): info(B)})
    p = check(item(), FakeRegistry({("team/app", "1.0"): info(A)}), target, record=record)
    assert (p.state, p.note) == (ItemState.COPY, "digest differs")
    assert target.heads == [("mirror/app", "1.0")]
    assert record.get(item().key()) is None  # the check found a difference: the entry is forgotten


def test_the_record_proves_a_single_platform_copy(record: CopyRecord) -> None:
    one = item(platform="linux/amd64")
    record.verified(one, A, B)  # index A was copied as its amd64 manifest B
    record_ttl_zero = CopyRecord.open(record.path, ttl=0.0)
    record_ttl_zero._entries = dict(record._entries)  # same entries, none trusted without a check
    source = FakeRegistry({("team/app", "1.0"): info(A, OCI_INDEX)})
    target = FakeRegistry({("mirror/app", "1.0"): info(B, DOCKER_MANIFEST)})
    p = check(one, source, target, record=record_ttl_zero)
    assert (p.state, p.target_digest) == (ItemState.IN_SYNC, B)
    assert target.heads == [("mirror/app", "1.0")]  # checked, then proven by the record


def test_check_items_keeps_input_order_across_workers() -> None:
    tags = [f"1.{n}" for n in range(20)]
    source = FakeRegistry({("team/app", t): info(A if n % 2 else B) for n, t in enumerate(tags)})
    target = FakeRegistry({("mirror/app", t): info(A) for t in tags})
    checked = list(
        check_items([PlannedItem(item(t)) for t in tags], lambda _: source, lambda _: target, workers=4)
    )  # type: ignore[arg-type,return-value]
    assert [p.item.source.tag for p in checked] == tags
    assert [p.state for p in checked] == [
        ItemState.COPY if n % 2 == 0 else ItemState.IN_SYNC for n in range(20)
    ]


def test_finalize_pins_the_digest_seen_at_plan_time() -> None:
    p = check(item(), FakeRegistry({("team/app", "1.0"): info(A)}), FakeRegistry())
    pinned = finalize_item(p)
    assert pinned.source_digest == A and pinned.source == p.item.source
    already = SyncItem(task="t", source=p.item.source, target=p.item.target, source_digest=C)
    assert finalize_item(PlannedItem(already, source_digest=A)).source_digest == C
