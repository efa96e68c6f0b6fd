"""The OCI 1.1 referrers API of a registry client (`GET /v2/<name>/referrers/<digest>`), one API area
of `client.RegistryClient`. What the answers mean, and the tag schema without the API (its manifest
PUT is `push_api`'s), is `referrers`."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import requests

from regmirror.errors import RegistryError
from regmirror.registries.distribution.media import OCI_INDEX
from regmirror.registries.distribution.operations import repository_scope, retried
from regmirror.registries.endpoint import Endpoint
from regmirror.registries.http.body import parse_json, read_capped
from regmirror.registries.http.breaker import Breakers
from regmirror.retry import RetryPolicy

if TYPE_CHECKING:
    from regmirror.registries.distribution.session import RegistrySession

MAX_INDEX_BYTES = 16 * 1024 * 1024
_FIRST_ASK = threading.Lock()  # held only while a client's first referrers request is out


class ReferrersApi:
    """Mixed into RegistryClient, whose attributes these are."""

    endpoint: Endpoint
    registry: str
    breakers: Breakers
    _retry: RetryPolicy
    _session: RegistrySession
    # whether the registry has the referrers API: None until it answered once
    referrers_api: bool | None = None

    # RegistryClient's methods, declared for the type checker
    _note_retry: Callable[[int, str, float], None]
    next_page: Callable[[requests.Response, set[str]], str | None]

    def get_referrers(self, repository: str, digest: str) -> list[Any] | None:
        """The `manifests` of the OCI 1.1 referrers API for `digest`, every page; None when the
        registry has no such API (404, as distribution 2.8 answers). Raises RegistryError when an
        answer is not an image index. Until the registry has answered once, one caller asks and the
        others wait for its answer (a pool of relays would otherwise each probe)."""
        if self.referrers_api is None:
            with _FIRST_ASK:
                if self.referrers_api is None:
                    return self._all_referrers(repository, digest)
        if self.referrers_api is False:
            return None
        return self._all_referrers(repository, digest)

    def _all_referrers(self, repository: str, digest: str) -> list[Any] | None:
        repo = self.endpoint.repository_path(repository)
        path: str | None = f"/v2/{repo}/referrers/{digest}"
        seen: set[str] = set()
        entries: list[Any] = []
        while path:
            page = self._referrers_page(path, repo, digest)
            if page is None:
                self.referrers_api = bool(entries)
                return entries or None
            self.referrers_api = True
            body, answer = page
            manifests = body.get("manifests") if isinstance(body, dict) else None
            if not isinstance(manifests, list):
                raise RegistryError(
                    f"{self.registry}: referrers of {repo}@{digest}: the answer is not an image index",
                    registry=self.registry,
                )
            entries.extend(manifests)
            path = self.next_page(answer, seen)
        return entries

    @retried
    def _referrers_page(self, path: str, repo: str, digest: str) -> tuple[Any, requests.Response] | None:
        answer = self._session.request(
            "GET", path, kind="referrers", scope=repository_scope(repo), accept=OCI_INDEX
        )
        if answer.status_code in (404, 405):
            answer.close()
            return None
        if answer.status_code != 200:
            raise self._session.error(answer, f"GET referrers of {repo}@{digest}")
        where = f"{self.registry}: referrers of {repo}@{digest}"
        return parse_json(read_capped(answer, MAX_INDEX_BYTES, where), where), answer
