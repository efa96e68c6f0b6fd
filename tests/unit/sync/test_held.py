"""Where a target registry holds each manifest, as checks and copies tell."""

from __future__ import annotations

from regmirror.model import CopyResult, ImageRef, ItemState, SyncItem
from regmirror.sync.held import MAX_HOLDERS, HeldImages
from regmirror.sync.plan import PlannedItem

D1, D2 = "sha256:" + "1" * 64, "sha256:" + "2" * 64


def item(repository: str, tag: str = "1.0", host: str = "target.example:5000") -> SyncItem:
    return SyncItem(task="t", source=ImageRef("src", "team/app", tag), target=ImageRef(host, repository, tag))


def result(status: str, target_digest: str | None) -> CopyResult:
    return CopyResult(item("mirror/app"), status, "copied", 0.1, None, D1, target_digest, None, 1)  # type: ignore[arg-type]


def test_checks_and_copies_tell_where_a_manifest_is_per_registry() -> None:
    held = HeldImages()
    held.checked(PlannedItem(item("mirror/a"), ItemState.IN_SYNC, D1, D1))
    held.checked(PlannedItem(item("mirror/b"), ItemState.COPY, D2, D1))  # the tag's old digest: held too
    held.checked(PlannedItem(item("mirror/c"), ItemState.COPY, D2, None))  # absent: tells nothing
    held.copied(result("copied", D2))
    held.copied(result("failed", D1))

    assert held.holders("TARGET.example:5000", D1) == ["mirror/a", "mirror/b"]  # hosts compared canonically
    assert held.holders("target.example:5000", D2) == ["mirror/app"]
    assert held.holders("other.example", D1) == []


def test_a_manifest_found_gone_is_forgotten_and_holders_stay_few() -> None:
    held = HeldImages()
    for n in range(MAX_HOLDERS + 3):
        held.learn("r.example", f"repo/{n}", D1)
    assert len(held.holders("r.example", D1)) == MAX_HOLDERS
    held.forget("r.example", "repo/0", D1)
    held.forget("r.example", "never/there", D1)
    assert "repo/0" not in held.holders("r.example", D1)
    assert len(held.holders("r.example", D1)) == MAX_HOLDERS - 1
