"""The command line as monitoring and shell pipelines see it: usage errors exit 2 before any work,
`--task` reads as dregsy's `-run`, and a reader that goes away (`| head`) ends the run quietly."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.testbed import RegistryServer, push_image

ROOT = Path(__file__).resolve().parents[2]
REGMIRROR = str(Path(sys.executable).with_name("regmirror"))
TASK = """  - name: {name}
    source: {{registry: 127.0.0.1:1, insecure: true}}
    target: {{registry: 127.0.0.1:2, insecure: true}}
    mappings:
      - from: team/app
        to: mirror/app
        tags: [{tags}]
"""


def config(tmp_path: Path, names: list[str], tags: list[str] | None = None) -> Path:
    """Tasks whose registries nothing listens at (127.0.0.1:1 and :2): any contact would fail."""
    entries = ", ".join(f'"{t}"' for t in tags or ["1.0"])
    path = tmp_path / "regmirror.yaml"
    path.write_text("tasks:\n" + "".join(TASK.format(name=n, tags=entries) for n in names), encoding="utf-8")
    return path


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([REGMIRROR, *args], capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.parametrize("command", ["validate", "plan", "sync", "run"])
def test_a_task_pattern_selecting_nothing_is_a_usage_error(command: str, tmp_path: Path) -> None:
    path = config(tmp_path, ["task-a", "b-task"])
    done = run(command, str(path), "--task", "task-c")
    assert done.returncode == 2
    assert f"regmirror: --task 'task-c' selects no task of {path} (its tasks: task-a, b-task)" in done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""


def test_task_patterns_read_as_dregsy_run(tmp_path: Path) -> None:
    path = config(tmp_path, ["task-a", "b-task", "task-ab-task", "other"])
    assert run("validate", str(path), "--task", "task-a").stdout.endswith("ok (1 tasks, 1 mappings)\n")
    # `^task-a|b-task$`: task-a, b-task and task-ab-task (dregsy's reading of the alternation)
    assert "ok (3 tasks, 3 mappings)" in run("validate", str(path), "--task", "task-a|b-task").stdout
    assert "ok (3 tasks, 3 mappings)" in run("validate", str(path), "--task", " !other ").stdout


@pytest.mark.parametrize(
    "args",
    [
        ["sync", "--record-ttl", "1week"],
        ["run", "--record-ttl", "soon"],
        ["sync", "--record-ttl", "48h"],  # more than the 24h cap
        ["sync", "--concurrency", "0"],
    ],
)
def test_a_bad_option_value_exits_2_with_usage(args: list[str], tmp_path: Path) -> None:
    path = config(tmp_path, ["t"])
    done = run(args[0], str(path), *args[1:])
    assert done.returncode == 2
    assert "usage: regmirror" in done.stderr
    assert args[1] in done.stderr
    assert "Traceback" not in done.stderr


def test_a_good_record_ttl_is_taken(tmp_path: Path) -> None:
    path = config(tmp_path, ["t"])
    done = run("sync", str(path), "--record-ttl", "1h30m", "--json", "--task", "t")
    assert done.returncode == 1  # nothing listens at the registries: the check fails, no usage error
    assert "usage:" not in done.stderr


def test_a_reader_that_goes_away_ends_the_run_quietly(tmp_path: Path) -> None:
    """`regmirror plan … | head -1`: offline (a plain `from` with verbatim tags needs no registry)."""
    path = config(
        tmp_path, ["t"], [f"1.{n}" for n in range(3000)]
    )  # ≈ 250 KB of plan: more than a pipe holds
    with subprocess.Popen(
        [REGMIRROR, "plan", "--no-check", str(path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    ) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        first = proc.stdout.readline()
        proc.stdout.close()  # what `head -1` does after its line
        stderr = proc.stderr.read().decode()
        code = proc.wait(timeout=60)
    assert first == b"task t\n"
    assert code == 141
    assert "Traceback" not in stderr
    assert "BrokenPipeError" not in stderr


# -- skopeo: asked before any work ------------------------------------------------------------------
def _with_skopeo(tmp_path: Path, binary: str) -> Path:
    path = config(tmp_path, ["t"])
    path.write_text(f"skopeo: {{binary: {binary}}}\n" + path.read_text(), encoding="utf-8")
    return path


def _old_skopeo(tmp_path: Path) -> str:
    """What Ubuntu 22.04's apt install gives: skopeo 1.4.1, which has no --preserve-digests."""
    script = tmp_path / "skopeo-1.4"
    script.write_text('#!/bin/sh\necho "skopeo version 1.4.1"\n', encoding="utf-8")
    script.chmod(0o755)
    return str(script)


@pytest.mark.parametrize("command", ["sync", "run"])
def test_a_missing_or_old_skopeo_fails_before_any_work_with_the_fix_in_one_line(
    command: str, tmp_path: Path
) -> None:
    missing = run(command, str(_with_skopeo(tmp_path, "/nonexistent/skopeo")))
    assert missing.returncode == 1 and missing.stdout == ""
    (line,) = missing.stderr.strip().splitlines()
    assert "skopeo not found: '/nonexistent/skopeo'" in line and "apt install skopeo" in line
    old = run(command, str(_with_skopeo(tmp_path, _old_skopeo(tmp_path))))
    assert old.returncode == 1
    (line,) = old.stderr.strip().splitlines()
    assert "skopeo 1.4.1 at " in line and "needs skopeo 1.6.0 or newer (for --preserve-digests)" in line
    # nothing was listed or checked: the registries (nothing listens there) were never asked
    assert "cannot reach" not in missing.stderr + old.stderr


def test_validate_says_skopeo_is_missing_without_failing_a_ci_that_has_none(tmp_path: Path) -> None:
    path = _with_skopeo(tmp_path, "/nonexistent/skopeo")
    for extra in ([], ["--strict"]):
        done = run("validate", str(path), *extra)
        assert done.returncode == 0, done.stderr
        assert "skopeo not found" in done.stderr and "(needed to sync)" in done.stderr


def test_version_names_the_skopeo_it_will_use() -> None:
    done = run("--version")
    assert done.returncode == 0
    first, second = done.stdout.splitlines()
    assert first.startswith("regmirror ")
    assert second.startswith("skopeo ") and " at /" in second


# -- how much is said: -q, default, -v, -vv ----------------------------------------------------------
def test_quiet_default_verbose_and_very_verbose(auth_registry: RegistryServer, tmp_path: Path) -> None:
    import base64

    for name in ("team/alpha", "team/beta"):
        push_image(auth_registry, name, "1.0", seed=name)
    secret = base64.b64encode(f"{auth_registry.username}:{auth_registry.password}".encode()).decode()
    path = tmp_path / "mirror.yaml"
    path.write_text(
        "tasks:\n  - name: t\n"
        f'    source: {{registry: "{auth_registry.host}", skip-tls-verify: true, auth: {secret}}}\n'
        "    target: {registry: 127.0.0.1:2, insecure: true}\n"
        '    mappings: [{from: "regex:team/.*", to: mirror}]\n',
        encoding="utf-8",
    )
    said = {flags: run(*flags, "plan", "--no-check", str(path)) for flags in [("-q",), (), ("-v",), ("-vv",)]}
    assert all(done.returncode == 0 and "2 images" in done.stdout for done in said.values())
    quiet, default, verbose, very = (said[k].stderr for k in [("-q",), (), ("-v",), ("-vv",)])
    assert " INFO " not in quiet and " DEBUG " not in quiet
    assert "lister returned 2 names, 2 matched 'regex:team/.*'" in default
    assert "team/alpha" not in default  # the names themselves are debug output
    assert "matched team/alpha, team/beta" in verbose and "urllib3" not in verbose
    assert "urllib3.connectionpool" in very and "GET /v2/_catalog" in very
    for text in said.values():  # however much is said, never a credential
        assert auth_registry.password not in text.stderr + text.stdout and secret not in text.stderr
