"""How far one listing may page before it is a registry paging without end (`lister.pageLimit`,
`lister.nameLimit`): light on purpose, the config imports the defaults."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_PAGE_LIMIT = 10_000
DEFAULT_NAME_LIMIT = 1_000_000


@dataclass(frozen=True, slots=True)
class PagingLimits:
    pages: int = DEFAULT_PAGE_LIMIT
    names: int = DEFAULT_NAME_LIMIT
