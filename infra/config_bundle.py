"""The config shipped to the functions: the config file plus the files it names, as one folder.

A config may name files relative to itself (`ca-file`, `ecr.lifecycle-policy`); the functions load it
from a copy of that folder in /tmp, so those paths must resolve there too. Files outside the
config's folder (absolute paths, `../`) exist on the machine that runs `cdk synth` but not in Lambda,
so they are refused here with the field that names them.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import yaml
from regmirror.errors import ConfigError, ConfigProblem

# Keys of a source/target whose value may be a file path (relative to the config file).
_FILE_KEYS = ("ca-file",)
_ECR_FILE_KEYS = ("lifecycle-policy",)


def _candidates(side: dict[str, Any], where: str) -> list[tuple[str, str]]:
    found = [(f"{where}.{key}", side[key]) for key in _FILE_KEYS if isinstance(side.get(key), str)]
    ecr = side.get("ecr")
    if isinstance(ecr, dict):
        for key in _ECR_FILE_KEYS:
            value = ecr.get(key)
            if isinstance(value, str) and not value.lstrip().startswith("{"):  # inline JSON is no file
                found.append((f"{where}.ecr.{key}", value))
    return found


def referenced_files(config_path: Path) -> list[tuple[str, str]]:
    """(field, path as written) for every file the config names."""
    data = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    found: list[tuple[str, str]] = []
    tasks = data.get("tasks") if isinstance(data, dict) else None
    for index, task in enumerate(tasks if isinstance(tasks, list) else []):
        for side in ("source", "target"):
            value = task.get(side) if isinstance(task, dict) else None
            if isinstance(value, dict):
                found.extend(_candidates(value, f"tasks[{index}].{side}"))
    return found


def _inside(base: Path, written: str, field: str, config_path: Path) -> Path:
    relative = Path(written).expanduser()
    resolved = (base / relative).resolve()
    if relative.is_absolute() or not resolved.is_relative_to(base.resolve()):
        raise ConfigError(
            [
                ConfigProblem(
                    str(config_path),
                    0,
                    0,
                    field,
                    f"{written!r} is outside the config's folder; on AWS the config is shipped with the "
                    "files next to it, so give a path relative to the config file, inside its folder",
                )
            ]
        )
    return resolved


def stage_config_bundle(config_path: Path, staging_root: Path | None = None) -> Path:
    """A folder holding the config and the files it names, at the same relative paths."""
    base = config_path.parent
    bundle = Path(tempfile.mkdtemp(prefix="regmirror-config-", dir=staging_root))
    shutil.copy2(config_path, bundle / config_path.name)
    for field, written in referenced_files(config_path):
        source = _inside(base, written, field, config_path)
        destination = bundle / source.relative_to(base.resolve())
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, destination)
    return bundle
