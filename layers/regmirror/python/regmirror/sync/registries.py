"""How to reach every registry of a config: its kind (chosen once), credentials, clients, listers.

Created once per run (CLI) or per loaded config (a warm relay Lambda, `shared_registries`) and shared by
threads, so connections, tokens and digest listings are reused.
"""

from __future__ import annotations

import threading
from typing import Any

from regmirror.config import Config, RegistryConfig, Task
from regmirror.registries.credentials import Credentials
from regmirror.registries.distribution.client import RegistryClient
from regmirror.registries.distribution.referrers import RepositoryTags
from regmirror.registries.http.breaker import Breakers
from regmirror.registries.kinds import RegistryKind, kind_of
from regmirror.registries.listers import make_lister
from regmirror.registries.manifests import ManifestSource
from regmirror.registries.ratelimit import RateLimits, configure_sources
from regmirror.retry import RetryPolicy


class Registries:
    """Clients, credentials and listers for a config, created once and shared by threads.

    Owns what its clients share: the retry policy of their API calls (`retry.attempts`), the
    rate-limit budgets of the sources (`rate-limit-floor`, `max-concurrent-copies`) and the registries'
    circuit breakers (`retry.breaker-*`), which the copies of the run consult too.
    """

    def __init__(
        self, config: Config, *, rate_limits: RateLimits | None = None, retry: RetryPolicy | None = None
    ) -> None:
        self.config = config
        self.retry = retry or RetryPolicy(attempts=config.retry.attempts)
        self.rate_limits = configure_sources((t.source for t in config.tasks), rate_limits or RateLimits())
        self.breakers = Breakers(config.retry.breaker_failures, config.retry.breaker_cooldown)
        self._lock = threading.Lock()
        self._clients: dict[tuple[Any, ...], tuple[RegistryClient, Credentials | None]] = {}
        self._manifests: dict[tuple[Any, ...], ManifestSource] = {}
        self._kinds: dict[tuple[Any, ...], RegistryKind] = {}
        self._names: dict[str, list[str]] = {}
        self.repository_tags = RepositoryTags()  # which referrer tags exist (sync.referrers)

    @staticmethod
    def _key(rc: RegistryConfig) -> tuple[Any, ...]:
        return (rc.registry, rc.auth, rc.skip_tls_verify, rc.insecure, rc.ca_file, rc.role_arn, rc.region)

    def kind(self, rc: RegistryConfig) -> RegistryKind:
        """The registry's kind, chosen on first use and kept."""
        key = self._key(rc)
        with self._lock:
            kind = self._kinds.get(key)
        if kind is None:
            kind = kind_of(rc)
            with self._lock:
                self._kinds[key] = kind
        return kind

    def credentials(self, rc: RegistryConfig) -> Credentials | None:
        return self.kind(rc).credentials(rc)

    def client(self, rc: RegistryConfig) -> RegistryClient:
        key = self._key(rc)
        creds = self.credentials(rc)
        with self._lock:
            cached = self._clients.get(key)
            # A renewed token (ECR) is a new Credentials object: the client is rebuilt with it.
            if cached is None or cached[1] != creds:
                client = self._new_client(rc, creds)
                cached = (client, creds)
                self._clients[key] = cached
            return cached[0]

    def _new_client(self, rc: RegistryConfig, creds: Credentials | None) -> RegistryClient:
        limits, breakers = self.rate_limits, self.breakers
        return RegistryClient(rc.endpoint(), creds, retry=self.retry, rate_limits=limits, breakers=breakers)

    def manifests(self, rc: RegistryConfig) -> ManifestSource:
        """What the planner asks for tags and digests (the registry's kind decides: ECR answers from
        one DescribeImages listing per repository, other registries from their HTTP API)."""
        key = self._key(rc)
        with self._lock:
            cached = self._manifests.get(key)
        if cached is not None:
            return cached
        source = self.kind(rc).manifests(rc, lambda: self.client(rc))
        if isinstance(source, RegistryClient):
            return source  # rebuilt when its credentials are renewed: not kept here
        with self._lock:
            return self._manifests.setdefault(key, source)

    def planner_source(self, rc: RegistryConfig) -> ManifestSource:
        """`manifests(rc)` for the planner: the tag listings it reads serve the referrer checks too
        (`repository_tags`), so a run lists no repository twice."""
        return self.repository_tags.sharing(self.manifests(rc), rc.registry)

    def list_names(self, task: Task) -> list[str]:
        """The task's source repository list: fetched once per task and shared by its mappings."""
        cached = self._names.get(task.name)
        if cached is None:
            lister = make_lister(task.source, self.config.lister, self.client)
            cached = list(lister.list_repositories())
            self._names[task.name] = cached
        return cached

    def task(self, name: str) -> Task:
        for task in self.config.tasks:
            if task.name == name:
                return task
        raise KeyError(f"no task named {name!r} in {self.config.source_file}")

    def forget_listing(self, rc: RegistryConfig, repository: str) -> None:
        """A copy changes the target repository: a digest listing of it must be read again."""
        with self._lock:
            source = self._manifests.get(self._key(rc))
        forget = getattr(source, "forget", None)
        if forget is not None:
            forget(repository)

    def source_client(self, item: Any) -> ManifestSource:
        return self.manifests(self.task(item.task).source)

    def target_client(self, item: Any) -> ManifestSource:
        return self.manifests(self.task(item.task).target)

    def round_trip(self, rc: RegistryConfig) -> float | None:
        """About the registry's round trip: its client's quickest answer (None: no client yet, or no
        answer; ECR's digests come from its AWS API, not from the registry)."""
        with self._lock:
            cached = self._clients.get(self._key(rc))
        return cached[0].round_trip if cached is not None else None

    def request_stats(self) -> dict[str, dict[str, int]]:
        with self._lock:
            return {key[0]: dict(client.stats) for key, (client, _) in self._clients.items()}


_shared: tuple[Config, Registries] | None = None
_shared_lock = threading.Lock()


def shared_registries(config: Config, *, max_wait: float | None = None) -> Registries:
    """One `Registries` per loaded config in this process: a relay Lambda container handling many
    messages keeps its connections, tokens, ECR listings and rate-limit budgets between them.
    `max_wait` (seconds a copy may wait for budget) applies when it is created."""
    global _shared
    with _shared_lock:
        if _shared is None or _shared[0] is not config:
            limits = RateLimits() if max_wait is None else RateLimits(max_wait=max_wait)
            _shared = (config, Registries(config, rate_limits=limits))
        return _shared[1]


def reset_shared() -> None:
    """Forget the process's shared Registries (tests)."""
    global _shared
    with _shared_lock:
        _shared = None
