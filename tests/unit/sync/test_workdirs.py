"""Leftover work folders of dead regmirror processes: removed at the next start, and a folder that
vanishes while it is being looked at (its living owner removing it) is no error."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from regmirror.sync.workdirs import WORKDIR_PREFIX, _left_behind, remove_leftovers

DEAD_PID = 2**22 + 4321  # above any pid_max default: never a living process


def test_folders_of_dead_processes_go_those_of_the_living_stay(tmp_path: Path) -> None:
    dead = tmp_path / f"{WORKDIR_PREFIX}{DEAD_PID}-abc"
    alive = tmp_path / f"{WORKDIR_PREFIX}{os.getpid()}-def"
    other = tmp_path / "unrelated-folder"
    for folder in (dead, alive, other):
        folder.mkdir()
    (dead / "src-auth.json").write_text("{}")
    assert remove_leftovers(str(tmp_path)) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([alive.name, other.name])


def test_a_folder_removed_while_looked_at_is_skipped(tmp_path: Path) -> None:
    folder = tmp_path / f"{WORKDIR_PREFIX}{DEAD_PID}-gone"
    folder.mkdir()
    (entry,) = list(os.scandir(tmp_path))
    shutil.rmtree(folder)  # another process's cleanup wins the race
    assert _left_behind(entry) is False
    assert remove_leftovers(str(tmp_path)) == 0
