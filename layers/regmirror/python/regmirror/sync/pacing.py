"""How many copies run at once: a limit per route (source registry → target registry) that follows
what the network gives, not the number of cores.

A relay mostly waits: on the source's answers, on the target's, on the link between them. How many
copies at once fill a link depends on its latency and bandwidth and on how the registries keep up,
none of which is known before the run. On loopback four copies keep two cores busy; across a 40 ms link
four copies leave it idle most of the time, and thirty-two are three times faster.

So a route starts where its registries' round trips say (`Concurrency.start_for`): at the CPU
default when they answer within a few milliseconds, higher the longer a copy waits for them. Then it
measures its throughput over a window: the first
half of the copies started under the current limit to finish, and only when they kept every slot
busy (a starved pool says nothing about the link). By Little's law the throughput is the limit times
the bytes one copy moves per second of its own time; timed from the change instead, a window would
also pay for the old copies still draining. While doubling the limit raises the throughput by `GAIN`
or more, it doubles again, up to the ceiling; it quadruples when the last step paid almost in
proportion (`LEAP_EFFICIENCY`: a link far from full, where every step costs one copy's time). Once a
step does not pay, the limit returns to the best one seen and holds there, probing a quarter higher
every `PROBE_EVERY` windows. A copy failing with a sign of overload (a 429, a 5xx, a reset, a timeout
or stall) halves the limit at once, once per window, and growth becomes additive: TCP's answer to the
same question.

The ceiling is `--concurrency`'s (`auto`: `AUTO_CEILING`), lowered by a source's
`max-concurrent-copies`; its rate-limit budget still decides separately when a copy may start.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from regmirror.model import CopyResult, FailureReason
from regmirror.sync.pool import NotStarted

log = logging.getLogger("regmirror.pacing")

AUTO_CEILING = 32  # copies at once per route with `--concurrency auto` (each is a skopeo, ≈ 40 MB)
GAIN = 1.15  # a step up must raise the throughput this much to count as paying
LEAP_EFFICIENCY = 0.8  # a doubling that paid this share of a proportional gain or more: next, ×4
PROBE_EVERY = 4  # windows held at the best limit before probing a quarter higher
POLL_SECONDS = 0.1  # how often a copy waiting for a slot looks at the stop flag
# A route's start: a copy waits for about COPY_ROUND_TRIPS answers of each registry one after another
# (skopeo 1.9, one platform: ping, manifest, blob HEADs, upload starts and ends, manifest PUT), and keeps
# a core busy for about COPY_CPU_SECONDS (skopeo's share and the registries': 6.5 core-seconds for the
# WAN bench's 48 copies). Answers within NEAR_SECONDS are a LAN's or loopback's, where the CPU bounds.
COPY_ROUND_TRIPS = 12
COPY_CPU_SECONDS = 0.15
NEAR_SECONDS = 0.005

# Failures that say "too much at once" rather than "this image is wrong": a 429, a 5xx (skopeo's 502,
# 503 and 504 are classed `network`, as are resets and cut bodies), a copy that timed out or stalled.
OVERLOAD = frozenset(
    {
        FailureReason.RATE_LIMIT,
        FailureReason.SERVER_ERROR,
        FailureReason.NETWORK,
        FailureReason.TIMEOUT,
        FailureReason.STALLED,
    }
)


def cpu_concurrency() -> int:
    """The old fixed default, and adaptive's start: enough to keep the cores busy on a fast link."""
    return min(8, (os.cpu_count() or 1) * 2)


@dataclass(frozen=True, slots=True)
class Concurrency:
    """The run's setting: `fixed(n)` copies at once, or `auto()`, adapting between 1 and `ceiling`."""

    start: int
    ceiling: int
    adaptive: bool

    @classmethod
    def fixed(cls, copies: int) -> Concurrency:
        return cls(copies, copies, adaptive=False)

    @classmethod
    def auto(cls, ceiling: int = AUTO_CEILING, start: int | None = None) -> Concurrency:
        return cls(min(start or cpu_concurrency(), ceiling), ceiling, adaptive=True)

    @classmethod
    def parse(cls, text: str) -> Concurrency:
        """`auto`, `auto:<ceiling>` or a number of copies (the command line's `--concurrency`)."""
        name, _, ceiling = text.strip().partition(":")
        if name == "auto":
            return cls.auto(_positive(ceiling) if ceiling else AUTO_CEILING)
        if ceiling:
            raise ValueError(f"{text!r}: expected auto, auto:<most copies at once> or a number")
        return cls.fixed(_positive(name))

    def start_for(self, round_trips: Iterable[float | None]) -> int:
        """Where a route between registries with these round trips (seconds; None: not known) starts:
        the CPU start, times how much longer than its CPU time a copy waits on them (the copies that
        keep the cores busy when each waits that long), within the ceiling."""
        waiting = COPY_ROUND_TRIPS * sum(max(0.0, rtt - NEAR_SECONDS) for rtt in round_trips if rtt)
        return min(self.ceiling, max(self.start, int(self.start * (1 + waiting / COPY_CPU_SECONDS))))

    def __str__(self) -> str:
        return f"auto ({self.start} to {self.ceiling})" if self.adaptive else str(self.start)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a number of copies") from None
    if value < 1:
        raise ValueError(f"{text!r}: must be at least 1")
    return value


@dataclass(frozen=True, slots=True)
class Ticket:
    """One copy's slot: the window it started in, and when."""

    window: int
    started: float


@dataclass(slots=True)
class _Window:
    """The copies started under one limit: how many finished, what they moved, the time they took."""

    number: int
    finished: int = 0
    moved: int = 0
    busy: float = 0.0
    saturated: bool = False

    def rate(self, limit: int) -> float:
        """Throughput at `limit` copies at once: `limit` × what one copy moves per second."""
        units = self.moved or self.finished  # bytes when the copies said, else copies
        return limit * units / max(self.busy, 1e-6)


@dataclass
class RouteLimit:
    """One route's limit and the controller moving it. Thread-safe."""

    limit: int
    ceiling: int
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)
    start: int = field(default=0, init=False)
    in_use: int = field(default=0, init=False)
    peak: int = field(default=0, init=False)
    cuts: int = field(default=0, init=False)
    _best: tuple[int, float] | None = field(default=None, init=False)
    _doubling: bool = field(default=True, init=False)
    _held_windows: int = field(default=0, init=False)
    _window: _Window = field(init=False)
    _changed: threading.Condition = field(default_factory=threading.Condition, init=False, repr=False)

    def __post_init__(self) -> None:
        self.limit = max(1, min(self.limit, self.ceiling))
        self.start = self.peak = self.limit
        self._window = _Window(0)

    def acquire(self, stop: threading.Event, start: int | None = None) -> Ticket:
        """Wait for a free slot; NotStarted (the pool drops the image) once `stop` is set first.
        `start`: where the route would start now (`Concurrency.start_for`); followed until the first
        decision, as the round trips are measured over more answers."""
        with self._changed:
            if start is not None and self._window.number == 0:
                self._follow(start)
            while self.in_use >= self.limit:
                if stop.is_set():
                    raise NotStarted
                self._changed.wait(POLL_SECONDS)
            if stop.is_set():
                raise NotStarted
            self.in_use += 1
            if self.in_use >= self.limit:
                self._window.saturated = True
            return Ticket(self._window.number, self.clock())

    def _follow(self, start: int) -> None:
        start = max(1, min(start, self.ceiling))
        if start != self.limit:
            log.debug("copies at once to start %d -> %d (round trips measured again)", self.limit, start)
            self.start = self.limit = start
            self.peak = max(self.peak, start)
            self._changed.notify_all()

    def release(self, ticket: Ticket, result: CopyResult | None) -> None:
        """A copy ended: its slot is free, and its outcome counts in its window."""
        with self._changed:
            self.in_use -= 1
            if result is not None and ticket.window == self._window.number:
                self._count(result, self.clock() - ticket.started)
            self._changed.notify_all()

    def _count(self, result: CopyResult, seconds: float) -> None:
        if result.status == "failed" and result.reason in OVERLOAD:
            self._cut(result.reason)
            return
        self._window.finished += 1
        self._window.moved += result.bytes or 0
        self._window.busy += seconds
        if self._window.finished >= self._window_size():
            self._decide()

    def _window_size(self) -> int:
        # Half the limit: a step is judged within one copy's time, so a ramp from 4 to 32 takes three
        # copies' time, not six; halves of twos and fours are still averages, not single copies.
        return max(2, (self.limit + 1) // 2)

    def _cut(self, reason: str) -> None:
        halved = max(1, self.limit // 2)
        log.info("copies at once %d -> %d: a copy failed with %s", self.limit, halved, reason)
        self.cuts += 1
        self._best, self._doubling = None, False
        self._set(halved)

    def _decide(self) -> None:
        window = self._window
        if not window.saturated:  # the pool ran short of images: no evidence about the link
            self._set(self.limit)
            return
        rate = window.rate(self.limit)
        log.debug("%d copies at once: %.0f bytes/s (best so far: %s)", self.limit, rate, self._best)
        best = self._best
        if best is None or (self.limit > best[0] and rate >= best[1] * GAIN):
            # a step that paid almost in proportion (a link far from full) leaps: ×4, not ×2
            leap = best is not None and rate / best[1] >= LEAP_EFFICIENCY * self.limit / best[0]
            self._best = (self.limit, rate)
            self._set(self._step_up(leap))
        elif self.limit > best[0]:  # the step did not pay: back to the best, and slower from now on
            self._doubling = False
            self._set(best[0])
        else:
            self._best = (self.limit, rate)  # the best limit's throughput, measured again
            self._held_windows += 1
            probe = self._held_windows % PROBE_EVERY == 0
            self._set(self._step_up() if probe else self.limit)

    def _step_up(self, leap: bool = False) -> int:
        step = (3 if leap else 1) * self.limit if self._doubling else max(1, self.limit // 4)
        return min(self.ceiling, self.limit + step)

    def describe(self) -> dict[str, int]:
        return {"start": self.start, "peak": self.peak, "final": self.limit, "cuts": self.cuts}

    def _set(self, limit: int) -> None:
        if limit != self.limit:
            log.debug("copies at once %d -> %d", self.limit, limit)
        self.limit = limit
        self.peak = max(self.peak, limit)
        self._window = _Window(self._window.number + 1, saturated=self.in_use >= limit)
        self._changed.notify_all()


class Pacing:
    """The routes of one run and their limits: `copy` runs one copy in a slot of its route."""

    def __init__(
        self,
        concurrency: Concurrency,
        stop: threading.Event | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.concurrency = concurrency
        self.stop = stop or threading.Event()
        self._clock = clock
        self._routes: dict[tuple[str, str], RouteLimit] = {}
        self._lock = threading.Lock()

    def route(
        self, key: tuple[str, str], bound: int | None = None, round_trips: tuple[float | None, ...] = ()
    ) -> RouteLimit:
        """The limit of route `key` (source registry, target registry); `bound` (the source's
        `max-concurrent-copies`) lowers its ceiling; the registries' `round_trips` set where a new
        route starts (`Concurrency.start_for`)."""
        with self._lock:
            limit = self._routes.get(key)
            if limit is None:
                ceiling = min(self.concurrency.ceiling, bound or self.concurrency.ceiling)
                start = self.concurrency.start_for(round_trips)
                limit = self._routes[key] = RouteLimit(start, ceiling, self._clock)
                waits = " and ".join("?" if rtt is None else f"{rtt * 1000:.0f} ms" for rtt in round_trips)
                log.debug("%s -> %s: answers in %s: %d copies at once to start", *key, waits or "?", start)
            return limit

    def copy(
        self,
        key: tuple[str, str],
        bound: int | None,
        run: Callable[[], CopyResult],
        round_trips: tuple[float | None, ...] = (),
    ) -> CopyResult:
        """`run()` once a slot of route `key` is free (at once when the concurrency is fixed: the
        pool's size bounds it then)."""
        if not self.concurrency.adaptive:
            return run()
        limit = self.route(key, bound, round_trips)
        ticket = limit.acquire(self.stop, self.concurrency.start_for(round_trips))
        result: CopyResult | None = None
        try:
            result = run()
            return result
        finally:
            limit.release(ticket, result)  # None when it raised: the slot is freed, nothing learnt

    def summary(self) -> list[dict[str, Any]]:
        """Per route: the limit it started at, the highest it reached, where it ended, the halvings."""
        with self._lock:
            routes = sorted(self._routes.items())
        return [{"source": s, "target": t, **route.describe()} for (s, t), route in routes]
