"""Every file in tests/data/bad-configs/errors must fail with exactly one problem at the expected place;
every file in tests/data/bad-configs/warnings loads (as dregsy loads it) with exactly one warning there.

Each file starts with `# expect: <line>:<field-path>:<substring of the message>`; the field path is
empty for problems of the document as a whole (YAML syntax, empty file).
"""

from __future__ import annotations

import pathlib

import pytest
from regmirror.config import load_config
from regmirror.errors import ConfigError

BAD = pathlib.Path(__file__).resolve().parents[2] / "data" / "bad-configs"
FILES = sorted((BAD / "errors").glob("*.yaml"))
WARNINGS = sorted((BAD / "warnings").glob("*.yaml"))


def _expectation(path: pathlib.Path) -> tuple[int, str, str]:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("# expect: "), f"{path.name}: first line must be '# expect: ...'"
    line, field, message = first.removeprefix("# expect: ").split(":", 2)
    return int(line), field, message


def test_corpus_is_large_enough() -> None:
    assert len(FILES) >= 35
    assert len(WARNINGS) >= 10


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_bad_config_reports_one_located_problem(path: pathlib.Path) -> None:
    line, field, message = _expectation(path)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    problems = caught.value.problems
    assert len(problems) == 1, str(caught.value)
    problem = problems[0]
    assert problem.file == str(path)
    assert (problem.line, problem.field) == (line, field), str(problem)
    assert message in problem.message, str(problem)
    assert problem.column >= 1, str(problem)
    # the printed form names file, line, column and field in one line
    assert str(problem).startswith(f"{path}:{line}:{problem.column}: ")
    assert "pydantic" not in str(problem).lower()
    assert "Input should" not in problem.message


@pytest.mark.parametrize("path", WARNINGS, ids=[p.stem for p in WARNINGS])
def test_questionable_config_loads_with_one_located_warning(path: pathlib.Path) -> None:
    line, field, message = _expectation(path)
    config = load_config(path)
    assert len(config.warnings) == 1, config.warnings
    (warning,) = config.warnings
    where = f"{path}:{line}:"
    assert warning.startswith(where), warning
    detail = warning.removeprefix(where).split(": ", 1)[1]  # after the column
    if field:
        assert detail.startswith(f"{field}: ") and message in detail, warning
    else:
        assert detail.startswith(message), warning
