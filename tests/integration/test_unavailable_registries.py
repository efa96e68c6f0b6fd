"""Registries that die or freeze under a running `regmirror sync`, on the real process tree: a dead
target fails the rest of the run at once with one message (its circuit breaker), a target frozen
mid-copy (SIGSTOP: connections accepted, never answered) is found by stall detection, the stalled
copies are killed and retried, and then the rest fails fast; nothing is left behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.testbed import RegistryServer, push_image, push_repositories

REGMIRROR = str(Path(sys.executable).with_name("regmirror"))


def _config(tmp_path: Path, src: RegistryServer, dst: RegistryServer, extra: str = "") -> Path:
    path = tmp_path / "mirror.yaml"
    path.write_text(
        extra + "tasks:\n  - name: t\n"
        f'    source: {{registry: "{src.host}", skip-tls-verify: true}}\n'
        f'    target: {{registry: "{dst.host}", skip-tls-verify: true}}\n'
        '    mappings: [{from: "regex:team/.*"}]\n'
    )
    return path


def _sync(config: Path, tmpdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TMPDIR": str(tmpdir)}
    command = [REGMIRROR, "sync", "--no-record", "--json", *args, str(config)]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=300, check=False)


def test_a_dead_target_fails_the_rest_of_the_run_at_once_with_one_message(
    plain_registry: RegistryServer, second_plain_registry: RegistryServer, tmp_path: Path
) -> None:
    names = [f"team/app{i:02d}" for i in range(24)]
    push_repositories(plain_registry, names, "1.0")
    config = _config(tmp_path, plain_registry, second_plain_registry)
    second_plain_registry.kill()
    done = _sync(config, tmp_path)
    assert done.returncode == 1
    report = json.loads(done.stdout)
    errors = [r["error"] for r in report["results"]]
    assert len(errors) == len(names) and all(r["status"] == "failed" for r in report["results"])
    not_tried = [e for e in errors if "unavailable, not tried" in e]
    # the checks in flight when the breaker opened (8 workers) fail on their own; the rest at once
    assert len(not_tried) >= len(names) - 8
    host = second_plain_registry.host
    assert list(report["unavailable"]) == [host]
    assert report["unavailable"][host].endswith(f"; {len(not_tried)} not tried")
    opened = [line for line in done.stderr.splitlines() if "operations in a row got no answer" in line]
    assert len(opened) == 1 and f"{host} unavailable" in opened[0] and "nothing listens" in opened[0]


def _freezing_skopeo(tmp_path: Path, registry: RegistryServer) -> Path:
    """skopeo, but first the target registry is frozen (SIGSTOP), a moment after the first copy was
    handed out (the digest checks, sent together at the start, are answered by then): the copies
    then hang on a registry that never answers."""
    script = tmp_path / "freezing-skopeo"
    script.write_text(
        '#!/bin/sh\ncase "$1" in --version) exec skopeo --version;; esac\n'
        f"sleep 0.5\nkill -STOP {registry.pid}\n"
        f'echo $$ >> {tmp_path / "skopeo.pids"}\nexec skopeo "$@"\n'
    )
    script.chmod(0o755)
    return script


def test_a_target_frozen_mid_copy_is_found_stalled_and_the_rest_fails_fast(
    plain_registry: RegistryServer, second_plain_registry: RegistryServer, tmp_path: Path
) -> None:
    for i in range(6):
        push_image(plain_registry, f"team/app{i}", "1.0", seed=f"frozen-{i}", layer_size=4 << 20)
    skopeo = _freezing_skopeo(tmp_path, second_plain_registry)
    extra = f"skopeo: {{binary: {skopeo}, stall-timeout: 2s}}\nretry: {{copy-attempts: 2}}\n"
    config = _config(tmp_path, plain_registry, second_plain_registry, extra)
    work = tmp_path / "tmp"
    work.mkdir()
    try:
        done = _sync(config, work, "--concurrency", "2")
    finally:
        second_plain_registry.resume()
    assert done.returncode == 1
    reasons = sorted({r["reason"] for r in json.loads(done.stdout)["results"]})
    assert reasons == ["stalled", "unavailable"]
    assert "killing it as stalled" in done.stderr
    assert f"{second_plain_registry.host} unavailable" in done.stderr
    assert f"{plain_registry.host} unavailable" not in done.stderr  # the source answered its probe
    # each stalled copy ran skopeo; after the breaker opened none started: at most 2 rounds of 2
    pids = (tmp_path / "skopeo.pids").read_text().split()
    assert len(pids) <= 4
    assert list(work.glob("regmirror-relay-*")) == []
    for pid in pids:
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            continue
        os.kill(int(pid), signal.SIGKILL)
        raise AssertionError(f"skopeo {pid} outlived the run")
