"""One sync of a config at a time, through the real command: a second `sync` while `regmirror run`
holds the config exits 1 naming the holder; `--wait` queues behind it; a SIGKILLed holder leaves no
stale lock."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.testbed import RegistryServer, catalog, push_image

REGMIRROR = str(Path(sys.executable).with_name("regmirror"))


def _config(tmp_path: Path, src: RegistryServer, dst: RegistryServer) -> Path:
    path = tmp_path / "mirror.yaml"
    path.write_text(
        "tasks:\n  - name: hourly\n    interval: 3600\n"
        f'    source: {{registry: "{src.host}", skip-tls-verify: true}}\n'
        f'    target: {{registry: "{dst.host}", skip-tls-verify: true}}\n'
        "    mappings: [{from: team/app}]\n",
        encoding="utf-8",
    )
    return path


def _daemon(config: Path, log: Path) -> subprocess.Popen[bytes]:
    out = log.open("wb")
    process = subprocess.Popen([REGMIRROR, "run", str(config)], stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while "run 1 starting" not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    return process


def test_a_second_sync_is_refused_or_waits_and_a_killed_holder_frees_the_lock(
    plain_registry: RegistryServer, second_plain_registry: RegistryServer, tmp_path: Path
) -> None:
    push_image(plain_registry, "team/app", "1.0", seed="lock")
    config = _config(tmp_path, plain_registry, second_plain_registry)
    env = dict(os.environ)
    daemon = _daemon(config, tmp_path / "daemon.log")
    try:
        refused = subprocess.run(
            [REGMIRROR, "sync", str(config)], capture_output=True, text=True, timeout=60, env=env, check=False
        )
        assert refused.returncode == 1
        assert (
            f"is being synced by another regmirror (pid {daemon.pid}, regmirror run, since" in refused.stderr
        )
        assert "--wait" in refused.stderr
        waiting = subprocess.Popen(
            [REGMIRROR, "sync", "--wait", str(config)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        time.sleep(1.5)
        assert waiting.poll() is None  # queued behind the daemon
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(60) == 0
        out, err = waiting.communicate(timeout=60)
        assert waiting.returncode == 0, out + err
        assert f"waiting for the other regmirror syncing this config (pid {daemon.pid}" in err
    finally:
        if daemon.poll() is None:
            daemon.kill()
    holder = _daemon(config, tmp_path / "killed.log")
    holder.send_signal(signal.SIGKILL)
    holder.wait(30)
    after = subprocess.run(
        [REGMIRROR, "sync", str(config)], capture_output=True, text=True, timeout=60, check=False
    )
    assert after.returncode == 0, after.stdout + after.stderr  # the kernel released the lock
    assert catalog(second_plain_registry) == ["team/app"]
