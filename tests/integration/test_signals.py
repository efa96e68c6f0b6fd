"""Stopping `regmirror sync` as Kubernetes, systemd and a terminal do, on the real process tree: the run
stops within the grace time (a second signal at once), its skopeo children are killed and no folder
holding credentials survives; after a SIGKILL, the next run removes what the dead one left."""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.testbed import RegistryServer, push_image

REGMIRROR = str(Path(sys.executable).with_name("regmirror"))
ANSWERS_VERSION = 'case "$1" in --version) echo "skopeo version 1.9.3"; exit 0;; esac\n'


def _slow_skopeo(tmp_path: Path) -> tuple[Path, Path]:
    """A skopeo that never finishes (it records its pid, then sleeps): a copy in flight."""
    pids = tmp_path / "skopeo.pids"
    script = tmp_path / "slow-skopeo"
    # `--version` answers as skopeo does (regmirror asks it before any work), a copy never ends
    script.write_text(f"#!/bin/sh\n{ANSWERS_VERSION}echo $$ >> {pids}\nexec sleep 300\n")
    script.chmod(0o755)
    return script, pids


def _config(tmp_path: Path, src: RegistryServer, dst: RegistryServer, skopeo: str) -> Path:
    auth = base64.b64encode(f"{src.username}:{src.password}".encode()).decode()
    path = tmp_path / f"mirror-{Path(skopeo).name}.yaml"
    path.write_text(
        f"skopeo: {{binary: {skopeo}}}\n"
        "tasks:\n  - name: t\n"
        f'    source: {{registry: "{src.host}", skip-tls-verify: true, auth: {auth}}}\n'
        f'    target: {{registry: "{dst.host}", skip-tls-verify: true}}\n'
        "    mappings: [{from: team/app}]\n"
    )
    return path


def _start(config: Path, tmpdir: Path, pids: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "TMPDIR": str(tmpdir)}
    process = subprocess.Popen(
        [REGMIRROR, "sync", "--no-record", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    deadline = time.monotonic() + 60
    while not pids.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert pids.exists(), "skopeo never started"
    return process


def _work_folders(tmpdir: Path) -> list[Path]:
    return sorted(tmpdir.glob("regmirror-relay-*"))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture
def setup(
    auth_registry: RegistryServer, plain_registry: RegistryServer, tmp_path: Path
) -> tuple[Path, Path, Path]:
    push_image(auth_registry, "team/app", "1.0", seed="signals")
    script, pids = _slow_skopeo(tmp_path)
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    return _config(tmp_path, auth_registry, plain_registry, str(script)), tmpdir, pids


@pytest.mark.parametrize("stop", ["SIGTERM", "SIGHUP", "SIGINT"])
def test_a_signal_stops_within_the_grace_time_and_leaves_no_credentials(
    stop: str, setup: tuple[Path, Path, Path]
) -> None:
    config, tmpdir, pids = setup
    process = _start(config, tmpdir, pids)
    (folder,) = _work_folders(tmpdir)  # $TMPDIR is honoured
    assert (folder / "src-auth.json").exists()
    started = time.monotonic()
    process.send_signal(getattr(signal, stop))
    _out, err = process.communicate(timeout=30)
    assert process.returncode == 128 + getattr(signal, stop)
    assert time.monotonic() - started < 25  # the grace time (10 s), then the children are killed
    assert f"stopped by {stop}" in err
    assert _work_folders(tmpdir) == []
    assert not any(_alive(int(pid)) for pid in pids.read_text().split())


def test_a_second_signal_aborts_at_once(setup: tuple[Path, Path, Path]) -> None:
    config, tmpdir, pids = setup
    process = _start(config, tmpdir, pids)
    process.send_signal(signal.SIGTERM)
    time.sleep(1)
    assert process.poll() is None  # waiting for the running copy
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    process.communicate(timeout=30)
    assert time.monotonic() - started < 8  # at once: well before the 10 s grace would end
    assert process.returncode == 128 + signal.SIGTERM
    assert _work_folders(tmpdir) == []


def test_after_a_sigkill_the_next_run_removes_the_credentials_left_behind(
    setup: tuple[Path, Path, Path],
    auth_registry: RegistryServer,
    plain_registry: RegistryServer,
    tmp_path: Path,
) -> None:
    config, tmpdir, pids = setup
    process = _start(config, tmpdir, pids)
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=30)
    for pid in pids.read_text().split():  # the orphaned child: not ours to find, the test ends it
        os.kill(int(pid), signal.SIGKILL)
    (left,) = _work_folders(tmpdir)
    assert (left / "src-auth.json").exists()
    real = _config(tmp_path, auth_registry, plain_registry, "skopeo")
    done = subprocess.run(
        [REGMIRROR, "sync", "--no-record", str(real)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "TMPDIR": str(tmpdir)},
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "removed 1 work folder(s) with credentials left by dead regmirror runs" in done.stderr
    assert _work_folders(tmpdir) == []


def test_regmirror_run_stops_its_running_task_within_the_grace_time(setup: tuple[Path, Path, Path]) -> None:
    """The daemon no longer finishes a long task first: its copies get the grace time, then go."""
    config, tmpdir, pids = setup
    env = {**os.environ, "TMPDIR": str(tmpdir)}
    process = subprocess.Popen(
        [REGMIRROR, "run", "--no-record", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    deadline = time.monotonic() + 60
    while not pids.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    _out, err = process.communicate(timeout=60)
    assert time.monotonic() - started < 25
    assert "SIGTERM: stopping; no new copies start, running ones get 10 s" in err
    assert _work_folders(tmpdir) == []
    assert not any(_alive(int(pid)) for pid in pids.read_text().split())
