"""Small file helpers for tests."""

from __future__ import annotations

import textwrap
from pathlib import Path


def write_config(tmp_path: Path, yaml_text: str, name: str = "config.yaml") -> Path:
    """Write dedented YAML to `tmp_path/name` and return the path."""
    path = tmp_path / name
    path.write_text(textwrap.dedent(yaml_text).lstrip("\n"))
    return path
