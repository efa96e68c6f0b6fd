"""`regmirror schema`: the config's JSON Schema accepts every config regmirror accepts, refuses the
mistakes an editor should point at, documents every field, and the published copy is current."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from regmirror.cli.main import main
from regmirror.config import load_config
from regmirror.config.schema import PUBLISHED, config_schema

ROOT = Path(__file__).resolve().parents[3]
CONFIGS = sorted(
    [
        *ROOT.glob("examples/*.yaml"),
        *ROOT.glob("examples/aws/*.yaml"),
        *ROOT.glob("tests/data/good-configs/*.yaml"),
    ]
)


def validator() -> jsonschema.Draft202012Validator:
    schema = config_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def problems(document: Any) -> list[str]:
    """Every failure at its deepest (inside an `anyOf` such as "a lister or nothing")."""

    def leaves(error: jsonschema.ValidationError) -> list[jsonschema.ValidationError]:
        return [leaf for child in error.context for leaf in leaves(child)] if error.context else [error]

    found = [leaf for error in validator().iter_errors(document) for leaf in leaves(error)]
    return [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in found]


class EditorLoader(yaml.SafeLoader):
    """YAML as an editor's language server reads it (YAML 1.2's core schema: `2024-01-01` is text,
    as regmirror reads it), not PyYAML's 1.1 timestamps."""


EditorLoader.yaml_implicit_resolvers = {
    first: [(tag, regex) for tag, regex in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_config_regmirror_loads_is_valid_under_the_schema(path: Path) -> None:
    load_config(str(path))  # loads (its warnings, e.g. dregsy's ignored docker section, are no errors)
    assert problems(yaml.load(path.read_text(), Loader=EditorLoader)) == []  # noqa: S506 - a SafeLoader


def test_what_the_validators_accept_beyond_the_python_types_is_in_the_schema() -> None:
    document = {
        "lister": {"cacheDuration": "1h30m", "maxItems": -1},
        "skopeo": {"timeout": "45m", "stall-timeout": 90},
        "docker": {"api-version": 1.24},  # a number read as text, as Go's decoder does
        "tasks": [
            {
                "name": "t",
                "interval": 60,
                "source": {"registry": "a.example", "auth-refresh": "10h"},
                "target": {"registry": "b.example:5000"},
                "mappings": [{"from": "regex:team/.*", "to": "mirror", "tags": None}],  # `tags:` empty
            }
        ],
    }
    assert problems(document) == []


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        (
            {
                "tasks": [
                    {"name": "t", "source": {"registry": "a"}, "target": {"registry": "b"}, "mapping": []}
                ]
            },
            "tasks.0: Additional properties are not allowed ('mapping' was unexpected)",
        ),
        ({"tasks": [{"name": "t", "source": {"registry": "a"}}]}, "tasks.0: 'target' is a required property"),
        ({"lister": {"cacheDuration": "an hour"}}, "lister.cacheDuration: 'an hour' does not match"),
        (
            {
                "tasks": [
                    {"name": "t", "interval": "10m", "source": {"registry": "a"}, "target": {"registry": "b"}}
                ]
            },
            "tasks.0.interval: '10m' is not of type 'integer'",
        ),
        ({"lister": {"pageSize": 5000}}, "lister.pageSize: 5000 is greater than the maximum of 1000"),
        (
            {
                "tasks": [
                    {
                        "name": "t",
                        "source": {"registry": "a", "lister": {"type": "gitlab"}},
                        "target": {"registry": "b"},
                    }
                ]
            },
            "tasks.0.source.lister.type: 'gitlab' is not one of",
        ),
    ],
)
def test_mistakes_an_editor_should_show_are_refused(document: dict[str, Any], expected: str) -> None:
    assert any(p.startswith(expected) for p in problems(document)), problems(document)


@pytest.mark.parametrize(
    "text",
    [
        "1h",
        "90m",
        "1h30m",
        "1.5h",
        ".5s",
        "1.s",
        "-1s",
        "+2m",
        "0",
        " 10h ",
        "3µs",
        "3μs",
        "300ms",
        "",
        "1",
        "h",
        ".s",
        "1d",
        "1h30",
        "--1s",
        "1 h",
        "0s0",
    ],
)
def test_the_schemas_duration_pattern_reads_what_the_config_loader_reads(text: str) -> None:
    from regmirror.config.base import GO_DURATION
    from regmirror.config.values import parse_go_duration

    try:
        parse_go_duration(text)
        loads = True
    except ValueError:
        loads = False
    assert (re.search(GO_DURATION, text) is not None) == loads


def test_every_field_of_every_section_is_described() -> None:
    schema = config_schema()
    sections = {"Config": schema, **schema["$defs"]}
    undocumented = [
        f"{section}.{name}"
        for section, body in sections.items()
        for name, field in body.get("properties", {}).items()
        if not field.get("description")
    ]
    assert undocumented == []


def test_the_published_schema_is_what_the_command_prints(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["schema"]) == 0
    printed = capsys.readouterr().out
    assert json.loads(printed) == config_schema()
    assert main(["schema", "-o", str(tmp_path / "s.json")]) == 0
    assert (tmp_path / "s.json").read_text() == printed
    assert (ROOT / PUBLISHED).read_text() == printed, "run `regmirror schema -o docs/regmirror.schema.json`"
