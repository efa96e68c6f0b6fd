"""Copies at once (`sync.pacing`), driven from the command line against real registries and skopeo:
across a link where every upload waits (the target behind the test bed's proxy, each final blob PUT
held), the default `--concurrency auto` grows past the CPU default; 5xx answers halve it; a fixed
number stays fixed."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from regmirror.cli.main import main
from regmirror.sync.pacing import AUTO_CEILING, cpu_concurrency

from tests.testbed import RegistryServer, push_image
from tests.testbed.faultproxy import FaultProxy, Rule
from tests.testbed.images import ImageApi

IMAGES = 20
UPLOAD_END = r"/v2/.+/blobs/uploads/.+"


@pytest.fixture(scope="module")
def many_repositories(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    """One image in each of IMAGES repositories: every image leads its repository (`sync.order`)."""
    with RegistryServer(base_dir=tmp_path_factory.mktemp("pace-source")) as server:
        for n in range(IMAGES):
            push_image(server, f"pace/r{n}", "v1", layers=1, layer_size=4096)
        yield server


def sync_through(
    source: RegistryServer,
    target: RegistryServer,
    config_file: Callable[[str], Path],
    capsys: pytest.CaptureFixture[str],
    rules: list[Rule],
    *args: str,
    slow_seconds: float = 0.5,
) -> tuple[int, dict[str, Any], FaultProxy]:
    """`regmirror sync --json` of every image into `target` behind the proxy: exit code, report, proxy."""
    code, out, link = run_through(
        source, target, config_file, capsys, rules, "--json", *args, slow_seconds=slow_seconds
    )
    return code, json.loads(out), link


def run_through(
    source: RegistryServer,
    target: RegistryServer,
    config_file: Callable[[str], Path],
    capsys: pytest.CaptureFixture[str],
    rules: list[Rule],
    *args: str,
    slow_seconds: float = 0.5,
) -> tuple[int, str, FaultProxy]:
    with FaultProxy(target.host, rules=rules, slow_seconds=slow_seconds) as link:
        config = config_file(
            "tasks:\n  - name: t\n"
            f'    source: {{registry: "{source.host}", skip-tls-verify: true}}\n'
            f'    target: {{registry: "{link.host}", skip-tls-verify: true}}\n'
            '    mappings:\n      - from: "regex:pace/.*"\n'
        )
        code = main(["sync", str(config), "--no-record", *args])
    return code, capsys.readouterr().out, link


def assert_mirrored(source: RegistryServer, target: RegistryServer) -> None:
    src, dst = ImageApi(source), ImageApi(target)
    for n in range(IMAGES):
        assert dst.head_manifest(f"pace/r{n}", "v1") == src.head_manifest(f"pace/r{n}", "v1")


def test_on_a_link_where_copies_wait_the_default_grows_past_the_cpu_default(
    many_repositories: RegistryServer,
    plain_registry: RegistryServer,
    config_file: Callable[[str], Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    slow_uploads = Rule("slow", method="PUT", path=UPLOAD_END)
    code, report, _ = sync_through(many_repositories, plain_registry, config_file, capsys, [slow_uploads])

    assert code == 0, report
    assert report["counts"]["copied"] == IMAGES
    (route,) = report["concurrency"]
    assert route["start"] == cpu_concurrency()
    assert route["peak"] >= 4 * route["start"]  # two doublings paid: the waiting was the link's
    assert route["cuts"] == 0
    assert_mirrored(many_repositories, plain_registry)


def test_a_target_that_answers_slowly_starts_the_route_higher(
    many_repositories: RegistryServer,
    plain_registry: RegistryServer,
    config_file: Callable[[str], Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Every answer of the target 50 ms late (a WAN's round trip): the route's start is measured, not
    grown to: the digest checks' answers say how long a copy will wait (`Concurrency.start_for`)."""
    code, report, link = sync_through(
        many_repositories, plain_registry, config_file, capsys, [Rule("slow")], slow_seconds=0.05
    )

    assert code == 0, report
    assert link.counts()["slow"] > IMAGES  # the checks and every copy's requests
    (route,) = report["concurrency"]
    assert route["start"] >= min(AUTO_CEILING, 4 * cpu_concurrency())
    assert route["cuts"] == 0
    assert_mirrored(many_repositories, plain_registry)


def test_server_errors_halve_the_copies_at_once_and_every_image_still_arrives(
    many_repositories: RegistryServer,
    plain_registry: RegistryServer,
    config_file: Callable[[str], Path],
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    rules = [
        Rule("503", method="PUT", path=r"/v2/.+/manifests/.+", skip=6, times=2),
        Rule("slow", method="PUT", path=UPLOAD_END),
    ]
    with caplog.at_level(logging.INFO, logger="regmirror.pacing"):
        code, report, link = sync_through(
            many_repositories, plain_registry, config_file, capsys, rules, "--concurrency", "auto:16"
        )

    assert code == 0, report
    assert link.counts()["503"] == 2
    assert report["counts"]["copied"] == IMAGES
    (route,) = report["concurrency"]
    assert route["cuts"] >= 1
    assert route["peak"] <= 16
    halvings = [
        re.fullmatch(r"copies at once (\d+) -> (\d+): a copy failed with network", r.message)
        for r in caplog.records
    ]
    steps = [(int(m[1]), int(m[2])) for m in halvings if m]
    assert len(steps) == route["cuts"] and all(after == max(1, before // 2) for before, after in steps)
    assert_mirrored(many_repositories, plain_registry)


def test_a_fixed_number_is_kept_and_no_route_is_paced(
    many_repositories: RegistryServer,
    plain_registry: RegistryServer,
    config_file: Callable[[str], Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, report, _ = sync_through(
        many_repositories, plain_registry, config_file, capsys, [], "--concurrency", "3"
    )
    assert code == 0, report
    assert report["concurrency"] == []
    assert report["counts"]["copied"] == IMAGES


def test_the_summary_line_tells_how_far_the_copies_at_once_grew(
    many_repositories: RegistryServer,
    plain_registry: RegistryServer,
    config_file: Callable[[str], Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    slow_uploads = Rule("slow", method="PUT", path=UPLOAD_END)
    code, out, _ = run_through(
        many_repositories, plain_registry, config_file, capsys, [slow_uploads], "--no-progress"
    )
    assert code == 0, out
    assert f"{IMAGES} images: {IMAGES} copied" in out
    assert "copies at once" in out.splitlines()[-1]


@pytest.mark.parametrize("value", ["0", "auto:0", "lots"])
def test_a_wrong_concurrency_is_a_usage_error(
    value: str, config_file: Callable[[str], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    config = config_file("tasks: []\n")
    with pytest.raises(SystemExit) as exit_:
        main(["sync", str(config), "--concurrency", value])
    assert exit_.value.code == 2
    assert "--concurrency" in capsys.readouterr().err
