"""`from` / `to` semantics (dregsy) and Go regexp replacement semantics, on RE2."""

from __future__ import annotations

import time

import pytest
import re2
from hypothesis import given, settings
from hypothesis import strategies as st
from regmirror.rules.goregex import GoRegexp, RegexError, parse_template, search
from regmirror.rules.match import FromMatcher, Rewrite, ToRewriter, dregsy_anchor, go_expand, go_replace_all

# (pattern, replacement, input, Go's ReplaceAllString output). Expected values follow Go's
# documented rules (regexp.Expand, ReplaceAllString) and its example/test tables.
GO_REPLACE_CASES = [
    # Go doc example of ReplaceAllString.
    ("a(x*)b", "T", "-ab-axxb-", "-T-T-"),
    ("a(x*)b", "$1", "-ab-axxb-", "--xx-"),
    ("a(x*)b", "$1W", "-ab-axxb-", "---"),  # `$1W` is the group named "1W": none, so empty
    ("a(x*)b", "${1}W", "-ab-axxb-", "-W-xxW-"),
    ("a(?P<1W>x*)b", "$1W", "-ab-axxb-", "--xx-"),
    ("a(?P<1W>x*)b", "${1}W", "-ab-axxb-", "-W-xxW-"),
    # Empty matches: one right after a match is not replaced; the search moves on a character.
    ("a*", "X", "baaac", "XbXcX"),
    ("", "x", "abc", "xaxbxcx"),
    ("", "x", "", "x"),
    ("", "", "abc", "abc"),
    ("b", "x", "abc", "axc"),
    ("b", "x", "", ""),
    ("y", "x", "abc", "abc"),
    ("[a-c]*", "x", "def", "xdxexfx"),
    ("[a-c]+", "x", "abcbcdcdedef", "xdxdedef"),
    ("[a-c]*", "x", "abcbcdcdedef", "xdxdxexdxexfx"),
    ("x*", "-", "abc", "-a-b-c-"),
    # Multi-byte characters: never match inside a character.
    ("[a-c]*", "x", "\u65e5", "x\u65e5x"),
    ("[^\u65e5]", "x", "abc\u65e5def", "xxx\u65e5xxx"),
    ("", "-", "é日", "-é-日-"),
    # Start and end of text: `^` only at 0 even when searching further on; `$` only at the end.
    ("^[a-c]*", "x", "abcdabc", "xdabc"),
    ("[a-c]*$", "x", "abcdabc", "abcdx"),
    ("^[a-c]*$", "x", "abcdabc", "abcdabc"),
    ("^[a-c]*", "x", "dabce", "xdabce"),
    ("[a-c]*$", "x", "dabce", "dabcex"),
    ("^[a-c]+", "x", "dabce", "dabce"),
    ("^[a-c]*", "x", "", "x"),
    ("^[a-c]+", "x", "", ""),
    ("a$", "x", "a\n", "a\n"),  # Go's `$` is end of text, not "before a final newline"
    # Other cases.
    ("abc", "def", "abcdefg", "defdefg"),
    ("bc", "BC", "abcbcdcdedef", "aBCBCdcdedef"),
    ("abc", "", "abcdabc", "d"),
    ("x", "xXx", "xxxXxxx", "xXxxXxxXxXxXxxXxxXx"),
    (".+", "x", "abc", "x"),
    # Substitutions.
    ("a+", "($0)", "banana", "b(a)n(a)n(a)"),
    ("a+", "(${0})", "banana", "b(a)n(a)n(a)"),
    ("a+", "(${0})$0", "banana", "b(a)an(a)an(a)a"),
    ("hello, (.+)", "goodbye, ${1}", "hello, world", "goodbye, world"),
    ("hello, (.+)", "goodbye, $1x", "hello, world", "goodbye, "),
    ("hello, (.+)", "goodbye, ${1}x", "hello, world", "goodbye, worldx"),
    ("hello, (.+)", "<$0><$1><$2><$3>", "hello, world", "<hello, world><world><><>"),
    ("hello, (?P<noun>.+)", "goodbye, $noun!", "hello, world", "goodbye, world!"),
    ("hello, (?P<noun>.+)", "goodbye, ${noun}", "hello, world", "goodbye, world"),
    ("(?P<x>hi)|(?P<x>bye)", "$x$x$x", "hi", "hihihi"),
    ("(?P<x>hi)|(?P<x>bye)", "$x$x$x", "bye", "byebyebye"),  # first *taking part* group of that name
    ("(?P<x>hi)|(?P<y>bye)", "$x$x$x", "bye", ""),
    ("(?P<x>hi)|(?P<y>bye)", "$y$y$y", "bye", "byebyebye"),
    ("(hi)|(bye)", "$1$1$1", "bye", ""),
    ("(hi)|(bye)", "$2$2$2", "bye", "byebyebye"),
    ("(?:hi)|(?:bye)", "$1$1$1", "hi", ""),
    ("(hi)|(bye)", "$$$$$$", "hi", "$$$"),
    ("(x)?", "$1", "123", "123"),
    ("abc", "$1", "123", "123"),
    ("(a)(b){0}(c)", ".$1|$3.", "xacxacx", "x.a|c.x.a|c.x"),
    ("(a)(b){0}(c)", ".$2|$3.", "xacxacx", "x.|c.x.|c.x"),
    ("((a(b){0}){3}){5}(h)", "y caramb$2", "say aaaaaaaaaaaaaaaah", "say ay caramba"),
    # Malformed references stay as text.
    ("a+", "${oops", "aaa", "${oops"),
    ("a+", "$$", "aaa", "$"),
    ("a+", "$", "aaa", "$"),
    ("a+", "$}", "aaa", "$}"),
    ("a+", "${}", "aaa", "${}"),
    # Numbers: leading zero or ten digits make a *name*; `\1` is no reference in Go.
    ("(a+)", "[$01]", "aaa", "[]"),
    ("(a+)", "[$1]", "aaa", "[aaa]"),
    ("(a+)", "[$1234567890]", "aaa", "[]"),
    ("(a+)", r"[\1]", "aaa", r"[\1]"),
    ("(a+)", r"[\g<1>]", "aaa", r"[\g<1>]"),
    ("(?P<n_1>a+)", "[$n_1-]", "aaa", "[aaa-]"),
    ("(?P<n>a+)", "[$n-x]", "aaa", "[aaa-x]"),
    ("(?P<é>a+)", "[$é]", "aaa", "[aaa]"),  # a letter outside ASCII is part of a name
]


@pytest.mark.parametrize(("pattern", "repl", "text", "expected"), GO_REPLACE_CASES)
def test_go_replace_all_matches_go(pattern: str, repl: str, text: str, expected: str) -> None:
    assert go_replace_all(pattern, repl, text) == expected


def test_go_replace_all_accepts_a_compiled_pattern() -> None:
    assert go_replace_all(GoRegexp("o"), "0", "foo") == "f00"


def test_go_expand_on_one_match() -> None:
    match = search("(?P<year>[0-9]{4})-(?P<month>[0-9]{2})", "on 2024-05 and 2025-06")
    assert match is not None
    assert go_expand("$month/$year ${1}$$ $2x ${9}", match) == "05/2024 2024$  "
    assert match.group(0) == b"2024-05"
    assert match.group(7) is None
    assert search("z", "abc") is None


def test_template_pieces() -> None:
    pieces = parse_template("a$1b${name}c$$d$")
    assert [p if isinstance(p, str) else (p.number, p.name) for p in pieces] == [
        "a",
        (-1, "1b"),
        (-1, "name"),
        "c$d$",
    ]


def test_bad_regex_is_a_value_error_with_re2_reason() -> None:
    with pytest.raises(RegexError) as info:
        GoRegexp("a(b")
    assert info.value.reason == "missing ): a(b"
    assert isinstance(info.value, ValueError)
    with pytest.raises(ValueError, match="invalid perl operator"):
        GoRegexp("(?=x)")  # look-ahead is not RE2


# --- from ---------------------------------------------------------------------------------------


def test_dregsy_anchor_adds_missing_anchors_only() -> None:
    assert dregsy_anchor("a.*") == "^a.*$"
    assert dregsy_anchor("^a.*") == "^a.*$"
    assert dregsy_anchor("a.*$") == "^a.*$"
    assert dregsy_anchor("^a$") == "^a$"


@pytest.mark.parametrize(
    ("spec", "name", "expected"),
    [
        ("regex:jenkins/jnlp-.*", "jenkins/jnlp-slave", True),
        ("regex:jenkins/jnlp-.*", "xjenkins/jnlp-slave", False),
        ("regex:jenkins/jnlp-.*", "jenkins/jnlp", False),
        ("regex:myproject/.*", "myproject/webui", True),
        ("regex:myproject/.*", "other/myproject/webui", False),
        ("regex:^myproject/.*$", "myproject/webui", True),
        ("regex:web", "myproject/webui", False),  # anchored: no substring match
        ("regex:.*web.*", "myproject/webui", True),
        ("regex:(?i)MyProject/.*", "myproject/webui", True),
        ("regex:library/(busybox|alpine)", "library/alpine", True),
        ("regex:library/(busybox|alpine)", "library/alpine2", False),
        # dregsy anchors by text: `^a|b$` — the anchors bind to the outer alternatives only.
        ("regex:foo|bar", "foo", True),
        ("regex:foo|bar", "foox", True),
        ("regex:foo|bar", "xbar", True),
        ("regex:foo|bar", "xfoo", False),
        ("myproject/webui", "myproject/webui", True),
        ("/myproject/webui", "myproject/webui", True),
        ("myproject/webui", "myproject/webui2", False),
    ],
)
def test_from_matches(spec: str, name: str, expected: bool) -> None:
    assert FromMatcher.parse(spec).matches(name) is expected


def test_from_kinds_and_plain_path() -> None:
    regex = FromMatcher.parse("regex:a/.*")
    assert regex.is_regex
    assert regex.regexp is not None
    assert regex.regexp.pattern == "^a/.*$"
    with pytest.raises(ValueError, match="is a regex"):
        regex.plain_path()
    plain = FromMatcher.parse("/library/busybox")
    assert not plain.is_regex
    assert plain.plain_path() == "library/busybox"


def test_from_notes_dregsy_anchoring_caveats() -> None:
    assert "top-level '|'" in FromMatcher.parse("regex:foo|bar").note
    assert FromMatcher.parse("regex:(foo|bar)").note == ""
    assert FromMatcher.parse(r"regex:a[|]b").note == ""
    assert FromMatcher.parse(r"regex:a\|b").note == ""
    assert "escaped '$'" in FromMatcher.parse(r"regex:price\$").note
    assert FromMatcher.parse("regex:a/.*").note == ""


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "'from' is empty"),
        ("  ", "'from' is empty"),
        ("regex:", "no regular expression"),
        ("regex:(", "invalid regular expression '\\(': missing \\)"),
        ("regex:a{2,1}", "invalid regular expression"),
        ("regex:(?<=a)b", "invalid regular expression"),
        ("MyProject/webui", "upper-case"),
        ("a//b", "empty path component"),
        ("busybox:latest", "not allowed"),
        ("-lead/x", "starts or ends with '-'"),
    ],
)
def test_from_errors(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        FromMatcher.parse(spec)


# --- to -----------------------------------------------------------------------------------------


def rewrite(to: str | None, path: str, *, from_is_regex: bool = True) -> Rewrite:
    return ToRewriter.parse(to, from_is_regex=from_is_regex).rewrite(path)


def test_worked_examples_from_the_reference() -> None:
    assert rewrite("regex:my(.+)/,from-dh/your$1/", "myproject/webui").path == "from-dh/yourproject/webui"
    from_ = FromMatcher.parse("regex:jenkins/jnlp-.*")
    assert from_.matches("jenkins/jnlp-slave")
    to = ToRewriter.parse("regex:jenkins/,dh/other-jenkins/", from_is_regex=from_.is_regex)
    assert to.rewrite("jenkins/jnlp-slave") == Rewrite("dh/other-jenkins/jnlp-slave")
    assert rewrite("ecr", "myproject/webui") == Rewrite("ecr/myproject/webui")


@pytest.mark.parametrize(
    ("to", "from_is_regex", "path", "expected"),
    [
        (None, True, "myproject/webui", "myproject/webui"),
        ("", False, "myproject/webui", "myproject/webui"),
        ("ecr/", True, "myproject/webui", "ecr/myproject/webui"),
        ("/ecr/", True, "myproject/webui", "ecr/myproject/webui"),
        ("/mirror/team", True, "myproject/webui", "mirror/team/myproject/webui"),
        ("archive/test/image", False, "test/image", "archive/test/image"),
        ("/archive/test/image/", False, "test/image", "archive/test/image"),
        # regex `to` sees the path with its leading "/".
        ("regex:^/,/mirror/", True, "a/b", "mirror/a/b"),
        ("regex:^/(.*)$,x/$1", True, "a/b", "x/a/b"),
        ("regex:/,_", True, "a/b", "_a_b"),  # every match replaced; the leading "/" is one of them
        ("regex:/,/", True, "a/b", "a/b"),
        ("regex:b$,c", True, "a/b", "a/c"),
        ("regex:(?P<ns>[^/]+)/(?P<img>.+),${img}-from-${ns}", True, "team/web", "web-from-team"),
        ("regex:a,b,c", True, "a/x", "b,c/x"),  # split at the first comma only
        ("regex:^/[^/]+,", True, "team/web", "web"),  # result "/web" loses its leading "/"
        ("regex:(x)?,$1", True, "a/b", "a/b"),
    ],
)
def test_to_rewrites(to: str | None, from_is_regex: bool, path: str, expected: str) -> None:
    result = rewrite(to, path, from_is_regex=from_is_regex)
    assert result.path == expected
    assert result.matched


def test_capture_groups_of_from_do_not_reach_to() -> None:
    assert FromMatcher.parse("regex:(team)/(web)").matches("team/web")
    # `to` has no groups of its own, so $1 and $2 expand to nothing.
    assert rewrite("regex:/web,/w$1$2", "team/web") == Rewrite("team/w")


def test_to_regex_without_match_leaves_the_path_and_explains() -> None:
    result = rewrite("regex:^myproject/,other/", "myproject/webui")
    assert result.path == "myproject/webui"
    assert not result.matched
    assert "matched nothing in '/myproject/webui'" in result.note
    assert "starts with '/'" in result.note
    plain_miss = rewrite("regex:nothere,x", "myproject/webui")
    assert not plain_miss.matched
    assert "starts with '/'" not in plain_miss.note
    assert "starts with '/'" not in rewrite("regex:^/nothere,x", "a").note


def test_to_rewrite_reports_an_invalid_result() -> None:
    result = rewrite("regex:web,WEB", "team/web")
    assert result.path == "team/WEB"
    assert result.matched
    assert "not a valid repository path" in result.note
    assert "upper-case" in result.note


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("regex:abc", "needs a replacement"),
        ("regex:(,x", "invalid regular expression '\\(': missing \\)"),
        ("/", "no repository path"),
        ("Ecr", "upper-case"),
        ("a b", "not allowed"),
    ],
)
def test_to_errors(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ToRewriter.parse(spec, from_is_regex=True)


# --- properties ---------------------------------------------------------------------------------
# (deadline=None: CI and dev machines share CPUs; a slow example is not a failure.)

texts = st.text(alphabet="ab/é日$\\-", max_size=20)
literal = st.text(alphabet="ab/é.*+?()[]|^", min_size=1, max_size=4)
plain_repl = st.text(alphabet="xy/é\\{}", max_size=4)


@settings(deadline=None)
@given(literal, plain_repl, texts)
def test_literal_pattern_replaces_like_str_replace(needle: str, repl: str, text: str) -> None:
    assert go_replace_all(re2.escape(needle), repl, text) == text.replace(needle, repl)


@settings(deadline=None)
@given(plain_repl, texts)
def test_empty_pattern_inserts_between_every_character(repl: str, text: str) -> None:
    expected = repl + repl.join(text) + repl if text else repl
    assert go_replace_all("", repl, text) == expected


@settings(deadline=None)
@given(st.from_regex(r"[a-z0-9]{1,8}(/[a-z0-9]{1,8}){0,3}", fullmatch=True))
def test_escaped_name_matches_itself_only(name: str) -> None:
    matcher = FromMatcher.parse("regex:" + re2.escape(name))
    assert matcher.matches(name)
    assert not matcher.matches(name + "x")
    assert not matcher.matches("x" + name)


@settings(deadline=None)
@given(
    st.from_regex(r"[a-z0-9]{1,8}(/[a-z0-9]{1,8}){0,2}", fullmatch=True),
    st.from_regex(r"[a-z0-9]{1,8}(/[a-z0-9]{1,8}){0,3}", fullmatch=True),
)
def test_prefix_and_identity_rewrites(prefix: str, path: str) -> None:
    assert rewrite(prefix, path).path == f"{prefix}/{path}"
    assert rewrite(f"/{prefix}/", path).path == f"{prefix}/{path}"
    assert rewrite(prefix, path, from_is_regex=False).path == prefix
    assert rewrite(None, path).path == path
    assert rewrite("regex:^/(.*)$,/$1", path) == Rewrite(path)


# --- no ReDoS -----------------------------------------------------------------------------------


@pytest.mark.parametrize("pattern", ["(a+)+$", "(a|a)*b", "(a*)*b", "(a|aa)+$", "(.*a){20}"])
def test_catastrophic_patterns_run_in_linear_time(pattern: str) -> None:
    subject = "a" * 50_000 + "!"
    started = time.monotonic()
    assert not FromMatcher.parse("regex:" + pattern).matches(subject)
    assert go_replace_all(pattern, "x", subject).endswith("!")
    assert time.monotonic() - started < 2.0
