"""The copy order: one image of each target repository first, its others once it is done."""

from __future__ import annotations

import threading

from regmirror.model import ImageRef, SyncItem
from regmirror.sync.order import LeadersFirst


def item(repository: str, tag: str) -> SyncItem:
    return SyncItem("t", ImageRef("src:5000", repository, tag), ImageRef("dst:5000", repository, tag))


def names(items: list[SyncItem]) -> list[str]:
    return [f"{i.target.repository}:{i.target.tag}" for i in items]


def test_leaders_go_first_and_the_others_once_their_leader_is_done() -> None:
    order = LeadersFirst()
    stream = order.order(
        iter([item("a", "1"), item("a", "2"), item("b", "1"), item("a", "3"), item("b", "2")])
    )
    assert names([next(stream), next(stream)]) == ["a:1", "b:1"]  # a:2 is held behind a:1
    order.done(item("b", "1"))
    assert names([next(stream)]) == ["b:2"]  # released while the input is still being read
    order.done(item("a", "1"))
    assert names(list(stream)) == ["a:2", "a:3"]


def test_an_image_after_its_leader_finished_goes_at_once_and_a_failure_releases_too() -> None:
    order = LeadersFirst()
    feed = [item("a", "1")]
    stream = order.order(iter(feed))
    assert names(list(stream)) == ["a:1"]
    order.done(item("a", "1"))  # copied or failed: the relay tells either way
    assert names(list(order.order(iter([item("a", "2")])))) == ["a:2"]


def test_the_feeder_waits_for_a_leader_finishing_in_another_thread() -> None:
    order = LeadersFirst()
    stream = order.order(iter([item("a", "1"), item("a", "2")]))
    assert names([next(stream)]) == ["a:1"]
    threading.Timer(0.2, order.done, args=(item("a", "1"),)).start()
    assert names(list(stream)) == ["a:2"]


def test_images_not_ordered_pass_through_and_never_lead() -> None:
    order = LeadersFirst()
    checked_only = {item("a", "0").key()}
    stream = order.order(
        iter([item("a", "0"), item("a", "1"), item("a", "2")]), ordered=lambda i: i.key() not in checked_only
    )
    assert names([next(stream), next(stream)]) == ["a:0", "a:1"]  # a:1 leads, not the in-sync a:0
    order.done(item("a", "0"))
    order.done(item("a", "1"))
    assert names(list(stream)) == ["a:2"]


def test_at_most_max_held_images_wait() -> None:
    order = LeadersFirst(max_held=2)
    stream = order.order(iter([item("a", str(n)) for n in range(5)]))
    assert names([next(stream), next(stream), next(stream)]) == ["a:0", "a:1", "a:2"]  # a:1 over the bound


def test_a_stop_hands_out_what_is_held_without_waiting() -> None:
    stop = threading.Event()
    order = LeadersFirst(stop=stop)
    stream = order.order(iter([item("a", "1"), item("a", "2")]))
    assert names([next(stream)]) == ["a:1"]
    stop.set()  # the pool takes no more: the feeder must not hang on a leader never done
    assert names(list(stream)) == ["a:2"]
