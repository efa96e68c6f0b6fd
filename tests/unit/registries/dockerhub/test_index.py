"""index lister: `/v1/search` paging (`num_pages`), where the search runs, credentials, rate limiting
and errors. Against the loopback Docker Hub API (tests/testbed/fake_hub.py) and a real registry."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
from regmirror.config import RegistryConfig, parse_config
from regmirror.errors import ListerError
from regmirror.registries.dockerhub import index
from regmirror.registries.dockerhub.index import DOCKER_HUB_INDEX_URL, IndexLister, search_base_url
from regmirror.registries.http.jsonapi import JsonApi
from regmirror.registries.listers.base import resolve_settings

from tests.testbed import RegistryServer
from tests.testbed.fake_hub import FakeHub

SEARCH = "/v1/search"


@pytest.fixture
def hub() -> Iterator[FakeHub]:
    with FakeHub() as server:
        server.add("library/jenkins", description="official jenkins", star_count=5000)
        server.add_many([f"jenkins/plugin-{i:03d}" for i in range(230)], star_count=10)
        server.add("jenkins/jnlp-slave", star_count=1)
        server.add("someone/private-jenkins", private=True)
        server.add("other/unrelated")
        yield server


def index_lister(hub: FakeHub, term: str = "jenkins", page_size: int = 100, **kw: Any) -> IndexLister:
    return IndexLister(JsonApi(hub.url, verify=True, what="search (test)", **kw), term, page_size)


def test_follows_num_pages_to_the_end(hub: FakeHub) -> None:
    names = list(index_lister(hub).list_repositories())
    assert len(names) == 232  # official + 230 plugins + jnlp-slave; private and unrelated not found
    assert names[0] == "jenkins"  # official images are named without library/
    assert names[-1] == "jenkins/jnlp-slave"  # last of three pages: dregsy would never see it
    pages = hub.requests(SEARCH)
    assert [(p.query["q"], p.query["n"], p.query["page"]) for p in pages] == [
        ("jenkins", "100", "1"),
        ("jenkins", "100", "2"),
        ("jenkins", "100", "3"),
    ]


def test_page_size_is_clamped_to_100(hub: FakeHub) -> None:
    lister = index_lister(hub, page_size=1000)
    assert len(list(lister.list_repositories())) == 232
    assert {p.query["n"] for p in hub.requests(SEARCH)} == {"100"}


def test_small_pages(hub: FakeHub) -> None:
    names = list(index_lister(hub, page_size=25).list_repositories())
    assert len(names) == len(set(names)) == 232
    assert len(hub.requests(SEARCH)) == 10


def test_no_results_is_one_request(hub: FakeHub) -> None:
    assert list(index_lister(hub, term="nothing-matches-this").list_repositories()) == []
    assert len(hub.requests(SEARCH)) == 1


class NoPageCount(FakeHub):
    """A search API that leaves out `num_pages` (some registries' implementations do)."""

    def _search(self, query: dict[str, str]) -> Any:
        status, body, headers = super()._search(query)
        body.pop("num_pages", None)
        return status, body, headers


def test_without_num_pages_pages_until_a_short_page() -> None:
    with NoPageCount() as server:
        server.add_many([f"team/app{i:02d}" for i in range(45)])
        names = list(index_lister(server, term="team", page_size=20).list_repositories())
        assert len(names) == 45
        assert [p.query["page"] for p in server.requests(SEARCH)] == ["1", "2", "3"]


def test_rate_limit_is_waited_out(hub: FakeHub) -> None:
    waits: list[float] = []
    hub.throttle(1, retry_after="3")
    assert len(list(index_lister(hub, sleep=waits.append).list_repositories())) == 232
    assert waits == [3.0]


def test_search_term_required(hub: FakeHub) -> None:
    with pytest.raises(ListerError, match=r"needs `lister\.search`"):
        index_lister(hub, term=" ")


# -- where the search runs, and with which credentials ----------------------------------------
def source_config(text: str) -> RegistryConfig:
    config = parse_config(
        "tasks:\n- name: t\n  source: " + text + "\n  target: {registry: '127.0.0.1:5000'}\n"
        "  mappings: [{from: 'regex:.*'}]\n"
    )
    return config.tasks[0].source


def b64(user: str, password: str) -> str:
    return base64.b64encode(json.dumps({"username": user, "password": password}).encode()).decode()


def test_base_url_choice() -> None:
    hub_source = source_config("{registry: registry.hub.docker.com, lister: {type: index, search: jenkins}}")
    assert search_base_url(hub_source) == DOCKER_HUB_INDEX_URL
    own = source_config("{registry: 'registry.example.com:5000', lister: {type: index, search: x}}")
    assert search_base_url(own) == "https://registry.example.com:5000"
    plain = source_config(
        "{registry: 'registry.example.com', insecure: true, lister: {type: index, search: x}}"
    )
    assert search_base_url(plain) == "http://registry.example.com"
    overridden = source_config(
        "{registry: registry.hub.docker.com, lister: {type: index, search: x, baseUrl: 'http://127.0.0.1:1/'}}"
    )
    assert search_base_url(overridden) == "http://127.0.0.1:1"


def test_credentials_go_only_to_the_registrys_own_host(hub: FakeHub) -> None:
    port = hub.url.rsplit(":", 1)[1]
    elsewhere = source_config(
        f"{{registry: '127.0.0.1:5999', auth: {b64('alice', 'pw')},"
        f" lister: {{type: index, search: jenkins, baseUrl: '{hub.url}'}}}}"
    )
    list(index.create(elsewhere, resolve_settings(elsewhere, None), lambda s: None).list_repositories())  # type: ignore[arg-type,return-value]
    assert {p.auth_scheme for p in hub.requests(SEARCH)} == {None}
    own = source_config(
        f"{{registry: '127.0.0.1:{port}', insecure: true, auth: {b64('alice', 'pw')},"
        " lister: {type: index, search: jenkins}}"
    )
    list(index.create(own, resolve_settings(own, None), lambda s: None).list_repositories())  # type: ignore[arg-type,return-value]
    assert {p.auth_scheme for p in hub.requests(SEARCH)} == {None, "Basic"}


def test_skip_tls_verify_registry_falls_back_to_plain_http(hub: FakeHub) -> None:
    port = hub.url.rsplit(":", 1)[1]
    source = source_config(
        f"{{registry: '127.0.0.1:{port}', skip-tls-verify: true, lister: {{type: index, search: jenkins}}}}"
    )
    names = list(index.create(source, resolve_settings(source, None), lambda s: None).list_repositories())  # type: ignore[arg-type,return-value]
    assert len(names) == 232


def test_registry_without_search_api_gets_a_clear_error(plain_registry: RegistryServer) -> None:
    source = source_config(
        f"{{registry: '{plain_registry.host}', insecure: true, lister: {{type: index, search: jenkins}}}}"
    )
    lister = index.create(source, resolve_settings(source, None), lambda s: None)  # type: ignore[arg-type,return-value]
    with pytest.raises(ListerError, match=r"no search API at /v1/search \(HTTP 404\)"):
        list(lister.list_repositories())


def test_unreachable_search_names_the_host() -> None:
    api = JsonApi("http://127.0.0.1:9", verify=True, what="search at http://127.0.0.1:9")
    with pytest.raises(ListerError, match=r"cannot reach http://127\.0\.0\.1:9"):
        list(IndexLister(api, "x").list_repositories())
