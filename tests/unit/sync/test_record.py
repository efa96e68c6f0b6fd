"""The copy record: trust rules, storage (atomic, merged, pruned) and the per-run digest listings."""

from __future__ import annotations

import json
import logging
import os
import stat
import threading
import time
from pathlib import Path

import pytest
from regmirror.errors import RegistryError
from regmirror.model import ImageRef, SyncItem
from regmirror.sync.check import TagDigestListings
from regmirror.sync.record import CLOCK_SKEW, PRUNE_AFTER, CopyRecord, default_record_path

A = "sha256:" + "a" * 64
B = "sha256:" + "b" * 64
C = "sha256:" + "c" * 64


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def item(tag: str = "1.0", platform: str = "all", repo: str = "team/app") -> SyncItem:
    return SyncItem(
        task="t",
        source=ImageRef("src.example:5000", repo, tag),
        target=ImageRef("dst.example:5000", f"mirror/{repo}", tag),
        platform=platform,
    )


def test_fresh_entry_for_the_same_source_digest_is_trusted_until_the_ttl() -> None:
    clock = Clock()
    record = CopyRecord(None, ttl=60, clock=clock)
    record.copied(item(), A, A)
    assert record.trusted(item(), A) is not None
    clock.now += 59.9
    assert record.trusted(item(), A) is not None
    clock.now += 0.2
    assert record.trusted(item(), A) is None  # expired: the target must be checked again
    assert record.counts["trusted"] == 2


def test_a_different_source_digest_platform_or_source_is_never_trusted() -> None:
    record = CopyRecord(None, ttl=3600)
    record.copied(item(), A, A)
    assert record.trusted(item(), B) is None  # the source changed
    assert record.trusted(item(platform="linux/amd64"), A) is None
    other_source = SyncItem("t", ImageRef("src.example:5000", "team/other", "1.0"), item().target)
    assert record.trusted(other_source, A) is None


def test_entries_from_the_future_are_not_trusted() -> None:
    clock = Clock()
    record = CopyRecord(None, ttl=3600, clock=clock)
    record.copied(item(), A, A)
    clock.now -= CLOCK_SKEW + 1  # the clock went back, even by a second
    assert record.trusted(item(), A) is None
    assert CLOCK_SKEW == 0


def test_verify_trusts_nothing_even_from_the_future() -> None:
    clock = Clock()
    record = CopyRecord(None, ttl=0, clock=clock)
    record.copied(item(), A, A)
    clock.now -= 120
    assert record.trusted(item(), A) is None


def test_ttl_zero_trusts_nothing_but_still_records() -> None:
    record = CopyRecord(None, ttl=0)
    record.copied(item(), A, A)
    assert record.trusted(item(), A) is None
    assert record.get(item().key()) is not None


def test_whole_index_copy_is_recorded_only_when_digests_are_equal(caplog: pytest.LogCaptureFixture) -> None:
    record = CopyRecord(None)
    with caplog.at_level(logging.WARNING, "regmirror.record"):
        record.copied(item(), A, B)
    assert record.get(item().key()) is None
    assert "not recorded" in caplog.text
    record.copied(item(), A, None)
    record.copied(item(), "sha256:short", "sha256:short")
    assert len(record) == 0


def test_single_platform_copy_is_recorded_and_proves_the_target() -> None:
    one = item(platform="linux/arm64")
    record = CopyRecord(None, ttl=0)
    record.copied(one, A, B)  # index A at the source, platform manifest B in the target
    assert record.proves(one, A, B)
    assert not record.proves(one, A, C)  # the target holds something else
    assert not record.proves(one, C, B)  # the source moved on
    assert not record.proves(one, A, None)


def test_forget_removes_the_entry() -> None:
    record = CopyRecord(None)
    record.copied(item(), A, A)
    record.forget(item())
    assert record.get(item().key()) is None
    assert record.counts["forgotten"] == 1


def test_save_and_open_round_trip_with_private_mode(tmp_path: Path) -> None:
    path = tmp_path / "state" / "record.json"
    record = CopyRecord.open(path, ttl=60)
    record.copied(item("1.0"), A, A)
    record.verified(item("2.0"), B, B)
    record.save()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in path.parent.iterdir()) == ["record.json", "record.json.lock"]
    again = CopyRecord.open(path, ttl=60)
    assert again.trusted(item("1.0"), A) is not None
    assert again.trusted(item("2.0"), B) is not None
    body = json.loads(path.read_text())
    assert body["version"] == 1
    assert set(body["entries"]) == {item("1.0").key(), item("2.0").key()}


def test_two_writers_merge_instead_of_overwriting(tmp_path: Path) -> None:
    path = tmp_path / "record.json"
    clock = Clock()
    first, second = CopyRecord.open(path, clock=clock), CopyRecord.open(path, clock=clock)
    first.copied(item("1.0"), A, A)
    second.copied(item("2.0"), B, B)
    first.save()
    second.save()
    merged = CopyRecord.open(path, clock=clock)
    assert merged.get(item("1.0").key()) is not None
    assert merged.get(item("2.0").key()) is not None


def test_a_removal_loses_against_a_newer_confirmation_from_another_run(tmp_path: Path) -> None:
    path = tmp_path / "record.json"
    clock = Clock()
    seed = CopyRecord.open(path, clock=clock)
    seed.copied(item(), A, A)
    seed.save()
    stale, fresh = CopyRecord.open(path, clock=clock), CopyRecord.open(path, clock=clock)
    stale.forget(item())  # found the target differing...
    clock.now += 10
    fresh.copied(item(), B, B)  # ...and another run copied the new image afterwards
    fresh.save()
    stale.save()
    assert CopyRecord.open(path, clock=clock).trusted(item(), B) is not None


def test_a_removal_is_saved(tmp_path: Path) -> None:
    path = tmp_path / "record.json"
    record = CopyRecord.open(path)
    record.copied(item(), A, A)
    record.save()
    reopened = CopyRecord.open(path)
    reopened.forget(item())
    reopened.save()
    assert CopyRecord.open(path).get(item().key()) is None


def test_old_entries_are_pruned_on_save(tmp_path: Path) -> None:
    path = tmp_path / "record.json"
    clock = Clock()
    record = CopyRecord.open(path, clock=clock)
    record.copied(item("old"), A, A)
    clock.now += PRUNE_AFTER + 1
    record.copied(item("new"), B, B)
    record.save()
    assert set(json.loads(path.read_text())["entries"]) == {item("new").key()}


CORRUPTIONS = [  # (file content, set aside: not a record at all)
    (b"{not json", True),
    (b'{"version": 99, "entries": {}}', True),
    (b"[]", True),
    (b'{"version": 1, "entries": []}', True),
    (b'{"version": 1, "entries": "x"}', True),
    (b'{"version": 1}', True),
    (b"\xff\xfe garbage", True),
    (b"", True),
    (b"[" * 100_000, True),
    (b'{"version": 1, "entries": {' + b'"k": {"source": 1},' * 3, True),  # cut mid-write
    (b'{"version": 1, "entries": {"k": ["list"]}}', False),  # a record with a bad entry: skipped
    (b'{"version": 1, "entries": {"k": {"verified_at": 1e999}}}', False),
]


@pytest.mark.parametrize(("content", "set_aside"), CORRUPTIONS, ids=range(len(CORRUPTIONS)))
def test_a_corrupted_record_is_set_aside_and_the_run_goes_on(
    tmp_path: Path, content: bytes, set_aside: bool, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "record.json"
    path.write_bytes(content)
    with caplog.at_level(logging.WARNING, "regmirror.record"):
        record = CopyRecord.open(path)
    assert record.trusted(item(), A) is None
    record.copied(item(), A, A)
    record.save()  # the save reads the file again under the lock: no crash there either
    assert CopyRecord.open(path).get(item().key()) is not None
    kept = sorted(p.name for p in tmp_path.iterdir() if ".corrupt-" in p.name)
    assert len(kept) == (1 if set_aside else 0)
    if set_aside:
        assert "set aside as" in caplog.text and "empty record" in caplog.text
        assert (tmp_path / kept[0]).read_bytes() == content  # kept for a post-mortem


def test_malformed_entries_are_skipped(tmp_path: Path) -> None:
    path = tmp_path / "record.json"
    good = {"source": "s/r:1", "platform": "all", "source_digest": A, "target_digest": A, "verified_at": 1.0}
    path.write_text(
        json.dumps(
            {
                "version": 1,
                "entries": {
                    "ok": good,
                    "bad-digest": {**good, "target_digest": "md5:x"},
                    "missing": {"source": "s/r:1"},
                    "wrong-type": {**good, "verified_at": "yesterday"},
                },
            }
        )
    )
    assert CopyRecord.open(path).get("ok") is not None
    assert len(CopyRecord.open(path)) == 1


def test_referrers_held_are_known_for_one_ttl_and_only_for_that_target_digest() -> None:
    clock = Clock()
    record = CopyRecord(None, ttl=60, clock=clock)
    record.referrers_held(item(), A, {B}, "tag")  # no entry yet: nothing to attach them to
    assert record.known_referrers(item(), A) is None
    record.copied(item(), A, A)
    record.referrers_held(item(), A, {B, C}, "tag")
    seen = record.known_referrers(item(), A)
    assert seen is not None and (seen.digests, seen.scheme) == ((B, C), "tag")
    assert record.known_referrers(item(), B) is None  # another image in the target: not its referrers
    clock.now += 59.9
    record.verified(item(), A, A)  # the image's check does not re-verify its referrers
    assert record.known_referrers(item(), A) is not None
    clock.now += 0.2
    assert record.known_referrers(item(), A) is None
    entry = record.get(item().key())
    assert entry is not None and entry.referrers is not None  # kept, but no longer trusted


def test_referrers_vouched_for_keep_their_stamp_and_a_new_image_drops_them() -> None:
    clock = Clock()
    record = CopyRecord(None, ttl=60, clock=clock)
    record.copied(item(), A, A)
    record.referrers_held(item(), A, {B}, "api")
    clock.now += 30
    record.referrers_held(item(), A, {B, C}, "api", since=clock.now - 30)  # B was only vouched for
    seen = record.known_referrers(item(), A)
    assert seen is not None and (seen.digests, seen.at) == ((B, C), clock.now - 30)
    record.copied(item(), B, B)  # the tag now names another image
    assert record.known_referrers(item(), B) is None


def test_referrers_held_survive_save_and_open_and_malformed_ones_are_forgotten(tmp_path: Path) -> None:
    path = tmp_path / "record.json"
    record = CopyRecord.open(path, ttl=60)
    record.copied(item("1.0"), A, A)
    record.referrers_held(item("1.0"), A, {B, C}, "tag")
    record.save()
    seen = CopyRecord.open(path, ttl=60).known_referrers(item("1.0"), A)
    assert seen is not None and seen.digests == (B, C)
    body = json.loads(path.read_text())
    body["entries"][item("1.0").key()]["referrers"]["digests"] = ["md5:x"]
    path.write_text(json.dumps(body))
    again = CopyRecord.open(path, ttl=60)
    assert again.get(item("1.0").key()) is not None  # the entry stays; only its referrers are forgotten
    assert again.known_referrers(item("1.0"), A) is None


def test_saving_into_an_unwritable_place_only_warns(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    record = CopyRecord.open(blocker / "record.json")  # a directory that cannot exist
    record.copied(item(), A, A)
    with caplog.at_level(logging.WARNING, "regmirror.record"):
        record.save()
    assert "cannot save the copy record" in caplog.text


def test_default_path_lives_under_xdg_state_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    path = default_record_path("configs/mirror.yaml")
    assert path.parent == tmp_path / "state" / "regmirror" / "records"
    assert path.name.startswith("mirror-") and path.suffix == ".json"
    assert default_record_path(os.path.abspath("configs/mirror.yaml")) == path
    assert default_record_path("other/mirror.yaml") != path


# -- digest-bearing listings, once per repository per run ------------------------------------------
class Listing:
    def __init__(self, digests: dict[str, str] | None, fail: bool = False) -> None:
        self.digests, self.fail, self.calls = digests, fail, 0
        self.lock = threading.Lock()

    def tag_digests(self, repository: str) -> dict[str, str] | None:
        with self.lock:
            self.calls += 1
        time.sleep(0.01)  # let concurrent callers pile up
        if self.fail:
            raise RegistryError("listing refused")
        return self.digests


def test_listing_is_fetched_once_per_repository_by_concurrent_checks() -> None:
    source = Listing({"1.0": A, "2.0": B})
    listings = TagDigestListings()
    results: list[str | None] = []
    threads = [
        threading.Thread(target=lambda t=t: results.append(listings.digest(source, "team/app", t)))
        for t in ["1.0", "2.0"] * 4
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert source.calls == 1
    assert sorted(r or "" for r in results) == [A] * 4 + [B] * 4


def test_listing_falls_back_to_none_for_unknown_tags_bad_digests_and_failures() -> None:
    listings = TagDigestListings()
    source = Listing({"1.0": "sha256:nothex", "2.0": A})
    assert listings.digest(source, "team/app", "1.0") is None
    assert listings.digest(source, "team/app", "3.0") is None
    assert listings.digest(source, "team/app", None) is None
    failing = Listing(None, fail=True)
    assert listings.digest(failing, "team/app", "1.0") is None
    assert listings.digest(failing, "team/app", "2.0") is None
    assert failing.calls == 1  # a failed listing is not retried for every tag
    assert listings.digest(object(), "team/app", "1.0") is None  # a source without listings
