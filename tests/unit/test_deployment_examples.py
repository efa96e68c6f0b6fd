"""The deployment examples run what they say: systemd accepts the units (systemd-analyze verify), and
the commands of the units and of the Kubernetes CronJob are valid regmirror command lines, run as the
container image's user."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import yaml
from regmirror.cli.parser import build_parser

ROOT = Path(__file__).resolve().parents[2]
SYSTEMD = ROOT / "examples" / "systemd"
REGMIRROR = str(Path(sys.executable).with_name("regmirror"))


def test_systemd_accepts_the_units_and_their_commands_are_regmirror_command_lines(tmp_path: Path) -> None:
    for unit in SYSTEMD.iterdir():
        # the units name /usr/local/bin/regmirror; verify checks the binary exists: point it at ours
        (tmp_path / unit.name).write_text(unit.read_text().replace("/usr/local/bin/regmirror", REGMIRROR))
    verified = subprocess.run(
        [
            shutil.which("systemd-analyze") or "systemd-analyze",
            "verify",
            *sorted(map(str, tmp_path.iterdir())),
        ],
        capture_output=True,
        text=True,
    )
    assert verified.returncode == 0, verified.stderr
    for unit in SYSTEMD.glob("*.service"):
        (command,) = re.findall(r"^ExecStart=/usr/local/bin/regmirror (.*)$", unit.read_text(), re.M)
        args = build_parser().parse_args(shlex.split(command))
        assert args.command in ("run", "sync") and args.config == "/etc/regmirror/mirror.yaml"


def test_the_cronjob_runs_a_sync_as_the_images_user_with_a_writable_tmp_and_state() -> None:
    job = yaml.safe_load((ROOT / "examples" / "kubernetes" / "cronjob.yaml").read_text())
    pod = job["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    install = (ROOT / "examples" / "container" / "install.sh").read_text()
    assert "regmirror:x:10001:10001" in install
    assert pod["securityContext"]["runAsUser"] == pod["securityContext"]["runAsGroup"] == 10001
    (container,) = pod["containers"]
    args = build_parser().parse_args(container["args"])
    assert args.command == "sync" and args.config.startswith("/config/")
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    env = {e["name"]: e["value"] for e in container["env"]}
    # a read-only root filesystem: skopeo's work folders (/tmp) and the copy record must be volumes
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert "/tmp" in mounts and env["XDG_STATE_HOME"] in mounts and env["DOCKER_CONFIG"] in mounts
    assert mounts["/config"]["readOnly"] is True
