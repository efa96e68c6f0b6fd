"""The copy order: an image goes once no running copy leads for its repository or a large blob of it."""

from __future__ import annotations

import threading
from collections.abc import Callable

from regmirror.model import ImageRef, SyncItem
from regmirror.sync.order import LeadersFirst, repository_of


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


def blob_keys(shared: dict[str, tuple[str, ...]]) -> Callable[[SyncItem], tuple[str, ...]]:
    """Keys as `sync.run` gives them: the repository, and the large blobs the source's manifests named."""
    return lambda i: (repository_of(i), *shared.get(i.key(), ()))


def test_an_image_sharing_a_large_blob_with_a_running_copy_waits_for_it_across_repositories() -> None:
    a, b, c = item("a", "1"), item("b", "1"), item("c", "1")
    order = LeadersFirst(keys=blob_keys({a.key(): ("base",), b.key(): ("base",)}))
    stream = order.order(iter([a, b, c]))
    assert names([next(stream), next(stream)]) == ["a:1", "c:1"]  # b:1 waits: a:1 uploads the base
    order.done(a)
    assert names(list(stream)) == ["b:1"]


def test_a_held_image_goes_only_when_every_key_it_waits_for_is_done() -> None:
    a, b, c = item("a", "1"), item("b", "1"), item("c", "1")
    order = LeadersFirst(keys=blob_keys({a.key(): ("x",), b.key(): ("y",), c.key(): ("x", "y")}))
    stream = order.order(iter([a, b, c]))
    assert names([next(stream), next(stream)]) == ["a:1", "b:1"]
    order.done(a)  # x is there; y is still being uploaded by b:1
    order.done(b)
    assert names(list(stream)) == ["c:1"]


def test_a_done_key_is_never_led_again() -> None:
    a, b, c = item("a", "1"), item("b", "1"), item("c", "1")
    order = LeadersFirst(keys=blob_keys({a.key(): ("x",), b.key(): ("x", "y"), c.key(): ("x",)}))
    assert names(list(order.order(iter([a])))) == ["a:1"]
    order.done(a)
    stream = order.order(iter([b, c]))
    assert names([next(stream), next(stream)]) == ["b:1", "c:1"]  # b:1 leads for y only, not x


def test_images_released_together_still_wait_for_what_they_share_among_themselves() -> None:
    """The leader of a repository finished; two of its other tags share a blob the leader lacks."""
    a1, a2, a3 = item("a", "1"), item("a", "2"), item("a", "3")
    order = LeadersFirst(keys=blob_keys({a2.key(): ("z",), a3.key(): ("z",)}))
    stream = order.order(iter([a1, a2, a3]))
    assert names([next(stream)]) == ["a:1"]
    order.done(a1)
    assert names([next(stream)]) == ["a:2"]  # a:3 waits for a:2's upload of z
    order.done(a2)
    assert names(list(stream)) == ["a:3"]
