"""Distribution reference grammar: repository paths, tags, digests, registry hosts."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from regmirror.rules.refs import (
    repository_problem,
    tag_problem,
    valid_digest,
    valid_reference_suffix,
    valid_registry_host,
    valid_repository,
    valid_tag,
)

SHA256 = "sha256:" + "a" * 64


@pytest.mark.parametrize(
    "name",
    [
        "busybox",
        "library/busybox",
        "myproject/webui",
        "a/b/c/d/e",
        "a.b",
        "a_b",
        "a__b",
        "a-b",
        "a--b",
        "a---b",
        "0",
        "jenkins/jnlp-slave",
        "foo.bar_baz-qux/x9",
        "a" * 255,
    ],
)
def test_valid_repositories(name: str) -> None:
    assert valid_repository(name)
    assert repository_problem(name) is None


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("", "it is empty"),
        ("a" * 256, "256 characters long"),
        ("-a", "starts or ends with '-'"),
        ("a-", "starts or ends with '-'"),
        (".a", "starts or ends with '.'"),
        ("a_", "starts or ends with '_'"),
        ("a..b", "separator '..'"),
        ("a.-b", "separator '.-'"),
        ("a___b", "separator '___'"),
        ("a._b", "separator '._'"),
        ("a/../b", "starts or ends with '.'"),
        ("Foo/bar", "upper-case"),
        ("/a", "empty path component"),
        ("a/", "empty path component"),
        ("a//b", "empty path component"),
        ("a b", "not allowed in a repository name: ' '"),
        ("a:b", "not allowed"),
        ("a@b", "not allowed"),
        ("é", "not allowed"),
    ],
)
def test_invalid_repositories(name: str, problem: str) -> None:
    assert not valid_repository(name)
    found = repository_problem(name)
    assert found is not None
    assert problem in found


@pytest.mark.parametrize("tag", ["latest", "1.2.3", "v1.2.3-rc.1", "_x", "A", "a" * 128, "1__2..3--4"])
def test_valid_tags(tag: str) -> None:
    assert valid_tag(tag)
    assert tag_problem(tag) is None


@pytest.mark.parametrize(
    ("tag", "problem"),
    [
        ("", "empty"),
        ("a" * 129, "129 characters long"),
        (".x", "starts with '.'"),
        ("-x", "starts with '-'"),
        ("a b", "characters other than"),
        ("a+b", "characters other than"),
        ("a@b", "characters other than"),
        ("é", "characters other than"),
    ],
)
def test_invalid_tags(tag: str, problem: str) -> None:
    assert not valid_tag(tag)
    found = tag_problem(tag)
    assert found is not None
    assert problem in found


@pytest.mark.parametrize(
    ("digest", "valid"),
    [
        (SHA256, True),
        ("sha256:" + "0123456789abcdef" * 4, True),
        ("sha384:" + "b" * 96, True),
        ("sha512:" + "c" * 128, True),
        ("sha256:" + "a" * 63, False),
        ("sha256:" + "a" * 65, False),
        ("sha256:" + "A" * 64, False),
        ("sha256:" + "g" * 64, False),
        ("sha512:" + "c" * 64, False),
        ("md5:" + "a" * 32, False),
        ("a" * 64, False),
        ("sha256", False),
        ("", False),
    ],
)
def test_digests(digest: str, valid: bool) -> None:
    assert valid_digest(digest) is valid


@pytest.mark.parametrize(
    ("entry", "valid"),
    [
        ("latest", True),
        (SHA256, True),
        (f"1.2@{SHA256}", True),
        (f"@{SHA256}", False),
        ("1.2@sha256:abc", False),
        ("a b", False),
        ("", False),
    ],
)
def test_reference_suffixes(entry: str, valid: bool) -> None:
    assert valid_reference_suffix(entry) is valid


@pytest.mark.parametrize(
    ("host", "valid"),
    [
        ("localhost", True),
        ("localhost:5000", True),
        ("127.0.0.1:5000", True),
        ("registry.example.com", True),
        ("my-registry.example.com:443", True),
        ("123456789012.dkr.ecr.eu-west-1.amazonaws.com", True),
        ("[::1]:5000", True),
        ("[::1]", True),
        ("[2001:db8::1]:443", True),
        ("", False),
        (":5000", False),
        ("localhost:", False),
        ("localhost:0", False),
        ("localhost:65536", False),
        ("localhost:50a", False),
        ("-bad.example.com", False),
        ("bad-.example.com", False),
        ("a..b", False),
        ("under_score.example.com", False),
        ("[::1", False),
        ("[::1]x", False),
        ("[zz::1]:5000", False),
        ("::1", False),
        ("host/path", False),
        ("a" * 64 + ".com", False),
        ("https://registry.example.com", False),
    ],
)
def test_registry_hosts(host: str, valid: bool) -> None:
    assert valid_registry_host(host) is valid


# --- properties ---------------------------------------------------------------------------------
# (deadline=None: CI and dev machines share CPUs; a slow example is not a failure.)

candidate_names = st.text(alphabet="ab0._-/A ", max_size=24)


@settings(deadline=None)
@given(candidate_names)
def test_problem_and_validity_agree(name: str) -> None:
    assert valid_repository(name) == (repository_problem(name) is None)


@settings(deadline=None)
@given(candidate_names)
def test_accepted_names_are_safe(name: str) -> None:
    if valid_repository(name):
        assert not name.startswith(("-", ".", "_", "/"))
        assert ".." not in name
        assert "//" not in name
        assert name == name.lower()
        assert all(part and part[0].isalnum() and part[-1].isalnum() for part in name.split("/"))


alnum_runs = st.text(alphabet="abz019", min_size=1, max_size=6)
separators = st.sampled_from([".", "_", "__", "-", "--", "---"])
components = st.builds(
    lambda first, rest: first + "".join(sep + run for sep, run in rest),
    alnum_runs,
    st.lists(st.tuples(separators, alnum_runs), max_size=3),
)


@settings(deadline=None)
@given(st.lists(components, min_size=1, max_size=12).map("/".join))
def test_grammar_names_are_accepted(name: str) -> None:
    assert valid_repository(name) == (len(name) <= 255)


@settings(deadline=None)
@given(st.text(alphabet="aZ9_.-+@ ", max_size=140))
def test_accepted_tags_are_safe(tag: str) -> None:
    if valid_tag(tag):
        assert not tag.startswith(("-", "."))
        assert 1 <= len(tag) <= 128
    assert valid_tag(tag) == (tag_problem(tag) is None)


def test_validation_is_linear_on_hostile_input() -> None:
    # `[a-z0-9]+(?:[-]*[a-z0-9]+)*` backtracks exponentially in Python's `re`; RE2 does not.
    hostile = "a" * 50_000 + "!"
    started = time.monotonic()
    assert not valid_repository("a" * 254 + "!")
    assert not valid_repository("a-" * 127 + "!")
    assert repository_problem(hostile) is not None
    assert not valid_tag(hostile)
    assert time.monotonic() - started < 2.0
