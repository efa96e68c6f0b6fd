"""Bad configs through the command line: exit code 2, one located message, nothing copied.

The corpus (tests/data/bad-configs, each file's first line says where its one problem is) is checked
problem by problem in tests/unit/config/test_bad_configs.py; here every file goes through `regmirror sync`.
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
FILES = sorted(BAD.glob("*.yaml"))


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
    code = main(["sync", str(path), "--json"])
    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""  # no report: nothing was planned, let alone copied
    problems = [p for p in err.splitlines() if p.startswith(str(path))]
    assert len(problems) == 1, err
    assert problems[0].startswith(f"{path}:{line}:" if line else str(path))
    assert f": {field}: " in problems[0] if field else True
    assert "Traceback" not in err


def test_corpus_covers_every_category_of_the_issue() -> None:
    names = {p.stem for p in FILES}
    categories = {
        "yaml syntax": "yaml-",
        "wrong types": "wrong-type-",
        "unknown keys": "unknown-",
        "bad regex": "-bad-regex",
        "bad replacement template": "to-bad-group",
        "missing required fields": "missing-",
        "duplicate task names": "duplicate-task-names",
        "bad semver ranges": "tags-bad-semver",
        "unreadable auth": "auth-base64-of-binary",
        "interval below minimum": "interval-below-minimum",
    }
    missing = [what for what, marker in categories.items() if not any(marker in name for name in names)]
    assert missing == []
    assert len(FILES) >= 30


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
