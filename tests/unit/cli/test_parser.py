"""The command line from the user's side: completion in a real bash, help with defaults and examples."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REGMIRROR = [sys.executable, "-m", "regmirror.cli.main"]
# bash's completion protocol, as readline drives it: the words, the index of the one completed
COMPLETE = """
source <("$@" completion bash)
try() {
  COMP_WORDS=($1); [[ "$1" == *" " ]] && COMP_WORDS+=("")
  COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 )); COMP_LINE="$1"; COMP_POINT=${#COMP_LINE}; COMPREPLY=()
  _shtab_regmirror regmirror "${COMP_WORDS[-1]}" "${COMP_WORDS[-2]}"
  echo "${COMPREPLY[*]}"
}
try "regmirror sy"
try "regmirror sync --re"
try "regmirror plan mir"
try "regmirror completion "
"""


def test_bash_completes_commands_options_and_config_files(tmp_path: Path) -> None:
    (tmp_path / "mirror.yaml").write_text("tasks: []\n")
    answer = subprocess.run(
        ["bash", "-c", COMPLETE, "bash", *REGMIRROR], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    assert answer.stdout.splitlines() == [
        "sync",
        "--record-file --record-ttl",
        "mirror.yaml",
        "bash zsh tcsh",
    ]


@pytest.mark.parametrize("shell", ["zsh", "tcsh"])
def test_zsh_and_tcsh_scripts_name_every_command(shell: str) -> None:
    script = subprocess.run(
        [*REGMIRROR, "completion", shell], capture_output=True, text=True, check=True
    ).stdout
    for command in ("validate", "plan", "sync", "run", "match", "schema", "completion"):
        assert command in script


def test_every_commands_help_shows_its_defaults_and_examples() -> None:
    from regmirror.cli.parser import EXAMPLES

    for command in EXAMPLES:
        text = subprocess.run(
            [*REGMIRROR, command, "--help"], capture_output=True, text=True, check=True
        ).stdout
        assert "examples:\n  " in text and "regmirror " in text.split("examples:")[1], command
    sync = subprocess.run([*REGMIRROR, "sync", "--help"], capture_output=True, text=True, check=True).stdout
    assert "(default: 1h)" in " ".join(sync.split()) and "--no-record" in sync
    assert "(default: None)" not in sync and "(default: False)" not in sync
