"""Config loading: dregsy's documented examples, defaults, regmirror's extensions, problems."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import textwrap

import pytest
from regmirror.config import Config, load_config, parse_config
from regmirror.config.values import parse_go_duration
from regmirror.errors import ConfigError
from regmirror.registries.listers.base import resolve_settings

ROOT = pathlib.Path(__file__).resolve().parents[3]
EXAMPLES = sorted((ROOT / "examples").glob("dregsy-*.yaml"))
GOOD = ROOT / "tests" / "data" / "good-configs"

MINIMAL = """\
tasks:
  - name: t1
    source:
      registry: source.example.com
    target:
      registry: 127.0.0.1:5000
    mappings:
      - from: library/busybox
"""


def parse(text: str) -> Config:
    return parse_config(textwrap.dedent(text))


def problems_of(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse(text)
    return [str(p) for p in caught.value.problems]


# ---------------------------------------------------------------------------- dregsy's examples


def test_there_are_dregsy_examples() -> None:
    assert len(EXAMPLES) >= 5


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_dregsy_example_loads(path: pathlib.Path) -> None:
    config = load_config(path)
    assert config.tasks
    assert config.source_file == str(path)
    assert all(task.mappings for task in config.tasks)


def test_readme_example() -> None:
    config = load_config(ROOT / "examples" / "dregsy-readme.yaml")
    assert config.relay == "skopeo"
    assert (config.skopeo.binary, config.skopeo.certs_dir) == ("skopeo", "/etc/skopeo/certs.d")
    assert config.lister.max_items == 100  # written in the file; not applied when absent
    assert config.lister.cache_duration == 3600.0
    (task,) = config.tasks
    assert (task.name, task.interval, task.verbose) == ("task1", 60, True)
    assert task.source.registry == "source-registry.acme.com"
    assert task.source.auth is not None
    assert task.source.auth.startswith("eyJ1")
    assert task.target.skip_tls_verify is True
    endpoint = task.target.endpoint()
    assert (endpoint.host, endpoint.insecure, endpoint.verify_tls, endpoint.plain_http) == (
        "dest-registry.acme.com",
        True,
        False,
        False,
    )
    first, second = task.mappings
    assert (first.from_, first.to, first.tags) == ("test/image", "archive/test/image", ["0.1.0", "0.1.1"])
    assert (second.from_, second.to, second.tags, second.platform) == ("test/another-image", None, [], "all")
    assert task.line == 34
    assert (first.line, second.line) == (57, 60)
    # the docker section is dregsy's; regmirror says it ignores it, with file and line
    assert config.warnings == [
        f"{ROOT / 'examples' / 'dregsy-readme.yaml'}:16:1: docker: "
        "the docker section is ignored (regmirror always uses skopeo)"
    ]


def test_catalog_lister_on_ecr_source() -> None:
    task = load_config(ROOT / "examples" / "dregsy-catalog-ecr.yaml").tasks[0]
    source = task.source
    assert source.is_ecr
    assert not source.is_public_ecr
    assert (source.ecr_account, source.ecr_region) == ("388518484766", "eu-central-1")
    assert source.auth_refresh == 10 * 3600
    assert source.lister is not None
    assert source.lister.type == "catalog"
    mapping = task.mappings[0]
    assert mapping.from_is_regex
    assert mapping.from_pattern == "myproject/.*"
    assert (mapping.to, mapping.to_is_regex) == ("ecr", False)


def test_dockerhub_lister() -> None:
    source = load_config(ROOT / "examples" / "dregsy-dockerhub.yaml").tasks[0].source
    assert source.lister is not None
    assert source.lister.type == "dockerhub"
    assert source.auth == "env:DOCKERHUB_AUTH"
    assert source.endpoint().is_docker_hub


def test_index_lister_with_search() -> None:
    task = load_config(ROOT / "examples" / "dregsy-index.yaml").tasks[0]
    assert task.source.lister is not None
    assert (task.source.lister.type, task.source.lister.search) == ("index", "jenkins")
    mapping = task.mappings[0]
    assert mapping.to_is_regex
    assert mapping.to == "regex:jenkins/,dh/other-jenkins/"
    assert mapping.tags == ["latest"]


def test_ecr_target_and_public_ecr_source() -> None:
    config = load_config(ROOT / "examples" / "dregsy-ecr.yaml")
    hub_to_ecr, public_to_ecr = config.tasks
    assert hub_to_ecr.interval == 45
    target = hub_to_ecr.target
    assert target.is_ecr
    assert target.auth_refresh == 36000.0
    assert target.auth is None
    assert target.ecr_region == "eu-central-1"
    source = public_to_ecr.source
    assert source.is_public_ecr
    assert not source.is_ecr
    assert source.registry == "public.ecr.aws"  # `<account>@` is stripped, as dregsy does
    assert (source.ecr_account, source.ecr_region) == ("123456789012", "us-east-1")
    assert source.endpoint().host == "public.ecr.aws"
    assert public_to_ecr.mappings[0].tags == ["semver: >=3.19.0", "keep: latest 3"]


def test_public_ecr_with_region() -> None:
    config = parse(MINIMAL.replace("source.example.com", "123456789012:us-west-2@public.ecr.aws"))
    assert config.tasks[0].source.ecr_region == "us-west-2"


def test_tag_filters_and_auth_none() -> None:
    busybox, gcr = load_config(ROOT / "examples" / "dregsy-tag-filters.yaml").tasks
    assert busybox.mappings[0].tags == [
        "semver: >=1.31.0 <1.31.9",
        r"regex: 1\.26\.[0-9]-(glibc|uclibc|musl)",
        "1.29.4",
        "latest",
    ]
    assert gcr.source.auth == "none"
    assert gcr.mappings[0].platform == "linux/amd64"


# ---------------------------------------------------------------------------- defaults


def test_defaults() -> None:
    config = parse_config(MINIMAL)
    assert (config.relay, config.watch, config.source_file, config.warnings) == (
        "skopeo",
        False,
        "<string>",
        [],
    )
    assert (config.skopeo.binary, config.skopeo.certs_dir) == ("skopeo", None)
    assert config.docker is None
    lister = config.lister
    assert (lister.max_items, lister.cache_duration, lister.page_size) == (None, 3600.0, 1000)
    (task,) = config.tasks
    assert (task.interval, task.schedule, task.verbose, task.line) == (0, None, False, 2)
    for registry in (task.source, task.target):
        assert (registry.auth, registry.skip_tls_verify, registry.insecure, registry.ca_file) == (
            None,
            False,
            False,
            None,
        )
        assert (registry.auth_refresh, registry.lister, registry.role_arn, registry.region, registry.ecr) == (
            None,
            None,
            None,
            None,
            None,
        )
        assert not registry.is_ecr
        assert not registry.is_public_ecr
        assert registry.ecr_account is None
    endpoint = task.target.endpoint()
    assert (endpoint.host, endpoint.insecure, endpoint.verify_tls, endpoint.plain_http, endpoint.ca_file) == (
        "127.0.0.1:5000",
        False,
        True,
        False,
        None,
    )
    (mapping,) = task.mappings
    assert (mapping.from_, mapping.to, mapping.tags, mapping.platform, mapping.max_images, mapping.line) == (
        "library/busybox",
        None,
        [],
        "all",
        None,
        8,
    )
    assert not mapping.from_is_regex
    assert not mapping.to_is_regex


def test_missing_lists_are_empty() -> None:
    config = parse(
        MINIMAL + "        tags:\n  - name: idle\n    source: {registry: a}\n    target: {registry: b}\n"
    )
    assert config.tasks[0].mappings[0].tags == []
    assert config.tasks[1].mappings == []
    assert config.warnings == ["<string>:10:5: tasks[1].name: task 'idle' has no mappings and does nothing"]


# ---------------------------------------------------------------------------- extensions


def test_every_extension() -> None:
    path = GOOD / "extensions.yaml"
    config = load_config(path)
    assert config.watch is True
    assert (config.skopeo.binary, config.skopeo.certs_dir) == (
        "/usr/local/bin/skopeo",
        "/etc/regmirror/certs.d",
    )
    assert (config.lister.max_items, config.lister.cache_duration, config.lister.page_size) == (
        None,
        5400.0,
        500,
    )
    hub, local = config.tasks

    assert (hub.interval, hub.schedule, hub.verbose) == (600, "rate(10 minutes)", True)
    lister = hub.source.lister
    assert lister is not None
    assert (lister.type, lister.namespaces, lister.base_url, lister.page_size, lister.max_items) == (
        "dockerhub",
        ["myorg", "otherorg"],
        "http://127.0.0.1:9999",
        50,
        2000,
    )
    assert hub.source.auth == "secretsmanager:regmirror/dockerhub"
    target = hub.target
    assert (target.role_arn, target.region, target.auth_refresh) == (
        "arn:aws:iam::123456789012:role/regmirror-push",
        "eu-west-1",
        12 * 3600,
    )
    assert target.ecr is not None
    assert (target.ecr.tag_mutability, target.ecr.scan_on_push, target.ecr.kms_key) == (
        "IMMUTABLE",
        True,
        "alias/regmirror",
    )
    # a policy given as a file name is read at load time: the Lambda side gets the JSON itself
    assert target.ecr.lifecycle_policy is not None
    assert json.loads(target.ecr.lifecycle_policy)["rules"][0]["action"] == {"type": "expire"}
    first, second = hub.mappings
    assert (first.platform, first.max_images) == ("linux/arm64/v8", 250)
    assert first.tags == ["semver: ^1.2", "keep: latest 5", "regex: !.*-rc[0-9]+"]
    assert second.from_ == "/myorg/tool"
    assert second.to is None
    # numbers and dates keep their text, as Go's YAML decoder gives them to a string field
    assert second.tags[:2] == ["1.30", "2024-01-01"]

    assert local.schedule == "cron(0 3 ? * MON-FRI *)"
    assert local.source.registry == "[::1]:5443"
    assert local.source.ca_file == str(GOOD / "ca.pem")
    assert local.source.endpoint().ca_file == str(GOOD / "ca.pem")
    assert local.source.lister is not None
    assert local.source.lister.max_items == -1
    local_lister, hub_lister = (resolve_settings(t.source, config.lister) for t in (local, hub))
    assert local_lister.max_items == -1  # own -1: no limit (cap_items takes it so)
    assert (hub_lister.max_items, hub_lister.page_size) == (2000, 50)
    assert local_lister.page_size == 500
    endpoint = local.target.endpoint()
    assert (endpoint.insecure, endpoint.verify_tls, endpoint.plain_http) == (True, True, True)
    assert config.warnings == []


def test_relative_paths_resolve_against_the_config_folder(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "conf"
    folder.mkdir()
    (folder / "ca.pem").write_text("pem\n")
    with_ca = "      registry: source.example.com\n      ca-file: ca.pem\n"
    (folder / "config.yaml").write_text(MINIMAL.replace("      registry: source.example.com\n", with_ca))
    monkeypatch.chdir(tmp_path)  # elsewhere: the path must not depend on the working directory
    config = load_config("conf/config.yaml")
    assert config.tasks[0].source.ca_file == str(folder / "ca.pem")


def test_global_max_items_applies_when_a_source_sets_none() -> None:
    config = parse("lister: {maxItems: 250}\n" + MINIMAL)
    assert resolve_settings(config.tasks[0].source, config.lister).max_items == 250


def test_docker_relay_runs_as_skopeo_with_a_warning() -> None:
    config = parse("relay: docker\n" + MINIMAL)
    assert config.relay == "skopeo"
    assert config.warnings == [
        "<string>:1:1: relay: the docker relay is not supported; images are copied with skopeo"
    ]


def test_short_auth_refresh_is_raised_to_an_hour() -> None:
    config = parse(
        MINIMAL.replace(
            "source.example.com", "123456789012.dkr.ecr.eu-west-1.amazonaws.com\n      auth-refresh: 10m"
        )
    )
    assert config.tasks[0].source.auth_refresh == 3600.0
    assert config.warnings == [
        "<string>:5:7: tasks[0].source.auth-refresh: auth-refresh below the 1h minimum; using 1h"
    ]


def test_dregsy_anchoring_caveat_is_a_warning() -> None:
    config = parse(MINIMAL.replace("from: library/busybox", "from: regex:a/.*|b/.*"))
    (warning,) = config.warnings
    assert warning.startswith("<string>:8:9: tasks[0].mappings[0].from: ")
    assert "top-level '|'" in warning


def test_top_level_x_keys_hold_anchors() -> None:
    config = load_config(GOOD / "anchors.yaml")
    one, two = config.tasks
    assert (one.source.registry, one.source.skip_tls_verify) == ("127.0.0.1:5000", True)
    assert (one.target.registry, one.target.skip_tls_verify) == ("127.0.0.1:5001", True)
    assert two.target.registry == "127.0.0.1:5000"


def test_yaml_1_1_booleans_as_in_go() -> None:
    assert (
        parse(MINIMAL.replace("  - name: t1\n", "  - name: t1\n    verbose: yes\n")).tasks[0].verbose is True
    )


def test_numbers_in_string_fields_keep_their_text() -> None:
    config = parse(
        MINIMAL.replace("name: t1", "name: 2024").replace(
            "library/busybox", "library/busybox\n        tags: [1.30, 010]"
        )
    )
    assert config.tasks[0].name == "2024"
    assert config.tasks[0].mappings[0].tags == ["1.30", "010"]


def test_empty_to_means_unchanged() -> None:
    assert parse(MINIMAL + '        to: ""\n').tasks[0].mappings[0].to is None


def test_repr_does_not_show_auth() -> None:
    secret = "eyJ1c2VybmFtZSI6ICJhbGV4IiwgInBhc3N3b3JkIjogInNlY3JldCJ9Cg=="
    config = parse(
        MINIMAL.replace("registry: source.example.com", f"registry: source.example.com\n      auth: {secret}")
    )
    assert config.tasks[0].source.auth == secret
    assert secret not in repr(config)
    assert secret not in str(config)
    assert secret not in repr(config.tasks[0].source.endpoint())


# ---------------------------------------------------------------------------- Go durations


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("1h", 3600.0),
        ("90m", 5400.0),
        ("1h30m", 5400.0),
        ("-1s", -1.0),
        ("0", 0.0),
        ("1.5h", 5400.0),
        ("300ms", 0.3),
        ("+2m", 120.0),
        ("1m30.5s", 90.5),
        ("10µs", 1e-5),
    ],
)
def test_go_durations(text: str, seconds: float) -> None:
    assert parse_go_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "1", "h", "1 h", "1d", "-", "1h-2m", "ten minutes"])
def test_not_go_durations(text: str) -> None:
    with pytest.raises(ValueError, match="is not a Go duration"):
        parse_go_duration(text)


@pytest.mark.parametrize(
    ("value", "seconds"), [("90m", 5400.0), ("-1s", -1.0), ("-1", -1e-9), ("0", 0.0), ("3600", 3.6e-6)]
)
def test_cache_duration(value: str, seconds: float) -> None:
    config = parse(f"lister:\n  cacheDuration: {value}\n" + MINIMAL)
    assert config.lister.cache_duration == pytest.approx(seconds, abs=1e-12)
    assert (config.lister.cache_duration < 0) == value.startswith("-")  # negative: caching off


# ---------------------------------------------------------------------------- task selection


def test_select_tasks_as_dregsy_run_does() -> None:
    task = (
        "  - name: {}\n"
        "    source: {{registry: a}}\n"
        "    target: {{registry: b}}\n"
        "    mappings: [{{from: x}}]\n"
    )
    text = MINIMAL + "".join(task.format(name) for name in ("t10", "other", "t2"))
    config = parse(text)
    names = lambda pattern: [t.name for t in config.select_tasks(pattern)]  # noqa: E731
    assert names(None) == ["t1", "t10", "other", "t2"]
    assert names("t1") == ["t1"]  # full match: not t10
    assert names("t.*") == ["t1", "t10", "t2"]
    assert names("other|t2") == ["other", "t2"]
    assert names("nothing") == []
    # dregsy's own reading (anchored as text, then searched; trimmed; `!` inverts)
    assert names("t1|t2") == ["t1", "t10", "t2"]  # `^t1|t2$`: t10 starts with t1
    assert names("!t1") == ["t10", "other", "t2"]
    assert names("  t2 ") == ["t2"]
    assert names("!t.*") == ["other"]
    with pytest.raises(ConfigError, match="-run: invalid regular expression"):
        config.select_tasks("(")


# ---------------------------------------------------------------------------- problems


def test_all_problems_are_reported_in_file_order() -> None:
    problems = problems_of(
        """\
        relay: podman
        tasks:
          - name: t1
            interval: 5
            source: {registry: "https://a", auth: "*"}
            target: {registry: b, skip_tls_verify: true}
            mappings:
              - from: regex:(
                to: regex:x
                tags: ['keep: (', semver: 1]
                platform: linux/arm/v7/x
          - name: t1
            source: {registry: a}
            target: {registry: b}
            mappings: [{to: x}]
        """
    )
    assert problems == [
        "<string>:1:8: relay: unknown relay 'podman': expected 'skopeo' "
        "('docker' is accepted and runs as skopeo)",
        "<string>:4:15: tasks[0].interval: minimum is 30 seconds (0 runs the task once)",
        "<string>:5:24: tasks[0].source.registry: expected host[:port] without a scheme, "
        "e.g. 'registry.example.com:5000'",
        '<string>:5:43: tasks[0].source.auth: not valid base64; expected base64 of {"username": "...", '
        '"password": "..."} or of user:pass',
        "<string>:6:27: tasks[0].target.skip_tls_verify: unknown key 'skip_tls_verify' "
        "(did you mean 'skip-tls-verify'?)",
        "<string>:8:15: tasks[0].mappings[0].from: "
        "'from' uses an invalid regular expression '(': missing ): ^($",
        "<string>:9:13: tasks[0].mappings[0].to: 'to' regex needs a replacement: "
        "write 'regex:<expression>,<replacement>'",
        "<string>:10:16: tasks[0].mappings[0].tags[0]: invalid regular expression '(': missing ): ^($",
        "<string>:10:27: tasks[0].mappings[0].tags[1]: expected a string, found a mapping "
        "(quote entries like 'semver: >=1.0' so YAML keeps them as text)",
        "<string>:11:19: tasks[0].mappings[0].platform: expected 'all', an OS or os/arch[/variant], "
        "e.g. 'linux/amd64' or 'linux/arm/v7'",
        "<string>:12:11: tasks[1].name: duplicate task name 't1' (first used at line 3)",
        "<string>:15:16: tasks[1].mappings[0].from: required field missing",
    ]


def test_unknown_key_without_close_match_is_ignored_with_a_warning() -> None:
    config = parse(MINIMAL + "        colour: blue\n")
    assert config.warnings == [
        "<string>:9:9: tasks[0].mappings[0].colour: unknown key 'colour' ignored (as dregsy ignores it)"
    ]
    assert config.tasks[0].mappings[0].from_ == "library/busybox"


@pytest.mark.parametrize(
    ("key", "suggestion"),
    [("tag", "tags"), ("Platform", "platform"), ("max_images", "max-images"), ("form", "from")],
)
def test_a_likely_typo_of_a_known_key_stays_an_error(key: str, suggestion: str) -> None:
    (problem,) = problems_of(MINIMAL + f"        {key}: x\n")
    assert problem.endswith(f"unknown key '{key}' (did you mean '{suggestion}'?)")


def test_a_key_of_a_fork_is_not_a_typo_of_a_known_key() -> None:
    config = parse("mappings_file: more.yaml\n" + MINIMAL)
    assert config.warnings == [
        "<string>:1:1: mappings_file: unknown key 'mappings_file' ignored (as dregsy ignores it)"
    ]


def test_no_tasks_is_nothing_to_do() -> None:
    for text in ("relay: skopeo\n", "tasks: []\n", "tasks:\n", ""):
        config = parse(text)
        assert config.tasks == []
        assert [w.split(": ", 1)[1] for w in config.warnings] in (
            ["no tasks: nothing to do"],
            ["tasks: no tasks: nothing to do"],
        )


def test_duplicate_key_takes_the_last_value_with_a_warning() -> None:
    config = parse(MINIMAL.replace("  - name: t1\n", "  - name: t1\n    interval: 60\n    interval: 120\n"))
    assert config.tasks[0].interval == 120
    assert config.warnings == [
        "<string>:4:5: tasks[0].interval: duplicate key 'interval' (first given at line 3); "
        "the last value is used"
    ]


def test_later_yaml_documents_are_ignored_even_when_broken() -> None:
    config = parse(MINIMAL + "---\n[unclosed\n")
    assert len(config.tasks) == 1
    assert config.warnings[0].startswith("<string>:9:1: ")


@pytest.mark.parametrize(("given", "expected"), [(0, None), (-1, None), (-5, None), (250, 250)])
def test_max_items_zero_is_the_default_and_negative_no_limit(given: int, expected: int | None) -> None:
    assert parse(f"lister: {{maxItems: {given}}}\n" + MINIMAL).lister.max_items == expected


def test_lister_max_items_negative_means_no_limit_for_that_lister() -> None:
    config = parse(
        MINIMAL.replace(
            "registry: source.example.com", "{registry: a.example, lister: {type: catalog, maxItems: -7}}"
        ).replace("source:\n      {", "source: {")
    )
    assert config.tasks[0].source.lister is not None
    assert config.tasks[0].source.lister.max_items == -1


def test_deprecated_top_level_docker_settings_load_with_warnings() -> None:
    config = parse("dockerhost: unix:///var/run/docker.sock\napi-version: '1.41'\n" + MINIMAL)
    assert [w.split(": ")[1] for w in config.warnings] == ["dockerhost", "api-version"]


def test_platform_may_name_the_os_only() -> None:
    assert parse(MINIMAL + "        platform: linux\n").tasks[0].mappings[0].platform == "linux"


@pytest.mark.parametrize("account", ["123456789012", "1", "000000000000000", "acct-x"])
def test_ecr_hosts_with_any_account_label_are_ecr(account: str) -> None:
    config = parse(MINIMAL.replace("127.0.0.1:5000", f"{account}.dkr.ecr.eu-west-1.amazonaws.com"))
    assert config.tasks[0].target.is_ecr
    assert config.tasks[0].target.ecr_account == account


def test_registry_with_a_path_is_a_prefix_of_every_repository() -> None:
    config = parse(MINIMAL.replace("127.0.0.1:5000", "'127.0.0.1:5000/mirror/team/'"))
    target = config.tasks[0].target
    assert (target.registry, target.path_prefix) == ("127.0.0.1:5000", "mirror/team")
    assert target.repository("app") == "mirror/team/app"
    assert (target.relative("mirror/team/app"), target.relative("other/app")) == ("app", None)


def test_to_groups_the_regex_lacks_expand_to_nothing_with_a_warning() -> None:
    config = parse(
        MINIMAL.replace("- from: library/busybox", "- from: regex:my/.*\n        to: regex:m(y)/,x$2$1x/")
    )
    rule = config.tasks[0].mappings[0].rule
    assert rule.target("my/app").path == "x/app"
    assert len(config.warnings) == 2


def test_unreadable_file(tmp_path: pathlib.Path) -> None:
    missing = tmp_path / "missing.yaml"
    with pytest.raises(ConfigError) as caught:
        load_config(missing)
    (problem,) = caught.value.problems
    assert (problem.file, problem.line) == (str(missing), 0)
    assert str(problem) == f"{missing}: cannot read config file: No such file or directory"


def test_folder_instead_of_file(tmp_path: pathlib.Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config(tmp_path)


def test_not_utf8(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(MINIMAL.encode() + b"# caf\xe9\n")
    with pytest.raises(ConfigError, match="not UTF-8 text"):
        load_config(path)


def test_alias_bomb_is_refused_quickly() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    with pytest.raises(ConfigError, match="too large or nested too deeply"):
        parse_config("\n".join(lines) + "\n")


def test_self_referencing_anchor_is_refused() -> None:
    with pytest.raises(ConfigError, match="too large or nested too deeply"):
        parse_config("tasks: &loop [*loop]\n")


def test_non_scalar_key() -> None:
    (problem,) = problems_of(MINIMAL + "? [a, b]\n: c\n")
    assert problem == "<string>:9:3: keys must be plain text"


def test_config_import_stays_light() -> None:
    """Cold start on Lambda: loading a config must not pull in boto3 or requests."""
    code = (
        "import sys, regmirror.config\n"
        "print(sorted(m for m in ('boto3', 'botocore', 'requests') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=os.environ
    )
    assert out.stdout.strip() == "[]"


def test_stall_timeout_copy_timeout_and_circuit_breaker_settings() -> None:
    config = parse_config(MINIMAL)
    assert (config.skopeo.stall_timeout, config.skopeo.timeout) == (120.0, 1800.0)
    assert (config.retry.breaker_failures, config.retry.breaker_cooldown) == (3, 30.0)
    extra = "skopeo: {stall-timeout: 90s, timeout: 45}\nretry: {breaker-failures: 0, breaker-cooldown: 2m}\n"
    config = parse_config(extra + MINIMAL)
    # ours: a plain number is seconds (dregsy's bare-number nanoseconds apply only to dregsy's keys)
    assert (config.skopeo.stall_timeout, config.skopeo.timeout) == (90.0, 45.0)
    assert (config.retry.breaker_failures, config.retry.breaker_cooldown) == (0, 120.0)


@pytest.mark.parametrize(
    ("settings", "field"),
    [
        ("skopeo: {stall-timeout: -1s}", "skopeo.stall-timeout"),
        ("skopeo: {stall-timeout: soon}", "skopeo.stall-timeout"),
        ("skopeo: {timeout: 0}", "skopeo.timeout"),
        ("retry: {breaker-failures: -1}", "retry.breaker-failures"),
        ("retry: {breaker-cooldown: [1]}", "retry.breaker-cooldown"),
    ],
)
def test_bad_stall_and_breaker_settings_are_located_errors(settings: str, field: str) -> None:
    (problem,) = problems_of(settings + "\n" + MINIMAL)
    assert problem.startswith("<string>:1:") and f": {field}: " in problem
