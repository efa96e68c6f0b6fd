"""Bad configs through the command line: exit code 2, one located message, nothing copied; questionable
configs (what dregsy accepts) load with one located warning, and `--strict` turns it into exit 1.

The corpus (tests/data/bad-configs/errors and …/warnings, each file's first line says where its one
problem is) is checked problem by problem in tests/unit/config/test_bad_configs.py; here every file goes
through the command line.
Conflicting targets are only known once the lister has answered: they get the same treatment at plan
time, before any copy starts.
"""

from __future__ import annotations

import pathlib
from pathlib import Path

import pytest
from regmirror.cli.main import main

from tests.testbed import RegistryServer, catalog, push_image, write_config
from tests.testbed.skopeo_log import LoggingSkopeo

BAD = pathlib.Path(__file__).resolve().parent.parent / "data" / "bad-configs"
FILES = sorted((BAD / "errors").glob("*.yaml"))
WARNINGS = sorted((BAD / "warnings").glob("*.yaml"))


def expectation(path: Path) -> tuple[int, str]:
    line, field, _message = (
        path.read_text(encoding="utf-8").splitlines()[0].removeprefix("# expect: ").split(":", 2)
    )
    return int(line), field


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_every_bad_config_exits_2_with_file_line_and_field(
    path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    line, field = expectation(path)
    for command in ("validate", "plan", "sync"):  # validate refuses what plan and sync refuse
        code = main([command, str(path)] + ([] if command == "validate" else ["--json"]))
        out, err = capsys.readouterr()
        assert code == 2, command
        assert out == ""  # no report: nothing was planned, let alone copied
        problems = [p for p in err.splitlines() if p.startswith(str(path))]
        assert len(problems) == 1, err
        assert problems[0].startswith(f"{path}:{line}:" if line else str(path))
        assert f": {field}: " in problems[0] if field else True
        assert "Traceback" not in err


@pytest.mark.parametrize("path", WARNINGS, ids=[p.stem for p in WARNINGS])
def test_every_questionable_config_validates_with_one_warning_and_fails_strict(
    path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    line, field = expectation(path)
    assert main(["validate", str(path)]) == 0
    out, err = capsys.readouterr()
    assert out.startswith(f"{path}: ok (")
    warnings = [w for w in err.splitlines() if str(path) in w]
    assert len(warnings) == 1, err
    assert f"{path}:{line}:" in warnings[0]
    assert f": {field}: " in warnings[0] if field else True
    assert main(["validate", "--strict", str(path)]) == 1
    _out, err = capsys.readouterr()
    assert "--strict: 1 warning(s), exit 1" in err


def test_corpus_covers_every_category_of_the_issue() -> None:
    names = {p.stem for p in FILES}
    categories = {
        "yaml syntax": "yaml-",
        "wrong types": "wrong-type-",
        "unknown keys": "unknown-",
        "bad regex": "-bad-regex",
        "bad replacement template": "to-bad-regex",
        "missing required fields": "missing-",
        "duplicate task names": "duplicate-task-names",
        "bad semver ranges": "tags-bad-semver",
        "unreadable auth": "auth-base64-of-binary",
        "interval below minimum": "interval-below-minimum",
    }
    missing = [what for what, marker in categories.items() if not any(marker in name for name in names)]
    assert missing == []
    assert len(FILES) >= 30
    accepted_as_dregsy_does = {
        "unknown keys that are no typo": "unknown-key-",
        "duplicate keys": "yaml-duplicate-key",
        "several YAML documents": "yaml-two-documents",
        "no tasks": "tasks-empty",
        "bare-number durations": "duration-bare-number",
        "to groups the regex lacks": "to-bad-group",
        "keep:latest without a space": "tags-keep-latest-without-space",
        "deprecated docker settings": "dockerhost-deprecated",
    }
    warned = {p.stem for p in WARNINGS}
    assert [w for w, m in accepted_as_dregsy_does.items() if not any(m in name for name in warned)] == []


@pytest.mark.parametrize("command", ["sync", "plan"])
def test_two_tasks_writing_one_target_exit_2_before_any_copy(
    command: str,
    plain_registry: RegistryServer,
    second_plain_registry: RegistryServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    push_image(plain_registry, "team/app", "1.0", seed="app")
    push_image(plain_registry, "other/app", "1.0", seed="other")
    skopeo = LoggingSkopeo(tmp_path / "bin")
    config = write_config(
        tmp_path,
        f"""
        skopeo: {{binary: {skopeo.binary}}}
        tasks:
          - name: first
            source: {{registry: "{plain_registry.host}", insecure: true}}
            target: {{registry: "{second_plain_registry.host}", insecure: true}}
            mappings:
              - from: regex:team/.*
                to: mirror
          - name: second
            source: {{registry: "{plain_registry.host}", insecure: true}}
            target: {{registry: "{second_plain_registry.host}", insecure: true}}
            mappings:
              - from: regex:other/(.*)
                to: regex:other/,mirror/team/
        """,
    )
    code = main([command, str(config)])
    _out, err = capsys.readouterr()
    assert code == 2
    assert f"{config}:" in err and "tasks[1].mappings[0]" in err
    assert f"{second_plain_registry.host}/mirror/team/app:1.0" in err and "'first'" in err
    assert skopeo.runs() == []
    assert catalog(second_plain_registry) == []


def test_one_mapping_sending_two_sources_to_one_target_exits_2_naming_both(
    plain_registry: RegistryServer,
    second_plain_registry: RegistryServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    push_image(plain_registry, "a/app-00", "1.0", seed="a")
    push_image(plain_registry, "b/app-00", "1.0", seed="b")
    push_image(plain_registry, "c/app-01", "1.0", seed="c")
    skopeo = LoggingSkopeo(tmp_path / "bin")
    config = write_config(
        tmp_path,
        f"""
        skopeo: {{binary: {skopeo.binary}}}
        tasks:
          - name: flat
            source: {{registry: "{plain_registry.host}", insecure: true}}
            target: {{registry: "{second_plain_registry.host}", insecure: true}}
            mappings:
              - from: regex:.*/app-.*
                to: regex:^/.*-(0[01])$,/flat/x$1
        """,
    )
    assert main(["validate", str(config)]) == 0  # a regex `from`: known only once listed
    capsys.readouterr()
    code = main(["sync", str(config)])
    _out, err = capsys.readouterr()
    assert code == 2
    (problem,) = [line for line in err.splitlines() if line.startswith(f"{config}:")]
    assert (
        f"writes {second_plain_registry.host}/flat/x00:1.0 from {plain_registry.host}/b/app-00:1.0" in problem
    )
    assert f"this mapping writes from {plain_registry.host}/a/app-00:1.0" in problem
    assert "tasks[0].mappings[0]" in problem
    assert skopeo.runs() == []
    assert catalog(second_plain_registry) == []


def test_validate_refuses_plain_mappings_of_two_tasks_writing_one_target(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(
        tmp_path,
        """
        tasks:
          - name: one
            source: {registry: 127.0.0.1:1}
            target: {registry: 127.0.0.1:2}
            mappings: [{from: team/app, to: mirror/app, tags: ["1.0", "2.0"]}]
          - name: two
            source: {registry: 127.0.0.1:3}
            target: {registry: "127.0.0.1:2/mirror"}
            mappings: [{from: other/app, to: app, tags: ["2.0"]}]
        """,
    )
    for command in ("validate", "plan", "sync"):  # nothing listens at :1, :2, :3: refused before any contact
        assert main([command, str(config)]) == 2, command
        _out, err = capsys.readouterr()
        assert (
            "tasks[1].mappings[0]" in err
            and "127.0.0.1:2/mirror/app:2.0 from 127.0.0.1:3/other/app:2.0" in err
        )
        assert "task 'one' mapping 0 writes from 127.0.0.1:1/team/app:2.0" in err


def test_the_same_image_selected_by_two_mappings_is_copied_once(
    plain_registry: RegistryServer,
    second_plain_registry: RegistryServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    push_image(plain_registry, "team/app", "1.0", seed="app")
    skopeo = LoggingSkopeo(tmp_path / "bin")
    config = write_config(
        tmp_path,
        f"""
        skopeo: {{binary: {skopeo.binary}}}
        tasks:
          - name: t
            source: {{registry: "{plain_registry.host}", insecure: true}}
            target: {{registry: "{second_plain_registry.host}", insecure: true}}
            mappings:
              - {{from: team/app, to: mirror/app, tags: ["1.0"]}}
              - {{from: "regex:team/.*", to: "regex:team/,mirror/"}}
        """,
    )
    assert main(["sync", str(config)]) == 0
    out, _err = capsys.readouterr()
    assert out.startswith("1 images: 1 copied")
    assert len(skopeo.runs()) == 1
