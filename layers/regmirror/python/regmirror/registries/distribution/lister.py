"""`catalog` lister (dregsy's default): `/v2/_catalog`, following `Link` pages."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TypeVar

from regmirror.registries.distribution.client import RegistryClient
from regmirror.registries.listers.base import Lister, ListerSettings, SourceSpec
from regmirror.registries.paging import PagingLimits

S = TypeVar("S", bound=SourceSpec)


class CatalogLister:
    def __init__(
        self, client: RegistryClient, page_size: int = 100, limits: PagingLimits | None = None
    ) -> None:
        self.client = client
        self.page_size = page_size
        self.limits = limits or PagingLimits()

    def list_repositories(self) -> Iterator[str]:
        return self.client.catalog(self.page_size, self.limits)

    def __repr__(self) -> str:
        return f"CatalogLister({self.client.registry!r}, page_size={self.page_size})"


def create(source: S, settings: ListerSettings, client_factory: Callable[[S], RegistryClient]) -> Lister:
    limits = PagingLimits(settings.page_limit, settings.name_limit)
    return CatalogLister(client_factory(source), settings.page_size, limits)
