"""Log lines on a terminal are coloured by level, as a person sees them in a real pseudo-terminal;
NO_COLOR, TERM=dumb and anything not a terminal (a pipe, a file, CI logs) get plain text."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

WARNING_CONFIG = "tasks: []\nmappings_file: extra.yaml\n"  # an unknown key: a warning, exit 0


def stderr_of(config: Path, env: dict[str, str], *, terminal: bool) -> str:
    command = [sys.executable, "-m", "regmirror.cli.main", "validate", str(config)]
    if not terminal:
        return subprocess.run(command, capture_output=True, text=True, env=env, check=True).stderr
    primary, secondary = pty.openpty()
    try:
        subprocess.run(command, stdout=subprocess.DEVNULL, stderr=secondary, env=env, check=True, timeout=60)
        os.close(secondary)
        chunks = []
        while True:
            try:
                chunk = os.read(primary, 65536)
            except OSError:  # the terminal's other side closed: all was read
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks).decode()
    finally:
        os.close(primary)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "mirror.yaml"
    path.write_text(WARNING_CONFIG)
    return path


def test_a_warning_is_yellow_on_a_terminal(config: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "TERM")} | {"TERM": "xterm"}
    text = stderr_of(config, env, terminal=True)
    assert "\x1b[33m" in text and "mappings_file" in text


@pytest.mark.parametrize("setting", [{"NO_COLOR": "1"}, {"TERM": "dumb"}])
def test_no_colour_when_asked_not_to(config: Path, setting: dict[str, str]) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "TERM")} | {
        "TERM": "xterm",
        **setting,
    }
    text = stderr_of(config, env, terminal=True)
    assert "mappings_file" in text and "\x1b[" not in text


def test_no_colour_in_a_pipe(config: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"} | {"TERM": "xterm"}
    text = stderr_of(config, env, terminal=False)
    assert "mappings_file" in text and "\x1b[" not in text
