"""Installed as the README says (`pip install -c constraints.txt .` into a fresh venv): exactly the
pinned versions, nothing of AWS, and a working `regmirror`."""

from __future__ import annotations

import re
import subprocess
import sys
import venv
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def pinned(*names: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for name in names:
        for line in (REPO / name).read_text().splitlines():
            match = re.match(r"([A-Za-z0-9_.-]+)==([^\s#]+)", line)
            if match:
                found[match.group(1).lower().replace("_", "-")] = match.group(2)
    return found


def test_the_published_constraints_agree_with_every_requirements_pin() -> None:
    constraints = pinned("constraints.txt")
    requirements = pinned("requirements.txt", "requirements-cli.txt")
    assert requirements and {k: constraints.get(k) for k in requirements} == requirements
    # a `-r` line in a constraints file installs what it names (requirements.txt would bring boto3)
    assert not [line for line in (REPO / "constraints.txt").read_text().splitlines() if line.startswith("-")]


def test_the_pinned_install_gives_the_tested_versions_and_no_aws_packages(tmp_path: Path) -> None:
    venv.create(tmp_path / "venv", with_pip=True)
    python = str(tmp_path / "venv" / "bin" / "python")
    install = [python, "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    subprocess.run([*install, "-c", str(REPO / "constraints.txt"), str(REPO)], check=True, timeout=600)
    frozen = subprocess.run(
        [python, "-m", "pip", "freeze"], capture_output=True, text=True, check=True
    ).stdout
    installed = {
        name.lower().replace("_", "-"): version
        for name, version in (line.split("==") for line in frozen.splitlines() if "==" in line)
    }
    installed.pop("regmirror", None)
    constraints = pinned("constraints.txt")
    assert installed and all(constraints.get(name) == version for name, version in installed.items()), (
        installed
    )
    assert not {"boto3", "botocore", "aws-lambda-powertools"} & set(installed)
    version = subprocess.run(
        [str(tmp_path / "venv" / "bin" / "regmirror"), "--version"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert version.stdout.startswith("regmirror ") and "skopeo" in version.stdout
    assert sys.version_info >= (3, 11)
