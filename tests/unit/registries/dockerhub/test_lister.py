"""dockerhub lister against the loopback Docker Hub API (tests/testbed/fake_hub.py): paging, login,
namespaces, private repositories, rate limiting and errors."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from regmirror.config import RegistryConfig, parse_config
from regmirror.errors import AuthError, ListerError
from regmirror.registries.credentials import Credentials
from regmirror.registries.dockerhub import lister as dockerhub
from regmirror.registries.dockerhub.lister import DockerHubLister
from regmirror.registries.http.jsonapi import MAX_RETRY_WAIT, MAX_THROTTLED, JsonApi, retry_after_seconds
from regmirror.registries.listers.base import resolve_settings

from tests.testbed.fake_hub import FakeHub

REPOS = r"/v2/repositories/[^/]+/"


@pytest.fixture
def hub() -> Iterator[FakeHub]:
    with FakeHub(
        users={"alice": "s3cret-pw", "bob": "bob-pw"},
        access_tokens={"dckr_pat_alice": "alice"},
        members={"acme": {"alice"}},
    ) as server:
        server.add_many([f"alice/app{i}" for i in range(5)])
        server.add("alice/private-app", private=True)
        server.add("alice/a-plugin", repository_type="plugin")
        server.add("alice/untyped", repository_type=None)
        server.add("acme/public-tool")
        server.add("acme/internal", private=True)
        server.add("bob/hidden", private=True)
        yield server


def lister(
    hub: FakeHub, creds: Credentials | None, namespaces: list[str], page_size: int = 100, **kw: object
) -> DockerHubLister:
    api = JsonApi(hub.url, verify=True, what="Docker Hub (test)", **kw)  # type: ignore[arg-type]
    return DockerHubLister(api, creds, namespaces, page_size)


def test_pages_through_own_namespace_following_next(hub: FakeHub) -> None:
    hub_lister = lister(hub, Credentials("alice", "s3cret-pw"), [], page_size=2)
    names = list(hub_lister.list_repositories())
    expected = sorted([f"alice/app{i}" for i in range(5)] + ["alice/private-app", "alice/untyped"])
    assert sorted(names) == expected  # plugin dropped, private included, untyped kept
    pages = hub.requests(REPOS, method="GET")
    assert len(pages) == 4  # 8 repositories (plugin included server-side), 2 per page
    assert [p.query.get("page", "1") for p in pages] == ["1", "2", "3", "4"]
    assert all(p.authorized_as == "alice" and p.auth_scheme == "Bearer" for p in pages)
    assert len(hub.requests("/v2/users/login", method="POST")) == 1


def test_lists_configured_organisations_too_and_deduplicates(hub: FakeHub) -> None:
    names = list(lister(hub, Credentials("alice", "s3cret-pw"), ["acme", "alice"]).list_repositories())
    assert "acme/internal" in names  # alice is a member of acme
    assert "acme/public-tool" in names
    assert len(names) == len(set(names)) == 9
    assert "bob/hidden" not in names


def test_personal_access_token_logs_in(hub: FakeHub) -> None:
    names = list(lister(hub, Credentials("alice", "dckr_pat_alice"), []).list_repositories())
    assert "alice/private-app" in names


def test_anonymous_lists_public_repositories_only(hub: FakeHub) -> None:
    names = list(lister(hub, None, ["alice", "acme", "bob"]).list_repositories())
    assert sorted(names) == sorted(
        [f"alice/app{i}" for i in range(5)] + ["alice/untyped", "acme/public-tool"]
    )
    assert not hub.requests("/v2/users/login", method="POST")
    assert all(r.auth_scheme is None for r in hub.requests(REPOS))


def test_bad_password_is_an_auth_error_without_the_password(hub: FakeHub) -> None:
    with pytest.raises(AuthError) as caught:
        list(lister(hub, Credentials("alice", "wrong-pw-123"), []).list_repositories())
    assert "login refused for user 'alice' (HTTP 401)" in str(caught.value)
    assert "wrong-pw-123" not in str(caught.value)
    assert not hub.requests(REPOS)


def test_two_factor_account_gets_a_hint() -> None:
    with FakeHub(
        users={"carol": "pw"}, access_tokens={"dckr_pat_carol": "carol"}, two_factor={"carol"}
    ) as hub:
        hub.add("carol/app", private=True)
        with pytest.raises(AuthError, match="two-factor account: use a personal access token"):
            list(lister(hub, Credentials("carol", "pw"), []).list_repositories())
        assert list(lister(hub, Credentials("carol", "dckr_pat_carol"), []).list_repositories()) == [
            "carol/app"
        ]


def test_unknown_namespace_names_it(hub: FakeHub) -> None:
    with pytest.raises(ListerError, match="namespace 'nosuchorg' not found"):
        list(lister(hub, Credentials("alice", "s3cret-pw"), ["nosuchorg"]).list_repositories())


def test_expired_token_mid_listing_logs_in_again(hub: FakeHub) -> None:
    hub_lister = lister(hub, Credentials("alice", "s3cret-pw"), [], page_size=2)
    names = hub_lister.list_repositories()
    first = next(names)
    hub.expire_tokens()
    rest = list(names)
    assert len([first, *rest]) == 7
    assert hub_lister.logins == 2
    assert [r.status for r in hub.requests(REPOS)].count(401) == 1


def test_rate_limit_waits_retry_after_then_continues(hub: FakeHub) -> None:
    waits: list[float] = []
    hub_lister = lister(hub, Credentials("alice", "s3cret-pw"), [], page_size=3, sleep=waits.append)
    hub.throttle(2, retry_after="2")
    names = list(hub_lister.list_repositories())
    assert len(names) == 7
    assert waits == [2.0, 2.0]
    assert [r.status for r in hub.requests(".*")][:3] == [429, 429, 200]


def test_rate_limit_wait_is_bounded(hub: FakeHub) -> None:
    waits: list[float] = []
    hub.throttle(1, retry_after="86400")
    names = list(lister(hub, None, ["acme"], sleep=waits.append).list_repositories())
    assert names == ["acme/public-tool"]
    assert waits == [MAX_RETRY_WAIT]


def test_endless_rate_limiting_gives_up_with_a_clear_error(hub: FakeHub) -> None:
    waits: list[float] = []
    hub.throttle(100, retry_after="1")
    with pytest.raises(ListerError, match="still rate limited"):
        list(lister(hub, None, ["acme"], sleep=waits.append).list_repositories())
    assert len(waits) == MAX_THROTTLED


def test_retry_after_http_date() -> None:
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == pytest.approx(10.0)
    assert retry_after_seconds("120") == 120.0
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None


class OtherHostLinks(FakeHub):
    """Answers with `next` links to another host, as a compromised or misconfigured API might."""

    @property
    def url(self) -> str:
        return "http://127.0.0.2:9"

    @property
    def real_url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"


def test_next_link_to_another_host_is_refused() -> None:
    with OtherHostLinks(users={"alice": "pw"}) as evil:
        evil.add_many([f"alice/app{i}" for i in range(3)])
        api = JsonApi(evil.real_url, verify=True, what="Docker Hub (test)")
        with pytest.raises(ListerError, match="refusing to follow a next link to another host"):
            list(DockerHubLister(api, Credentials("alice", "pw"), [], page_size=1).list_repositories())


def test_needs_auth_or_namespaces() -> None:
    with pytest.raises(ListerError, match="needs `auth`"):
        DockerHubLister(JsonApi("http://127.0.0.1:9", verify=True, what="x"), None, [])


def test_invalid_namespace_is_refused() -> None:
    with pytest.raises(ListerError, match="invalid namespace"):
        DockerHubLister(JsonApi("http://127.0.0.1:9", verify=True, what="x"), None, ["Bad/Name"])


# -- built from the config --------------------------------------------------------------------
def b64(user: str, password: str) -> str:
    return base64.b64encode(json.dumps({"username": user, "password": password}).encode()).decode()


def source_config(text: str) -> RegistryConfig:
    config = parse_config(
        "tasks:\n- name: t\n  source: " + text + "\n  target: {registry: '127.0.0.1:5000'}\n"
        "  mappings: [{from: 'regex:.*'}]\n"
    )
    return config.tasks[0].source


def test_create_from_config_uses_base_url_and_clamps_page_size(hub: FakeHub) -> None:
    source = source_config(
        f"{{registry: registry.hub.docker.com, auth: {b64('alice', 's3cret-pw')},"
        f" lister: {{type: dockerhub, baseUrl: '{hub.url}', namespaces: [acme], pageSize: 500}}}}"
    )
    built = dockerhub.create(source, resolve_settings(source, None), lambda s: None)  # type: ignore[arg-type,return-value]
    names = list(built.list_repositories())
    assert "acme/internal" in names
    assert "alice/private-app" in names
    assert {r.query["page_size"] for r in hub.requests(REPOS)} == {"100"}


def test_tls_verification_uses_the_configured_ca_not_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with FakeHub(users={"alice": "pw"}, tls_dir=tmp_path / "tls") as tls_hub:
        tls_hub.add("alice/app")
        assert tls_hub.ca_file is not None
        # The environment trusts the hub's CA; the lister must not let that decide.
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", tls_hub.ca_file)
        plain = source_config(
            f"{{registry: registry.hub.docker.com, auth: {b64('alice', 'pw')},"
            f" lister: {{type: dockerhub, baseUrl: '{tls_hub.url}'}}}}"
        )
        untrusting = dockerhub.create(plain, resolve_settings(plain, None), lambda s: None)  # type: ignore[arg-type,return-value]
        with pytest.raises(ListerError, match="cannot reach"):
            list(untrusting.list_repositories())
        with_ca = source_config(
            f"{{registry: registry.hub.docker.com, auth: {b64('alice', 'pw')}, ca-file: '{tls_hub.ca_file}',"
            f" lister: {{type: dockerhub, baseUrl: '{tls_hub.url}'}}}}"
        )
        trusting = dockerhub.create(with_ca, resolve_settings(with_ca, None), lambda s: None)  # type: ignore[arg-type,return-value]
        assert list(trusting.list_repositories()) == ["alice/app"]
