"""Copy order: one image of each target repository first, the others once it is done.

Tags of one repository share layers (a base image, the same build at several versions). Copied at
once, each skopeo finds a shared blob absent in the target and uploads it: the link carries it once
per tag. Copied after one of them, every other finds it there (skopeo HEADs each blob first) and
uploads only what is its own. So the first image of a repository (its leader) goes to the relays at
once, and the other images of that repository are held until the leader is done (copied or failed),
while the leaders of the other repositories keep the relays busy.

At most `max_held` images are held (then the oldest goes anyway): memory stays bounded on a plan of
millions of images. Waiting happens in the thread that feeds the pool, never in a relay.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator

from regmirror.model import SyncItem

MAX_HELD = 10_000  # images waiting for their repository's leader
POLL_SECONDS = 0.1  # how often a feeder waiting for leaders looks at the stop flag


def repository_of(item: SyncItem) -> str:
    return f"{item.target.registry}/{item.target.repository}"


def every(item: SyncItem) -> bool:
    return True


class LeadersFirst:
    """Orders a stream of images to copy (`order`); the relays tell each finished copy (`done`)."""

    def __init__(self, max_held: int = MAX_HELD, stop: threading.Event | None = None) -> None:
        self.max_held = max_held
        self.stop = stop or threading.Event()
        self._lock = threading.Lock()
        self._finished = threading.Condition(self._lock)
        self._led: dict[str, str] = {}  # a running leader's key -> its repository
        self._done: set[str] = set()  # repositories whose leader is done
        self._news: deque[str] = deque()  # repositories whose leader finished since the feeder looked
        self._held: dict[str, deque[SyncItem]] = {}  # repository -> its images held, oldest first
        self._count = 0

    def order(
        self, items: Iterable[SyncItem], ordered: Callable[[SyncItem], bool] = every
    ) -> Iterator[SyncItem]:
        """`items`, leaders at once and the others after theirs; those not `ordered` pass through."""
        for item in items:
            if not ordered(item) or self._goes(item):
                yield item
            yield from self._released()
            while self._count > self.max_held:
                yield self._oldest()
        while self._count and not self.stop.is_set():
            with self._finished:
                self._finished.wait_for(lambda: bool(self._news) or self.stop.is_set(), POLL_SECONDS)
            yield from self._released()
        while self._count:  # stopped: the pool takes no more anyway
            yield self._oldest()

    def done(self, item: SyncItem) -> None:
        """A relay finished `item` (whatever the outcome): its repository's other images may go."""
        with self._finished:
            repository = self._led.pop(item.key(), None)
            if repository is not None:
                self._done.add(repository)
                self._news.append(repository)
                self._finished.notify_all()

    def _goes(self, item: SyncItem) -> bool:
        """Whether `item` goes now (it leads, or its leader is done); else it is held."""
        repository = repository_of(item)
        with self._lock:
            if repository in self._done:
                return True
            if repository not in self._held:
                self._held[repository] = deque()
                self._led[item.key()] = repository
                return True
            self._held[repository].append(item)
            self._count += 1
            return False

    def _released(self) -> Iterator[SyncItem]:
        """The held images of every repository whose leader finished since the last look."""
        with self._lock:
            repositories = list(self._news)
            self._news.clear()
            released = [item for r in repositories for item in self._held.pop(r, ())]
            self._count -= len(released)
        yield from released

    def _oldest(self) -> SyncItem:
        """One held image, of the repository held longest (bounded memory outranks the order)."""
        with self._lock:
            repository = next(r for r, held in self._held.items() if held)
            self._count -= 1
            return self._held[repository].popleft()
