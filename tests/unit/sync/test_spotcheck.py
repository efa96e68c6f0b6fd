"""Spot checks of fresh copy-record entries: one probe per target repository before any of its entries
is believed, a random sample of the rest, and every entry of a repository found changed."""

from __future__ import annotations

import random
import threading
import time

import pytest
from regmirror.errors import RegistryError
from regmirror.model import ImageRef, SyncItem
from regmirror.sync.record import RecordEntry
from regmirror.sync.spotcheck import SpotChecks

A = "sha256:" + "a" * 64
B = "sha256:" + "b" * 64


def item(tag: str, repo: str = "team/app", host: str = "127.0.0.1:5001") -> SyncItem:
    return SyncItem("t", ImageRef("127.0.0.1:5000", repo, tag), ImageRef(host, repo, tag))


def entry(target_digest: str = A) -> RecordEntry:
    return RecordEntry("src", "all", A, target_digest, 0.0)


class Target:
    """Counts the HEADs the spot checks make and answers `digest`."""

    def __init__(self, digest: str | None = A) -> None:
        self.digest, self.heads = digest, 0

    def __call__(self) -> str | None:
        self.heads += 1
        return self.digest


def test_the_first_entry_of_each_repository_is_checked_the_rest_believed() -> None:
    spot, target = SpotChecks(fraction=0), Target()
    outcomes = [
        spot.check(item(tag, repo), entry(), target) for repo in ("a", "b") for tag in ("1", "2", "3")
    ]
    assert outcomes == [(True, A), (False, None), (False, None)] * 2
    assert target.heads == 2
    # hosts are compared canonically: one repository
    assert spot.check(item("4", "a", host="LOCALHOST:5001"), entry(), target) == (False, None)


def test_a_repository_found_changed_has_every_entry_checked(caplog: pytest.LogCaptureFixture) -> None:
    spot, wiped = SpotChecks(fraction=0), Target(digest=None)
    with caplog.at_level("WARNING", "regmirror.record"):
        outcomes = [spot.check(item(tag), entry(), wiped) for tag in ("1", "2", "3")]
    assert outcomes == [(True, None)] * 3 and wiped.heads == 3
    (warning,) = [r.getMessage() for r in caplog.records]
    assert "copy record out of date" in warning and "holds nothing, not " + A in warning
    assert spot.check(item("1", "other"), entry(), Target()) == (True, A)  # other repositories unaffected


def test_the_sample_takes_the_given_fraction_and_a_rewritten_tag_it_finds_flags_the_repository() -> None:
    spot, same = SpotChecks(fraction=0.5, rng=random.Random(7)), Target(A)
    spot.check(item("probe"), entry(), same)
    checked = [spot.check(item(str(n)), entry(), same)[0] for n in range(200)]
    assert 60 < sum(checked) < 140  # about half
    everything = SpotChecks(fraction=1)
    everything.check(item("probe"), entry(), same)
    assert everything.check(item("rewritten"), entry(), Target(B)) == (True, B)
    always = SpotChecks(fraction=0)  # no sample: a repository found changed is still checked in full
    assert always.check(item("probe"), entry(), Target(B)) == (True, B)
    assert all(always.check(item(f"z{n}"), entry(), same) == (True, A) for n in range(10))


def test_a_failed_probe_leaves_the_repository_unprobed() -> None:
    spot = SpotChecks(fraction=0)

    def failing() -> str | None:
        raise RegistryError("127.0.0.1:5001: HEAD timed out")

    with pytest.raises(RegistryError):
        spot.check(item("1"), entry(), failing)
    assert spot.check(item("2"), entry(), Target()) == (True, A)  # the next entry probes


def test_no_entry_of_a_repository_is_believed_before_its_probe_is_answered() -> None:
    spot, release = SpotChecks(fraction=0), threading.Event()
    order: list[str] = []

    def slow_probe() -> str | None:
        release.wait(5)
        order.append("probe answered")
        return None  # wiped

    probe = threading.Thread(target=lambda: spot.check(item("1"), entry(), slow_probe))
    probe.start()
    time.sleep(0.1)
    other: list[tuple[bool, str | None]] = []
    waiter = threading.Thread(target=lambda: other.append(spot.check(item("2"), entry(), Target(None))))
    waiter.start()
    time.sleep(0.1)
    assert other == []  # waiting for the probe
    release.set()
    probe.join(5)
    waiter.join(5)
    assert order == ["probe answered"] and other == [(True, None)]  # and checked: the probe found it changed
