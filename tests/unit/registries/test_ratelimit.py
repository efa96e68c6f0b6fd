"""Rate-limit budget: Docker Hub style headers, deferral below the floor, bounded waits, copy slots."""

from __future__ import annotations

import email.utils
import threading
import time

import pytest
from regmirror.config import parse_config
from regmirror.registries.ratelimit import (
    BLOCK_WITHOUT_RETRY_AFTER,
    MAX_DEFER,
    NO_WINDOW_RECHECK,
    Quota,
    RateLimits,
    configure_sources,
    parse_quota,
)

HUB = "registry-1.docker.io"


class Clock:
    """A manual monotonic clock; `sleep` advances it."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def limits(clock: Clock, **kw: float) -> RateLimits:
    return RateLimits(clock=clock, sleep=clock.sleep, **kw)  # type: ignore[arg-type]


def hub_headers(remaining: int, limit: int = 100, window: int = 21600) -> dict[str, str]:
    return {
        "RateLimit-Limit": f"{limit};w={window}",
        "RateLimit-Remaining": f"{remaining};w={window}",
        "Docker-RateLimit-Source": "203.0.113.7",
    }


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("100;w=21600", Quota(100, 21600.0)),
        ("76;w=21600", Quota(76, 21600.0)),
        (" 100 ; w = 60 ", Quota(100, 60.0)),
        ("100", Quota(100, None)),
        ("10, 50;w=60", Quota(10, None)),  # a list: the first entry
        ("10;w=1, 50;w=60", Quota(10, 1.0)),
        ("100;w=0", Quota(100, None)),
        ("100;w=abc", Quota(100, None)),
        ("100;burst=5;w=3600", Quota(100, 3600.0)),
        ("abc", None),
        ("-1", None),
        ("1e3", None),
        ("", None),
        (None, None),
        ("9" * 300, None),
    ],
)
def test_parse_quota(value: str | None, expected: Quota | None) -> None:
    assert parse_quota(value) == expected


def test_no_headers_means_no_deferral() -> None:
    clock = Clock()
    budget = limits(clock)
    budget.observe(HUB, 200, {"Content-Type": "application/json"})
    assert budget.defer_seconds(HUB) is None
    assert budget.defer_seconds("never.seen") is None
    assert budget.acquire(HUB) is None
    assert clock.slept == []


def test_plenty_left_copies_start() -> None:
    budget = limits(Clock(), floor=10)
    budget.observe(HUB, 200, hub_headers(76))
    assert budget.defer_seconds(HUB) is None
    assert budget.snapshot()[HUB] == {"limit": 100, "remaining": 76, "window": 21600.0, "blocked_for": 0.0}


def test_below_the_floor_defers_by_the_window_estimate() -> None:
    clock = Clock()
    budget = limits(clock, floor=10)
    # 100 pulls per 100 s: one regained per second; 4 left, a copy needs 11 to keep 10 → 7 s
    budget.observe(HUB, 200, hub_headers(4, limit=100, window=100))
    assert budget.defer_seconds(HUB) == 7
    clock.now += 3
    assert budget.defer_seconds(HUB) == 4
    clock.now += 4
    assert budget.defer_seconds(HUB) is None


def test_docker_hub_window_is_capped_at_max_defer() -> None:
    budget = limits(Clock(), floor=10)
    budget.observe(HUB, 200, hub_headers(0))  # 10 pulls short × 216 s each = 2160 s
    assert budget.defer_seconds(HUB) == MAX_DEFER


def test_each_started_copy_spends_one_pull() -> None:
    budget = limits(Clock(), floor=10)
    budget.observe(HUB, 200, hub_headers(12, window=21600))
    assert budget.try_start(HUB) is None
    assert budget.try_start(HUB) is None
    assert budget.try_start(HUB) is not None  # 10 left now: the floor is kept in reserve
    assert budget.defer_seconds(HUB) is not None
    budget.observe(HUB, 200, hub_headers(50))  # a fresh HEAD answer replaces the estimate
    assert budget.defer_seconds(HUB) is None


def test_concurrent_starts_never_overdraw() -> None:
    budget = RateLimits(floor=5)
    budget.observe(HUB, 200, hub_headers(25, window=10**9))
    started = []

    def worker() -> None:
        for _ in range(10):
            if budget.try_start(HUB) is None:
                started.append(1)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(started) == 20  # 25 left, 5 kept: exactly 20 copies start


def test_429_blocks_for_retry_after_seconds_or_date() -> None:
    clock = Clock()
    budget = limits(clock)
    budget.observe(HUB, 429, {"Retry-After": "30"})
    assert budget.defer_seconds(HUB) == 30
    clock.now += 30
    assert budget.defer_seconds(HUB) is None
    when = email.utils.formatdate(time.time() + 120, usegmt=True)
    budget.observe(HUB, 429, {"retry-after": when})
    assert 118 <= (budget.defer_seconds(HUB) or 0) <= 121
    clock.now += 200
    budget.observe(HUB, 429, {})
    assert budget.defer_seconds(HUB) == BLOCK_WITHOUT_RETRY_AFTER


def test_docker_hub_429_with_zero_remaining_defers_by_the_window() -> None:
    clock = Clock()
    budget = limits(clock, floor=2)
    budget.observe(HUB, 429, hub_headers(0, limit=100, window=1000))  # 10 s per pull
    assert budget.defer_seconds(HUB) == BLOCK_WITHOUT_RETRY_AFTER  # the 429 first ...
    clock.now += BLOCK_WITHOUT_RETRY_AFTER
    assert budget.defer_seconds(HUB) == 30 - BLOCK_WITHOUT_RETRY_AFTER  # ... then the window: 3 pulls
    clock.now += 30
    assert budget.defer_seconds(HUB) is None


def test_without_a_window_defer_a_while_then_trust_again() -> None:
    clock = Clock()
    budget = limits(clock, floor=10)
    budget.observe(HUB, 200, {"RateLimit-Remaining": "3"})
    assert budget.defer_seconds(HUB) == NO_WINDOW_RECHECK
    clock.now += NO_WINDOW_RECHECK
    assert budget.defer_seconds(HUB) is None


def test_malformed_headers_are_ignored() -> None:
    budget = limits(Clock())
    budget.observe(HUB, 200, {"RateLimit-Limit": "lots", "RateLimit-Remaining": "few;w=x"})
    assert budget.defer_seconds(HUB) is None
    assert budget.snapshot() == {}


def test_registry_names_and_header_names_are_case_insensitive() -> None:
    budget = limits(Clock(), floor=10)
    budget.observe(
        "Registry-1.Docker.IO", 200, {"ratelimit-remaining": "1;w=21600", "RATELIMIT-LIMIT": "100"}
    )
    assert budget.defer_seconds(HUB) is not None


def test_acquire_waits_until_the_budget_allows() -> None:
    clock = Clock()
    budget = limits(clock, floor=10, max_wait=900)
    budget.observe(HUB, 200, hub_headers(5, limit=100, window=100))
    assert budget.acquire(HUB) is None
    assert sum(clock.slept) == pytest.approx(6)


def test_acquire_gives_up_after_max_wait() -> None:
    clock = Clock()
    budget = limits(clock, floor=10, max_wait=60)
    budget.observe(HUB, 200, hub_headers(0))  # 2160 s to go
    left = budget.acquire(HUB)
    assert left == MAX_DEFER
    assert sum(clock.slept) == 60


def test_lambda_mode_never_waits() -> None:
    clock = Clock()
    budget = limits(clock, max_wait=0)
    budget.observe(HUB, 429, {"Retry-After": "45"})
    assert budget.acquire(HUB) == 45
    assert clock.slept == []


def test_copy_slots_bound_parallel_copies_per_registry() -> None:
    budget = RateLimits(concurrency=2)
    budget.configure(per_registry={"slow.example": 1})
    active = {"a.example": 0, "slow.example": 0, "peak_a.example": 0, "peak_slow.example": 0}
    lock = threading.Lock()

    def copy(registry: str) -> None:
        with budget.copy_slot(registry):
            with lock:
                active[registry] += 1
                active[f"peak_{registry}"] = max(active[f"peak_{registry}"], active[registry])
            time.sleep(0.02)
            with lock:
                active[registry] -= 1

    threads = [threading.Thread(target=copy, args=(r,)) for r in ["a.example", "slow.example"] * 6]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert active["peak_a.example"] == 2
    assert active["peak_slow.example"] == 1


def test_no_bound_means_no_slot_waiting() -> None:
    budget = RateLimits()
    with budget.copy_slot("any.example"), budget.copy_slot("any.example"), budget.copy_slot("any.example"):
        pass


def test_sources_from_a_config_set_floors_and_bounds() -> None:
    config = parse_config(
        """
        tasks:
          - name: a
            source: {registry: registry.hub.docker.com, rate-limit-floor: 20, max-concurrent-copies: 3}
            target: {registry: "127.0.0.1:5000"}
          - name: b
            source: {registry: registry.hub.docker.com, rate-limit-floor: 5, max-concurrent-copies: 1}
            target: {registry: "127.0.0.1:5000"}
          - name: c
            source: {registry: "quay.io"}
            target: {registry: "127.0.0.1:5000"}
        """.replace("\n        ", "\n")
    )
    budget = configure_sources((t.source for t in config.tasks), RateLimits(floor=10))
    assert budget.floor_for("registry.hub.docker.com") == 20  # the highest floor
    assert budget.floor_for("quay.io") == 10  # the default
    budget.observe("registry.hub.docker.com", 200, hub_headers(15))
    budget.observe("quay.io", 200, hub_headers(15))
    assert budget.defer_seconds("registry.hub.docker.com") is not None
    assert budget.defer_seconds("quay.io") is None
    slot = budget._slot("registry.hub.docker.com")
    assert slot is not None and slot._value == 1  # the lowest bound  # type: ignore[attr-defined]


def test_a_runs_budgets_are_its_own() -> None:
    """Two runs (two Registries) keep separate budgets: one never rewrites the other's settings."""
    from regmirror.sync.registries import Registries

    text = (
        "tasks:\n  - name: t\n    source: {registry: quay.io, rate-limit-floor: 30}\n"
        "    target: {registry: target.example}\n    mappings: [{from: a/b}]\n"
    )
    first, second = Registries(parse_config(text)), Registries(parse_config(text.replace("30", "5")))
    assert (first.rate_limits.floor_for("quay.io"), second.rate_limits.floor_for("quay.io")) == (30, 5)
    first.rate_limits.observe("quay.io", 429, {"Retry-After": "12"})
    assert first.rate_limits.defer_seconds("quay.io") in (11, 12)
    assert second.rate_limits.defer_seconds("quay.io") is None
    assert first.retry.attempts == parse_config(text).retry.attempts
