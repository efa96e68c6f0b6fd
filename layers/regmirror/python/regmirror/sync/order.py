"""Copy order: an image goes to the relays once no running copy is uploading what it shares.

Images share blobs: the tags of one repository (a base image, the same build at several versions),
and across repositories a common base. Copied at once, each skopeo finds a shared blob absent in the
target and uploads it: the link carries it once per image. Copied after one of them, every other finds
it there (skopeo HEADs each blob first, and mounts a blob it pushed to another repository of the same
registry, told by its blob-info cache) and uploads only what is its own.

So every image has keys: its target repository, and (`sync.run` adds them when the source's manifests
told) each blob big enough to be worth waiting for. The first image holding a key leads for it: an
image goes once none of its keys is held by a running copy, and a key is done for good once its
leader finished, copied or failed (a failure must not serialise the rest of a repository). The other
images of a repository thus wait for one of them, as do images sharing a large base with a running
copy in another repository, while images sharing nothing keep the relays busy.

At most `max_held` images are held (then the oldest goes anyway): memory stays bounded on a plan of
millions of images. Waiting happens in the thread that feeds the pool, never in a relay.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator

from regmirror.model import SyncItem

MAX_HELD = 10_000  # images waiting for their leaders
POLL_SECONDS = 0.1  # how often a feeder waiting for leaders looks at the stop flag


def repository_of(item: SyncItem) -> str:
    return f"{item.target.registry}/{item.target.repository}"


def repository_keys(item: SyncItem) -> tuple[str, ...]:
    return (repository_of(item),)


def every(item: SyncItem) -> bool:
    return True


class LeadersFirst:
    """Orders a stream of images to copy (`order`); the relays tell each finished copy (`done`).
    `keys(item)`: what an image shares with others (default: its target repository)."""

    def __init__(
        self,
        max_held: int = MAX_HELD,
        stop: threading.Event | None = None,
        keys: Callable[[SyncItem], Iterable[str]] = repository_keys,
    ) -> None:
        self.max_held = max_held
        self.stop = stop or threading.Event()
        self.keys = keys
        self._lock = threading.Lock()
        self._finished = threading.Condition(self._lock)
        self._holder: dict[str, str] = {}  # key -> the running image leading for it
        self._led: dict[str, list[str]] = {}  # running image -> the keys it leads for
        self._done: set[str] = set()  # keys whose leader finished
        self._news: deque[str] = deque()  # keys done since the feeder looked
        self._held: dict[int, tuple[SyncItem, list[str]]] = {}  # oldest first
        self._waiting: dict[str, deque[int]] = {}  # key -> held images waiting for it
        self._serial = 0

    def order(
        self, items: Iterable[SyncItem], ordered: Callable[[SyncItem], bool] = every
    ) -> Iterator[SyncItem]:
        """`items`, each once no running copy leads for one of its keys; those not `ordered` pass."""
        for item in items:
            if not ordered(item) or self._goes(item, list(self.keys(item))):
                yield item
            yield from self._released()
            while len(self._held) > self.max_held:
                yield self._oldest()
        while self._held and not self.stop.is_set():
            with self._finished:
                self._finished.wait_for(lambda: bool(self._news) or self.stop.is_set(), POLL_SECONDS)
            yield from self._released()
        while self._held:  # stopped: the pool takes no more anyway
            yield self._oldest()

    def done(self, item: SyncItem) -> None:
        """A relay finished `item` (whatever the outcome): the keys it led for are done."""
        with self._finished:
            keys = self._led.pop(item.key(), [])
            for key in keys:
                self._holder.pop(key, None)
                self._done.add(key)
            self._news.extend(keys)
            if keys:
                self._finished.notify_all()

    def _goes(self, item: SyncItem, keys: list[str]) -> bool:
        """Whether `item` goes now (it leads, or its keys are done); else it is held."""
        with self._lock:
            live = [key for key in keys if key not in self._done]
            blocking = next((key for key in live if key in self._holder), None)
            if blocking is None:
                self._lead(item, live)
                return True
            self._serial += 1
            self._held[self._serial] = (item, live)
            self._waiting.setdefault(blocking, deque()).append(self._serial)
            return False

    def _lead(self, item: SyncItem, keys: list[str]) -> None:
        """`item` runs: it leads for those of `keys` no running copy leads for (under the lock)."""
        free = [key for key in keys if key not in self._holder and key not in self._done]
        for key in free:
            self._holder[key] = item.key()
        if free:
            self._led.setdefault(item.key(), []).extend(free)

    def _released(self) -> Iterator[SyncItem]:
        """The held images whose last running leader finished since the last look."""
        released: list[SyncItem] = []
        with self._lock:
            while self._news:
                for serial in self._waiting.pop(self._news.popleft(), ()):
                    entry = self._held.get(serial)
                    if entry is not None and self._unblocked(serial, entry[1]):
                        del self._held[serial]
                        self._lead(*entry)
                        released.append(entry[0])
        yield from released

    def _unblocked(self, serial: int, keys: list[str]) -> bool:
        """Whether a held image may go; else it waits for the next of its keys led by a running copy."""
        blocking = next((key for key in keys if key in self._holder), None)
        if blocking is None:
            return True
        self._waiting.setdefault(blocking, deque()).append(serial)
        return False

    def _oldest(self) -> SyncItem:
        """The image held longest (bounded memory outranks the order); it leads for what is free."""
        with self._lock:
            serial = next(iter(self._held))
            item, keys = self._held.pop(serial)
            self._lead(item, keys)
            return item
