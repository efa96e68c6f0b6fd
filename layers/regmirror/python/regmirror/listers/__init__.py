"""Repository listers, one module per kind.

Adding a kind = one module with `create(source, settings, client_factory) -> Lister` plus one line in
`LISTER_KINDS`. Modules are imported on first use, so e.g. boto3 loads only for `ecr`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TypeVar

from ..errors import ListerError
from ..registry import RegistryClient
from .base import (
    CachedLister,
    GlobalListerSpec,
    Lister,
    ListerSettings,
    ListerSpec,
    ReportingLister,
    SourceSpec,
    cache_key,
    cap_items,
    clear_lister_cache,
    resolve_settings,
)

__all__ = [
    "LISTER_KINDS",
    "CachedLister",
    "GlobalListerSpec",
    "Lister",
    "ListerSettings",
    "ListerSpec",
    "ReportingLister",
    "SourceSpec",
    "cap_items",
    "clear_lister_cache",
    "make_lister",
    "resolve_settings",
]

S = TypeVar("S", bound=SourceSpec)
ListerFactory = Callable[[S, ListerSettings, Callable[[S], RegistryClient]], Lister]

# lister type -> module (relative to this package) holding its `create` factory
LISTER_KINDS: dict[str, str] = {
    "catalog": ".catalog",
    "dockerhub": ".dockerhub",
    "ecr": ".ecr",
    "index": ".index",
}


def _factory(kind: str) -> Callable[..., Lister]:
    module_name = LISTER_KINDS.get(kind)
    if module_name is None:
        known = ", ".join(sorted(LISTER_KINDS))
        raise ListerError(f"unknown lister type {kind!r} (known: {known})")
    module = importlib.import_module(module_name, __name__)
    factory: Callable[..., Lister] = module.create
    return factory


def make_lister(
    source: S, global_lister: GlobalListerSpec | None, client_factory: Callable[[S], RegistryClient]
) -> Lister:
    """The lister for a task's source: its kind (default `catalog`), capped at `max_items`, logged,
    and cached process-wide for `cache_duration` seconds per (registry, kind, search, auth, cap)."""
    settings = resolve_settings(source, global_lister)
    inner = _factory(settings.type)(source, settings, client_factory)
    described = f"{source.registry} ({settings.type} lister)"
    reporting = ReportingLister(inner, described, settings.max_items)
    key = cache_key(
        source.registry,
        settings.type,
        settings.search,
        source.auth,
        settings.max_items,
        tuple(getattr(source.lister, "namespaces", None) or ()),
        getattr(source.lister, "base_url", None),
        getattr(source, "role_arn", None),
        getattr(source, "region", None),
    )
    return CachedLister(reporting, key, settings.cache_duration)
