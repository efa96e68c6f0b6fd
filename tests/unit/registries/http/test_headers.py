"""Header and answer parsing of the registry client, and the lister helpers, without a network."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st
from regmirror.errors import RegistryError
from regmirror.registries.http.body import parse_json
from regmirror.registries.http.challenge import Challenge, parse_www_authenticate
from regmirror.registries.http.links import parse_link_next
from regmirror.registries.http.tokens import token_from_answer
from regmirror.registries.listers.base import (
    CachedLister,
    ListerSettings,
    cache_key,
    cap_items,
    clear_lister_cache,
    resolve_settings,
)


# -- Link -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ('</v2/_catalog?last=b&n=2>; rel="next"', "/v2/_catalog?last=b&n=2"),
        ("</v2/_catalog?last=b&n=2>; rel=next", "/v2/_catalog?last=b&n=2"),
        ('<https://r.example/v2/x/tags/list?last=9>;rel="next"', "https://r.example/v2/x/tags/list?last=9"),
        ('<https://a/1>; rel="prev", <https://a/3>; rel="next"', "https://a/3"),
        ('<https://a/3>; title="x, y"; rel="next"', "https://a/3"),
        ('<https://a/3>; rel="last next"', "https://a/3"),
        ('<https://a/3>; REL="Next"', "https://a/3"),
        ('<https://a/1>; rel="prev"', None),
        ('<https://a/1>; rel="nextpage"', None),
        ("", None),
        (None, None),
        ("garbage without brackets", None),
    ],
)
def test_parse_link_next(header: str | None, expected: str | None) -> None:
    assert parse_link_next(header) == expected


@given(st.text(max_size=200))
def test_parse_link_next_never_crashes(header: str) -> None:
    result = parse_link_next(header)
    assert result is None or isinstance(result, str)


# -- WWW-Authenticate -------------------------------------------------------------------------
def test_bearer_challenge_docker_hub_style() -> None:
    header = (
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
        'scope="repository:library/alpine:pull"'
    )
    assert parse_www_authenticate(header) == [
        Challenge(
            "bearer",
            {
                "realm": "https://auth.docker.io/token",
                "service": "registry.docker.io",
                "scope": "repository:library/alpine:pull",
            },
        )
    ]


def test_bearer_challenge_with_error_and_spaces() -> None:
    header = (
        'Bearer realm="http://127.0.0.1:1/token", service="svc", scope="registry:catalog:*", '
        'error="insufficient_scope"'
    )
    (challenge,) = parse_www_authenticate(header)
    assert challenge.params["scope"] == "registry:catalog:*"
    assert challenge.params["error"] == "insufficient_scope"


def test_basic_challenge_and_several_challenges() -> None:
    assert parse_www_authenticate('Basic realm="basic-realm"') == [
        Challenge("basic", {"realm": "basic-realm"})
    ]
    both = parse_www_authenticate('Basic realm="a", Bearer realm="https://t/x",service="s"')
    assert [c.scheme for c in both] == ["basic", "bearer"]
    assert both[1].params == {"realm": "https://t/x", "service": "s"}


def test_quoted_commas_and_escapes() -> None:
    (challenge,) = parse_www_authenticate(
        r'Bearer realm="https://t/x",scope="repository:a:pull,push",x="q\"y"'
    )
    assert challenge.params["scope"] == "repository:a:pull,push"
    assert challenge.params["x"] == 'q"y'


def test_scheme_without_params_and_empty() -> None:
    assert parse_www_authenticate("Negotiate") == [Challenge("negotiate", {})]
    assert parse_www_authenticate("") == []
    assert parse_www_authenticate(None) == []


@given(st.text(max_size=200))
def test_parse_www_authenticate_never_crashes(header: str) -> None:
    for challenge in parse_www_authenticate(header):
        assert challenge.scheme == challenge.scheme.lower()


# -- token answers and JSON ---------------------------------------------------------------------
def test_token_answer_fields() -> None:
    assert token_from_answer({"token": "t", "expires_in": 300}) == ("t", 300.0)
    assert token_from_answer({"access_token": "a"}) == ("a", 60.0)  # Docker's default lifetime
    assert token_from_answer({"token": "t", "access_token": "a", "expires_in": -5}) == ("t", 60.0)
    for bad in ({}, {"token": ""}, {"token": 5}, [], "x"):
        with pytest.raises(ValueError, match="token"):
            token_from_answer(bad)


def test_parse_json_errors_are_registry_errors() -> None:
    assert parse_json(b'{"a": 1}', "x") == {"a": 1}
    for bad in (b"{", b"\xff\xfe", b"[" * 100_000):
        with pytest.raises(RegistryError, match="malformed JSON"):
            parse_json(bad, "catalog")


# -- lister helpers ----------------------------------------------------------------------------
def test_cap_items_warns_only_when_cutting(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("test.cap")
    consumed: list[int] = []

    def names() -> Iterator[str]:
        for i in range(100):
            consumed.append(i)
            yield f"n{i}"

    with caplog.at_level(logging.WARNING, logger="test.cap"):
        assert list(cap_items(names(), 5, logger, "reg")) == [f"n{i}" for i in range(5)]
        assert len(consumed) == 6  # stops right after seeing there is more
        assert list(cap_items(["a", "b"], 2, logger, "reg")) == ["a", "b"]
        assert list(cap_items(["a", "b"], None, logger, "reg")) == ["a", "b"]
        assert list(cap_items(["a", "b"], -1, logger, "reg")) == ["a", "b"]
    assert [r.getMessage() for r in caplog.records] == [
        "reg: lister stopped at maxItems=5; more repositories exist and are left out "
        "(raise lister.maxItems, or set it to -1 for no limit)"
    ]


class _CountingLister:
    def __init__(self, names: list[str]) -> None:
        self.names = names
        self.calls = 0

    def list_repositories(self) -> Iterator[str]:
        self.calls += 1
        yield from self.names


def test_cached_lister_expiry_and_off() -> None:
    clear_lister_cache()
    inner = _CountingLister(["a", "b"])
    key = cache_key("unit", time.monotonic())
    assert list(CachedLister(inner, key, 0.2).list_repositories()) == ["a", "b"]
    assert list(CachedLister(inner, key, 0.2).list_repositories()) == ["a", "b"]
    assert inner.calls == 1
    time.sleep(0.25)
    assert list(CachedLister(inner, key, 0.2).list_repositories()) == ["a", "b"]
    assert inner.calls == 2
    off = _CountingLister(["x"])
    for duration in (-1.0, 0.0, None):
        assert list(CachedLister(off, key + "off", duration).list_repositories()) == ["x"]
    assert off.calls == 3
    clear_lister_cache()


class _Spec:
    kind = None  # no kind named in the config: the host tells

    def __init__(self, **values: object) -> None:
        self.__dict__.update(values)


def test_resolve_settings_precedence() -> None:
    glob = _Spec(max_items=50, cache_duration=3600.0, page_size=200, page_limit=10_000, name_limit=1_000_000)
    plain = _Spec(registry="r", auth=None, lister=None, is_ecr=False, is_public_ecr=False)
    assert resolve_settings(plain, glob) == ListerSettings("catalog", 200, 50, 3600.0, None)  # type: ignore[arg-type]
    local = _Spec(
        registry="r",
        auth=None,
        is_ecr=False,
        is_public_ecr=False,
        lister=_Spec(type="index", page_size=7, max_items=-1, search="x"),
    )
    assert resolve_settings(local, glob) == ListerSettings("index", 7, -1, 3600.0, "x")  # type: ignore[arg-type]
    ecr = _Spec(
        registry="1.dkr.ecr.eu-west-1.amazonaws.com", auth=None, lister=None, is_ecr=True, is_public_ecr=False
    )
    assert resolve_settings(ecr, None).type == "ecr"  # type: ignore[arg-type]
    assert resolve_settings(plain, None) == ListerSettings("catalog", 1000, None, 0.0, None)  # type: ignore[arg-type]
