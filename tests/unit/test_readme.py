"""The README's quick start is a config regmirror loads as the README says, and its links resolve."""

from __future__ import annotations

import re
from pathlib import Path

from regmirror.config import load_config

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def test_the_quick_start_config_loads_with_the_mappings_and_tags_it_describes(tmp_path: Path) -> None:
    section = README[README.index("## Quick start") : README.index("## Contents")]
    yaml_text = re.search(r"<<'YAML'\n(.*?)\nYAML\n", section, re.S)
    assert yaml_text is not None
    path = tmp_path / "mirror.yaml"
    path.write_text(yaml_text.group(1) + "\n")
    config = load_config(str(path))
    assert config.warnings == []
    (task,) = config.tasks
    assert [m.from_ for m in task.mappings] == ["library/alpine", "library/busybox"]
    alpine, busybox = (m.rule.tags for m in task.mappings)
    assert alpine.select(["3.18.4", "3.19.1", "3.20.0", "latest"]) == ["3.19.1", "3.20.0"]
    assert busybox.select(["1.35.0", "1.36.1", "1.36.10", "latest"]) == ["1.36.1", "1.36.10"]


def test_every_relative_link_of_the_readme_and_the_docs_pages_resolves() -> None:
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", page.read_text()):
            assert (page.parent / target).exists(), f"{page.name}: {target}"
