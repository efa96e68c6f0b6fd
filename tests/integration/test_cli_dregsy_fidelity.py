"""A dregsy user's file gives dregsy's result, through the CLI on real registries and real skopeo:
what dregsy accepts loads (with a warning where it is probably a mistake) and copies what dregsy copies;
a `from` that matches nothing warns with the nearest names; `--strict` turns warnings into exit 1."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from regmirror.cli.main import main

from tests.testbed import RegistryServer, catalog, get_manifest, list_tags, manifest_digest, push_image


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def source(plain_registry: RegistryServer) -> RegistryServer:
    for repo, tag in [
        ("library/busybox", "1.0.0"),
        ("library/busybox", "1.0.5"),
        ("library/busybox", "1.5.0"),
        ("library/busybox", "2.0.0"),
        ("library/alpine", "3.19"),
        ("team/project/app", "1.0"),
    ]:
        push_image(plain_registry, repo, tag, seed=f"{repo}:{tag}", shared_base=True)
    return plain_registry


def task(
    src: RegistryServer, dst: RegistryServer, mappings: str, *, extra: str = "", src_path: str = ""
) -> str:
    return (
        f"{extra}tasks:\n  - name: t\n"
        f'    source: {{registry: "{src.host}{src_path}", skip-tls-verify: true}}\n'
        f'    target: {{registry: "{dst.host}", skip-tls-verify: true}}\n'
        f"    mappings:\n{mappings}"
    )


def test_a_from_matching_nothing_warns_with_the_nearest_names_and_strict_fails(
    source: RegistryServer,
    second_plain_registry: RegistryServer,
    config_file: Callable[[str], Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = config_file(task(source, second_plain_registry, "      - from: regex:libary/busy.*\n"))
    code, out, err = run_cli(capsys, "plan", str(config))
    assert code == 0
    assert "matched none of 3 listed names; nearest: library/busybox" in out
    assert "matched none of 3 listed names" in err  # logged as a warning too
    code, _out, err = run_cli(capsys, "plan", "--strict", str(config))
    assert code == 1
    assert "--strict: 1 warning(s), exit 1" in err
    code, out, _err = run_cli(capsys, "sync", "--json", "--strict", str(config))
    assert code == 1
    (warning,) = json.loads(out)["warnings"]
    assert warning.startswith(
        "t mapping 0: 'from' 'regex:libary/busy.*' matched none of 3 listed names; nearest: library/busybox"
    )
    assert catalog(second_plain_registry) == []


def test_tag_filters_selecting_nothing_warn(
    source: RegistryServer,
    second_plain_registry: RegistryServer,
    config_file: Callable[[str], Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    mappings = "      - from: library/busybox\n        tags: ['semver: >=9.0.0']\n"
    config = config_file(task(source, second_plain_registry, mappings))
    code, out, _err = run_cli(capsys, "plan", str(config))
    assert code == 0
    assert "warning: tags select nothing in 1 matched repositories" in out
    assert run_cli(capsys, "plan", "--strict", str(config))[0] == 1


def test_semver_and_keep_read_as_dregsy_reads_them(
    source: RegistryServer,
    second_plain_registry: RegistryServer,
    config_file: Callable[[str], Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    dst = second_plain_registry
    mappings = (
        "      - from: library/busybox\n        to: x/busybox\n        tags: ['semver: 1.x.x']\n"
        "      - from: library/busybox\n        to: y/busybox\n"
        "        tags: ['semver: >=1.0.0', 'keep: latest 0']\n"
        "      - from: library/busybox\n        to: z/busybox\n"
        "        tags: ['semver: >=1.0.0', 'keep:latest 2']\n"
    )
    config = config_file(task(source, dst, mappings))
    code, _out, err = run_cli(capsys, "sync", "--json", str(config))
    assert code == 0, err
    assert sorted(list_tags(dst, "x/busybox")) == ["1.0.0", "1.0.5"]  # blang: 1.x.x = >=1.0.0 <1.1.0
    assert sorted(list_tags(dst, "y/busybox")) == ["1.0.0", "1.0.5", "1.5.0", "2.0.0"]  # latest 0: no limit
    assert "z/busybox" not in catalog(dst)  # a keep regex `latest 2`: everything pruned
    assert "tags[0]: '1.x.x' means >=1.0.0 <1.1.0 in dregsy" in err
    assert "tags[1]: 'keep:latest 2' is read as a keep regex" in err


def test_a_registry_with_a_path_prefixes_every_repository(
    source: RegistryServer,
    second_plain_registry: RegistryServer,
    config_file: Callable[[str], Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    dst = second_plain_registry
    mappings = "      - from: app\n        to: mirror/app\n      - from: regex:a.*\n        to: all\n"
    config = config_file(task(source, dst, mappings, src_path="/team/project"))
    code, out, err = run_cli(capsys, "sync", "--json", str(config))
    assert code == 0, err
    assert sorted(catalog(dst)) == ["all/app", "mirror/app"]
    assert manifest_digest(dst, "mirror/app", "1.0") == manifest_digest(source, "team/project/app", "1.0")
    assert json.loads(out)["counts"]["copied"] == 2


def test_platform_naming_the_os_only_copies_that_os(
    plain_registry: RegistryServer,
    second_plain_registry: RegistryServer,
    config_file: Callable[[str], Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    push_image(plain_registry, "multi/app", "1.0", platforms=["linux/amd64", "windows/amd64"], seed="m")
    mappings = "      - from: multi/app\n        platform: linux\n"
    config = config_file(task(plain_registry, second_plain_registry, mappings))
    code, _out, err = run_cli(capsys, "sync", "--json", str(config))
    assert code == 0, err
    body, _media_type, digest = get_manifest(second_plain_registry, "multi/app", "1.0")
    assert "manifests" not in json.loads(body)  # one platform's manifest, not the index
    index = json.loads(get_manifest(plain_registry, "multi/app", "1.0")[0])
    linux = [m["digest"] for m in index["manifests"] if m["platform"]["os"] == "linux"]
    assert [digest] == linux


@pytest.mark.parametrize("text", ["tasks: []\n", "", "lister: {maxItems: 0}\n"])
def test_a_config_without_tasks_does_nothing_and_exits_0(
    text: str, config_file: Callable[[str], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    config = config_file(text)
    code, out, err = run_cli(capsys, "sync", str(config))
    assert code == 0, err
    assert out.startswith("0 images: 0 copied")
    assert "no tasks: nothing to do" in err
    assert run_cli(capsys, "validate", "--strict", str(config))[0] == 1


def test_unknown_keys_anchors_and_duplicates_load_as_in_dregsy(
    source: RegistryServer,
    second_plain_registry: RegistryServer,
    config_file: Callable[[str], Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    dst = second_plain_registry
    text = (
        f'common: &src {{registry: "{source.host}", skip-tls-verify: true}}\n'
        "mappings_file: more.yaml\n"
        "tasks:\n  - name: t\n    source: *src\n"
        f'    target: {{registry: "{dst.host}", skip-tls-verify: true}}\n'
        "    mappings:\n      - from: library/alpine\n        to: first\n        to: second\n"
        "---\nnot: read\n"
    )
    code, _out, err = run_cli(capsys, "sync", str(config_file(text)))
    assert code == 0, err
    assert catalog(dst) == ["second"]  # the last value of a duplicate key wins
    assert err.count("unknown key") == 2 and "duplicate key 'to'" in err and "only the first is used" in err


def _wait_for(condition: Callable[[], bool], seconds: float = 60.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


def test_sighup_restarts_regmirror_run_fully_as_dregsy_does(
    plain_registry: RegistryServer, second_plain_registry: RegistryServer, tmp_path: Path
) -> None:
    """`regmirror run` as a service: after SIGHUP the one-off task runs again and the hourly task fires
    at once (new tags of both are copied), then SIGTERM ends it with exit 0."""
    src, dst = plain_registry, second_plain_registry
    push_image(src, "once/app", "1.0", seed="o1")
    push_image(src, "hourly/app", "1.0", seed="h1")
    endpoints = (
        f'    source: {{registry: "{src.host}", skip-tls-verify: true}}\n'
        f'    target: {{registry: "{dst.host}", skip-tls-verify: true}}\n'
    )
    config = tmp_path / "dregsy.yaml"
    config.write_text(
        "tasks:\n"
        f"  - name: once\n{endpoints}    mappings: [{{from: once/app}}]\n"
        f"  - name: hourly\n    interval: 3600\n{endpoints}    mappings: [{{from: hourly/app}}]\n",
        encoding="utf-8",
    )
    regmirror = str(Path(sys.executable).with_name("regmirror"))
    log = (tmp_path / "run.log").open("w")
    daemon = subprocess.Popen(
        [regmirror, "run", str(config), "--record-file", str(tmp_path / "record.json")],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        assert _wait_for(lambda: {"once/app", "hourly/app"} <= set(catalog(dst)))
        assert _wait_for(lambda: "hourly: run 1 starting" in (tmp_path / "run.log").read_text())
        push_image(src, "once/app", "2.0", seed="o2")
        push_image(src, "hourly/app", "2.0", seed="h2")
        time.sleep(1)
        assert "2.0" not in list_tags(dst, "hourly/app")  # not due for an hour
        daemon.send_signal(signal.SIGHUP)
        assert _wait_for(
            lambda: "2.0" in list_tags(dst, "once/app") and "2.0" in list_tags(dst, "hourly/app")
        )
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(60) == 0
    finally:
        if daemon.poll() is None:
            daemon.kill()
        log.close()
    text = (tmp_path / "run.log").read_text()
    assert "config reloaded: 2 tasks; restarting them" in text
    assert text.count("task once: run 1 starting") == 2  # a fresh start counts from 1 again


@pytest.mark.parametrize("max_items", ["0", "-5"])
def test_max_items_zero_or_negative_lists_everything(
    max_items: str,
    source: RegistryServer,
    second_plain_registry: RegistryServer,
    config_file: Callable[[str], Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    mappings = "      - from: regex:.*\n        tags: ['1.0', '3.19']\n"
    extra = f"lister: {{maxItems: {max_items}, pageSize: 1}}\n"  # one name per page: a cut would show
    config = config_file(task(source, second_plain_registry, mappings, extra=extra))
    code, out, err = run_cli(capsys, "plan", "--json", "--strict", str(config))
    assert code == 0, err  # --strict: no warning, no cut
    assert "stopped at maxItems" not in err
    assert json.loads(out)["mappings"][0]["listed"] == 3
