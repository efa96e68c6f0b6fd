"""Whatever the file holds, loading it ends in a Config or a ConfigError: never another exception.

Deeply nested YAML (the composer recurses per level), control characters, and thousands of mutations
of the example configs (a fixed seed, so a failure reproduces)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from regmirror.config import parse_config
from regmirror.errors import ConfigError

ROOT = Path(__file__).resolve().parents[3]
SEEDS = [p.read_text() for p in sorted((ROOT / "examples").glob("*.yaml"))]
PIECES = [
    *"{}[]:,-&*!|>'\"#%@`\t\n ?",
    "\x00",
    "\x7f",
    "\u2028",
    "\ufeff",
    "9" * 30,
    "<<: *a",
    "!!binary",
    "1e999",
]


@pytest.mark.parametrize("depth", [100, 600, 5000])
def test_deep_nesting_is_a_located_error(depth: int) -> None:
    with pytest.raises(ConfigError, match="nested too deeply"):
        parse_config("tasks: " + "[" * depth + "]" * depth)


@pytest.mark.parametrize("char", ["\x00", "\x01", "\x07", "\x1b", "\x7f", "\ufffe"])
def test_control_characters_are_located_errors(char: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_config(f"tasks:\n  - name: t{char}1\n")
    (problem,) = raised.value.problems
    assert (problem.line, problem.column) == (2, 12)
    assert f"U+{ord(char):04X}" in problem.message


def _mutated(rng: random.Random) -> str:
    text = rng.choice(SEEDS)
    for _ in range(rng.randint(1, 6)):
        pos = rng.randrange(len(text) + 1)
        roll = rng.random()
        if roll < 0.4:
            text = text[:pos] + rng.choice(PIECES) + text[pos:]
        elif roll < 0.7:
            text = text[:pos] + text[pos + rng.randint(1, 20) :]
        else:
            start = rng.randrange(len(text) + 1)
            text = text[:pos] + text[start : start + rng.randint(1, 40)] + text[pos:]
    return text


def test_a_thousand_mutated_configs_load_or_fail_cleanly() -> None:
    rng = random.Random(20261202)
    outcomes = {"loaded": 0, "refused": 0}
    for _ in range(1000):
        try:
            parse_config(_mutated(rng), "fuzz.yaml")
            outcomes["loaded"] += 1
        except ConfigError:
            outcomes["refused"] += 1
    assert outcomes["loaded"] > 0 and outcomes["refused"] > 0  # the mutations do reach both outcomes
