"""Copies at once per route: grows while throughput grows, holds at a plateau, halves on overload."""

from __future__ import annotations

import threading

import pytest
from regmirror.model import CopyResult, FailureReason, ImageRef, SyncItem
from regmirror.sync.pacing import AUTO_CEILING, PROBE_EVERY, Concurrency, Pacing, RouteLimit
from regmirror.sync.pool import NotStarted, run_items

ITEM = SyncItem("t", ImageRef("src.example:5000", "app", "1"), ImageRef("dst.example:5000", "app", "1"))


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def copied(size: int = 1000) -> CopyResult:
    return CopyResult(ITEM, "copied", "copied", 0.1, size, "sha256:a", "sha256:a", None, 1)


def failed(reason: FailureReason) -> CopyResult:
    return CopyResult.failure(ITEM, "HTTP 429", reason=reason)


def round_trip(route: RouteLimit, clock: Clock, seconds: float, result: CopyResult | None = None) -> int:
    """Every slot taken, `seconds` pass, every copy ends: one window. Returns the limit it ran at."""
    limit = route.limit
    stop = threading.Event()
    tickets = [route.acquire(stop) for _ in range(limit)]
    clock.now += seconds
    for ticket in tickets:
        route.release(ticket, result or copied())
    return limit


# -- the setting -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "start", "ceiling", "adaptive"),
    [
        ("8", 8, 8, False),
        ("auto:12", None, 12, True),
        ("auto", None, AUTO_CEILING, True),
        (" 1 ", 1, 1, False),
    ],
)
def test_the_setting_is_a_number_or_auto_with_its_ceiling(
    text: str, start: int | None, ceiling: int, adaptive: bool
) -> None:
    setting = Concurrency.parse(text)
    assert (setting.ceiling, setting.adaptive) == (ceiling, adaptive)
    assert setting.start == (start if start is not None else min(Concurrency.auto().start, ceiling))


@pytest.mark.parametrize("text", ["0", "auto:0", "many", "auto:x", "8:3", "-2"])
def test_a_wrong_setting_says_what_is_expected(text: str) -> None:
    with pytest.raises(ValueError, match=repr(text.split(":")[-1]) + "|auto"):
        Concurrency.parse(text)


def test_auto_starts_at_the_cpu_default_never_above_its_ceiling() -> None:
    assert Concurrency.auto(ceiling=2).start <= 2
    assert str(Concurrency.auto(ceiling=20, start=4)) == "auto (4 to 20)"
    assert str(Concurrency.fixed(3)) == "3"


@pytest.mark.parametrize(
    ("round_trips", "start"),
    [
        ((), 4),  # nothing known: the CPU start
        ((None, None), 4),
        ((0.0004, 0.004), 4),  # loopback, a LAN: the copies are CPU-bound
        ((0.010, 0.010), 7),  # 4 × (1 + 12 × 0.010 / 0.15)
        ((0.040, None), 15),  # one side known: 4 × (1 + 12 × 0.035 / 0.15) = 15.2
        ((0.041, 0.083), 32),  # the WAN bench's: far past the ceiling
    ],
)
def test_a_route_starts_higher_the_longer_its_registries_take_to_answer(
    round_trips: tuple[float | None, ...], start: int
) -> None:
    setting = Concurrency.auto(ceiling=32, start=4)
    assert setting.start_for(round_trips) == start
    pacing = Pacing(setting)
    pacing.route(("a", "b"), round_trips=round_trips)
    pacing.route(("a", "b"), round_trips=(1.0, 1.0))  # an existing route keeps its limit
    assert pacing.summary()[0]["start"] == start


def test_the_start_follows_the_round_trips_until_the_first_decision() -> None:
    """The first copies start after one or two answers, which paid for connecting too: the start
    follows the estimate while more answers come, then the controller takes over."""
    clock = Clock()
    route = RouteLimit(12, 32, clock)
    stop = threading.Event()
    first = route.acquire(stop, start=12)
    second = route.acquire(stop, start=4)  # the quicker answers came: a LAN after all
    assert (route.start, route.limit, route.peak) == (4, 4, 12)
    tickets = [first, second, route.acquire(stop, start=4), route.acquire(stop, start=4)]
    clock.now += 1.0
    for ticket in tickets[:2]:
        route.release(ticket, copied())
    assert route.limit == 8  # the first decision: a doubling
    route.acquire(stop, start=2)
    assert (route.start, route.limit) == (4, 8)  # decided: the estimate no longer moves it


def test_the_start_stays_within_the_ceiling_and_a_sources_bound() -> None:
    assert Concurrency.auto(ceiling=8, start=4).start_for((0.2, 0.2)) == 8
    assert Concurrency.fixed(3).start_for((0.2, 0.2)) == 3
    route = Pacing(Concurrency.auto(ceiling=32, start=4)).route(("a", "b"), bound=6, round_trips=(0.2, 0.2))
    assert (route.start, route.limit, route.ceiling) == (6, 6, 6)


# -- the controller --------------------------------------------------------------------------------
def test_on_a_link_that_pays_for_every_copy_the_limit_doubles_then_leaps_to_the_ceiling() -> None:
    """Each copy takes one second however many run (latency-bound): throughput follows the limit, so
    after the first doubling paid in proportion the next step quadruples."""
    clock = Clock()
    route = RouteLimit(4, 64, clock)
    limits = [round_trip(route, clock, 1.0) for _ in range(4)]
    assert limits == [4, 8, 32, 64]
    assert route.peak == 64


def test_a_doubling_that_pays_less_than_in_proportion_is_followed_by_a_doubling() -> None:
    clock = Clock()
    route = RouteLimit(4, 64, clock)
    round_trip(route, clock, 1.0)  # 4 at once, 1 s each
    round_trip(route, clock, 1.4)  # 8 at once, 1.4 s each: +43 %, paying, far from proportional
    assert route.limit == 16


def test_on_a_saturated_machine_the_limit_returns_to_the_best_and_probes_now_and_then() -> None:
    """Throughput is fixed (CPU-bound): a round of n copies takes n/4 s at any limit."""
    clock = Clock()
    route = RouteLimit(4, 32, clock)
    limits = [round_trip(route, clock, route.limit / 4) for _ in range(2 + 2 * (PROBE_EVERY + 1))]
    assert limits[:3] == [4, 8, 4]  # the doubling did not pay: back
    assert max(limits[3:]) == 5  # later probes are a quarter higher, never a doubling
    assert limits.count(5) == 2  # one probe per PROBE_EVERY windows held at the best
    assert route.limit == 4


def test_a_probe_that_pays_is_kept() -> None:
    clock = Clock()
    route = RouteLimit(4, 32, clock)
    round_trip(route, clock, 1.0)  # 4 copies/s, doubles to 8
    round_trip(route, clock, 2.0)  # 8 copies in 2 s: no gain, back to 4
    for _ in range(PROBE_EVERY):
        round_trip(route, clock, 1.0)
    assert route.limit == 5
    round_trip(route, clock, 1.0)  # the link now pays again: 5 copies/s beat 4
    assert route.limit == 6


def test_an_overload_halves_the_limit_once_per_window_and_growth_turns_additive() -> None:
    clock = Clock()
    route = RouteLimit(16, 32, clock)
    stop = threading.Event()
    tickets = [route.acquire(stop) for _ in range(16)]
    route.release(tickets[0], failed(FailureReason.RATE_LIMIT))
    assert route.limit == 8
    route.release(tickets[1], failed(FailureReason.SERVER_ERROR))  # same burst: no second cut
    assert route.limit == 8
    for ticket in tickets[2:]:
        route.release(ticket, copied())
    assert (route.limit, route.cuts) == (8, 1)
    round_trip(route, clock, 1.0)
    assert route.limit == 10  # a quarter more, not a doubling


def test_a_failure_of_the_image_itself_is_no_sign_of_overload() -> None:
    clock = Clock()
    route = RouteLimit(4, 32, clock)
    round_trip(route, clock, 1.0, failed(FailureReason.AUTH))
    assert (route.limit, route.cuts) == (8, 0)


def test_a_pool_short_of_images_says_nothing_about_the_link() -> None:
    clock = Clock()
    route = RouteLimit(8, 32, clock)
    stop = threading.Event()
    for _ in range(20):  # one copy at a time: the slots are never all taken
        ticket = route.acquire(stop)
        clock.now += 0.1
        route.release(ticket, copied())
    assert route.limit == 8


def test_a_copy_started_under_an_older_limit_does_not_count_in_the_new_window() -> None:
    clock = Clock()
    route = RouteLimit(2, 32, clock)
    stop = threading.Event()
    old = route.acquire(stop)
    round_trip_tickets = [route.acquire(stop)]
    clock.now += 1
    route.release(round_trip_tickets[0], copied())
    route.release(old, copied())  # the window of limit 2 ends: doubles
    assert route.limit == 4
    late = [route.acquire(stop) for _ in range(4)]
    stale = RouteLimit(2, 32, clock).acquire(stop)  # a ticket of window 0 on another route
    route.release(stale, failed(FailureReason.RATE_LIMIT))  # not of this window: no cut
    assert route.cuts == 0
    for ticket in late:
        route.release(ticket, copied())


def test_a_bound_lowers_the_routes_ceiling() -> None:
    pacing = Pacing(Concurrency.auto(ceiling=32, start=4))
    assert pacing.route(("a", "b"), bound=3).limit == 3
    assert pacing.route(("c", "d")).ceiling == 32


def test_a_copy_waiting_for_its_slot_is_not_started_after_a_stop() -> None:
    stop = threading.Event()
    pacing = Pacing(Concurrency.auto(ceiling=1, start=1), stop)
    route = pacing.route(("a", "b"))
    ticket = route.acquire(stop)
    outcome: list[object] = []

    def second() -> None:
        try:
            outcome.append(pacing.copy(("a", "b"), None, copied))
        except NotStarted:
            outcome.append("not started")

    waiter = threading.Thread(target=second)
    waiter.start()
    stop.set()
    waiter.join(5)
    route.release(ticket, None)
    assert outcome == ["not started"]


def test_the_pool_drops_an_image_not_started_and_keeps_the_others() -> None:
    def worker(n: int) -> int:
        if n == 3:
            raise NotStarted
        return n

    results = run_items(range(6), worker, concurrency=2, on_error=lambda item, exc: -1)
    assert sorted(results) == [0, 1, 2, 4, 5]


def test_a_fixed_concurrency_runs_at_once_and_learns_nothing() -> None:
    pacing = Pacing(Concurrency.fixed(2))
    assert pacing.copy(("a", "b"), None, copied).status == "copied"
    assert pacing.summary() == []


def test_the_summary_tells_start_peak_end_and_cuts_per_route() -> None:
    clock = Clock()
    pacing = Pacing(Concurrency.auto(ceiling=8, start=2), clock=clock)
    for _ in range(3):
        round_trip(pacing.route(("a", "b")), clock, 1.0)
    assert pacing.summary() == [{"source": "a", "target": "b", "start": 2, "peak": 8, "final": 8, "cuts": 0}]


def test_old_copies_still_draining_neither_count_nor_hold_the_new_window_back() -> None:
    """Little's law on each copy's own time: a straggler of an older window does not count in the
    window of the copies started after the change."""
    clock = Clock()
    route = RouteLimit(4, 32, clock)
    stop = threading.Event()
    straggler, *first = [route.acquire(stop) for _ in range(4)]
    clock.now += 1.0
    for ticket in first[:2]:  # half the window: 4 at once, 1 s each
        route.release(ticket, copied())
    assert route.limit == 8
    second = [route.acquire(stop) for _ in range(6)]  # with the straggler and first[2]: all 8 busy
    clock.now += 1.0
    for ticket in second[:4]:
        route.release(ticket, copied())
    assert route.limit == 32  # 8 at once at 1 s each: twice the throughput, a leap follows
    clock.now += 30.0
    route.release(straggler, failed(FailureReason.TIMEOUT))  # of the first window: no cut now
    route.release(first[2], copied())
    assert (route.limit, route.cuts) == (32, 0)
