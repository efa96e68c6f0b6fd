"""Repository listers: the table of lister kinds (each registry kind's folder holds its own lister).

Adding a kind = one module with `create(source, settings, client_factory) -> Lister` plus one line in
`LISTER_KINDS`. Modules are imported on first use, so e.g. boto3 loads only for `ecr`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from regmirror.errors import ListerError
from regmirror.extras import load
from regmirror.registries.distribution.client import RegistryClient
from regmirror.registries.listers.base import (
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

# lister type -> module holding its `create` factory (each registry kind's folder has its lister)
LISTER_KINDS: dict[str, str] = {
    "catalog": "regmirror.registries.distribution.lister",
    "dockerhub": "regmirror.registries.dockerhub.lister",
    "ecr": "regmirror.registries.ecr.lister",
    "index": "regmirror.registries.dockerhub.index",
}


def _factory(kind: str) -> Callable[..., Lister]:
    module_name = LISTER_KINDS.get(kind)
    if module_name is None:
        known = ", ".join(sorted(LISTER_KINDS))
        raise ListerError(f"unknown lister type {kind!r} (known: {known})")
    module = load(module_name, f"the {kind} lister")
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
        tuple(source.lister.namespaces if source.lister else ()),
        source.lister.base_url if source.lister else None,
        source.role_arn,
        source.region,
    )
    return CachedLister(reporting, key, settings.cache_duration)
