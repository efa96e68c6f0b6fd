"""Catalog lister against a real registry holding thousands of repositories: paging, cap, cache."""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from regmirror.config.models import GlobalListerConfig
from regmirror.config.registry import RegistryConfig
from regmirror.errors import ListerError
from regmirror.registries.distribution.client import RegistryClient
from regmirror.registries.distribution.lister import CatalogLister
from regmirror.registries.listers import make_lister

from tests.testbed import RegistryServer, push_repositories

REPOSITORY_COUNT = 2600
CATALOG = r"/v2/_catalog"


@pytest.fixture(scope="module")
def big_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RegistryServer, list[str]]]:
    """One registry with 2600 repositories (one shared tiny manifest each), shared by this module."""
    # flat-ish names: distribution walks the whole tree for every page, depth makes that slower
    names = sorted(f"org{i % 13}/app_{i}" for i in range(REPOSITORY_COUNT - 3))
    names += ["a", "zz/z", "library/x.y-z"]
    with RegistryServer(base_dir=tmp_path_factory.mktemp("big-registry")) as server:
        push_repositories(server, names, workers=8)
        yield server, sorted(names)


def source_config(server: RegistryServer, **lister: Any) -> RegistryConfig:
    data: dict[str, Any] = {"registry": server.host, "insecure": True}
    if lister:
        data["lister"] = {"type": "catalog", **lister}
    return RegistryConfig.model_validate(data)


def global_config(**values: Any) -> GlobalListerConfig:
    return GlobalListerConfig.model_validate(values)


class ClientFactory:
    """What the service passes to make_lister: one client per registry config, counted."""

    def __init__(self) -> None:
        self.clients: list[RegistryClient] = []

    def __call__(self, rc: RegistryConfig) -> RegistryClient:
        client = RegistryClient(rc.endpoint(), None, timeout=30)
        self.clients.append(client)
        return client


@pytest.mark.parametrize("page_size", [7, 100, 1000])
def test_catalog_pages_give_the_full_set(
    big_registry: tuple[RegistryServer, list[str]], page_size: int
) -> None:
    server, names = big_registry
    client = RegistryClient(source_config(server).endpoint(), None, timeout=30)
    mark = server.mark()
    listed = list(CatalogLister(client, page_size).list_repositories())
    assert listed == names  # distribution lists in lexical order, each name once
    pages = server.requests("GET", CATALOG, since=mark)
    assert len(pages) in (math.ceil(len(names) / page_size), math.ceil(len(names) / page_size) + 1)
    assert client.stats["catalog"] == len(pages)
    assert all(p.status == 200 for p in pages)


def test_page_size_over_1000_is_never_sent(big_registry: tuple[RegistryServer, list[str]]) -> None:
    server, names = big_registry
    client = RegistryClient(source_config(server).endpoint(), None, timeout=30)
    mark = server.mark()
    assert list(client.catalog(page_size=50_000)) == names
    pages = server.requests("GET", CATALOG, since=mark)
    assert len(pages) == 3
    assert all("n=1000" in p.query for p in pages)


def test_make_lister_uses_task_page_size_and_caps_with_warning(
    big_registry: tuple[RegistryServer, list[str]], caplog: pytest.LogCaptureFixture
) -> None:
    server, names = big_registry
    factory = ClientFactory()
    lister = make_lister(
        source_config(server, pageSize=50, maxItems=120), global_config(cacheDuration=-1), factory
    )
    mark = server.mark()
    with caplog.at_level(logging.INFO, logger="regmirror.listers"):
        listed = list(lister.list_repositories())
    assert listed == names[:120]
    pages = server.requests("GET", CATALOG, since=mark)
    assert len(pages) == 3  # stops paging once the cap is reached
    assert all("n=50" in p.query for p in pages)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "maxItems=120" in warnings[0]
    assert server.host in warnings[0]
    infos = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert any("returned 120 repositories in" in m for m in infos)


def test_global_settings_apply_and_no_limit(big_registry: tuple[RegistryServer, list[str]]) -> None:
    server, names = big_registry
    capped = make_lister(source_config(server), global_config(maxItems=10, pageSize=4), ClientFactory())
    assert list(capped.list_repositories()) == names[:10]
    # a task-level -1 lifts the global cap
    unlimited = make_lister(
        source_config(server, maxItems=-1), global_config(maxItems=10, pageSize=1000), ClientFactory()
    )
    assert list(unlimited.list_repositories()) == names


def test_cache_hits_until_expiry_and_can_be_disabled(big_registry: tuple[RegistryServer, list[str]]) -> None:
    server, names = big_registry
    source = source_config(server, pageSize=1000)
    mark = server.mark()
    for _ in range(3):
        lister = make_lister(source, global_config(cacheDuration="1h"), ClientFactory())
        assert list(lister.list_repositories()) == names
    assert len(server.requests("GET", CATALOG, since=mark)) == 3  # one listing of three pages

    mark = server.mark()
    for _ in range(2):
        lister = make_lister(source, global_config(cacheDuration=-1), ClientFactory())
        assert list(lister.list_repositories()) == names
    assert len(server.requests("GET", CATALOG, since=mark)) == 6  # negative: never cached

    mark = server.mark()
    short = global_config(cacheDuration="300ms", maxItems=5)
    assert list(make_lister(source, short, ClientFactory()).list_repositories()) == names[:5]
    assert list(make_lister(source, short, ClientFactory()).list_repositories()) == names[:5]
    assert len(server.requests("GET", CATALOG, since=mark)) == 1
    time.sleep(0.35)
    assert list(make_lister(source, short, ClientFactory()).list_repositories()) == names[:5]
    assert len(server.requests("GET", CATALOG, since=mark)) == 2


def test_concurrent_callers_share_one_listing(big_registry: tuple[RegistryServer, list[str]]) -> None:
    server, names = big_registry
    source = source_config(server, pageSize=1000)
    results: list[list[str]] = []
    mark = server.mark()

    def run() -> None:
        results.append(list(make_lister(source, global_config(), ClientFactory()).list_repositories()))

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert results == [names] * 4
    assert len(server.requests("GET", CATALOG, since=mark)) == 3


def test_unregistered_and_unknown_kinds(
    plain_registry: RegistryServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = RegistryConfig.model_validate(
        {"registry": plain_registry.host, "lister": {"type": "index", "search": "x"}}
    )
    monkeypatch.setattr(
        "regmirror.registries.listers.LISTER_KINDS", {"catalog": "regmirror.registries.distribution.lister"}
    )
    with pytest.raises(ListerError, match=r"unknown lister type 'index' \(known: catalog\)"):
        make_lister(source, global_config(), ClientFactory())
    odd = SimpleNamespace(
        registry=plain_registry.host,
        auth=None,
        lister=SimpleNamespace(
            type="ftp", page_size=None, max_items=None, search=None, base_url=None, namespaces=[]
        ),
    )
    with pytest.raises(ListerError, match="unknown lister type 'ftp'"):
        make_lister(odd, global_config(), ClientFactory())  # type: ignore[arg-type]


def test_catalog_default_without_lister_section(plain_registry: RegistryServer, tmp_path: Path) -> None:
    push_repositories(plain_registry, ["one/a", "two/b"])
    lister = make_lister(source_config(plain_registry), None, ClientFactory())
    assert list(lister.list_repositories()) == ["one/a", "two/b"]
