"""pydantic validation errors → located problems: one plain message per problem, with hints
(did you mean, what was found instead, how to quote YAML)."""

from __future__ import annotations

import re
from typing import Any

from regmirror.config.base import Invalid
from regmirror.config.unknown import known_keys, likely_typo, model_at
from regmirror.config.yamlloc import LocatedDocument, Path
from regmirror.errors import ConfigProblem

_TYPE_MESSAGES = {
    "missing": "required field missing",
    "int_type": "expected a whole number",
    "int_parsing": "expected a whole number",
    "int_from_float": "expected a whole number",
    "bool_type": "expected true or false",
    "bool_parsing": "expected true or false",
    "string_type": "expected a string",
    "float_type": "expected a number",
    "float_parsing": "expected a number",
    "list_type": "expected a list",
    "model_type": "expected a mapping of keys to values",
    "model_attributes_type": "expected a mapping of keys to values",
    "dict_type": "expected a mapping of keys to values",
}


def _kind(value: Any) -> str:
    kinds: list[tuple[type | tuple[type, ...], str]] = [
        (type(None), "nothing (null)"),
        (bool, "true/false"),
        (int, "a number"),
        (float, "a decimal number"),
        (str, "text"),
        (list, "a list"),
        (dict, "a mapping"),
    ]
    return next((name for kind, name in kinds if isinstance(value, kind)), "a value of another kind")


def _found_hint(kind: str, value: Any) -> str:
    if kind == "string_type" and isinstance(value, dict):
        return " (quote entries like 'semver: >=1.0' so YAML keeps them as text)"
    if kind == "string_type" and isinstance(value, bool):
        return " (quote it: YAML reads yes/no/on/off as true/false)"
    return ""


def _unknown_key(path: Path) -> str:
    key = str(path[-1])
    model = model_at(path[:-1])
    allowed = known_keys(model) if model else []
    close = likely_typo(key, allowed)
    if close:
        return f"unknown key '{key}' (did you mean '{close}'?)"
    return f"unknown key '{key}'; allowed here: {', '.join(sorted(allowed))}"


def _literal_message(error: Any) -> str:
    import difflib  # only needed on the error path; keeps cold start short

    expected = str(error.get("ctx", {}).get("expected", ""))
    message = f"expected one of {expected}"
    given = error.get("input")
    if isinstance(given, str):
        options = {option.lower(): option for option in re.findall(r"'([^']*)'", expected)}
        close = difflib.get_close_matches(given.lower(), list(options), n=1, cutoff=0.6)
        message += f" (did you mean '{options[close[0]]}'?)" if close else f", not '{given}'"
    return message


def _bound_message(error: Any) -> str:
    ctx = error.get("ctx", {})
    if "ge" in ctx:
        return f"must be at least {ctx['ge']}"
    return f"must be at most {ctx.get('le')}"


def _message(error: Any) -> str:
    kind = error["type"]
    if kind == "literal_error":
        return _literal_message(error)
    if kind in ("greater_than_equal", "less_than_equal"):
        return _bound_message(error)
    if kind == "too_short":
        return f"expected at least {error.get('ctx', {}).get('min_length', 1)} entry, found none"
    if kind in _TYPE_MESSAGES:
        found = "" if kind == "missing" else f", found {_kind(error.get('input'))}"
        return _TYPE_MESSAGES[kind] + found + _found_hint(kind, error.get("input"))
    return "invalid value"


def _path(error: Any) -> Path:
    # a tagged union names the form it tried (`<types>`): not a key of the file
    return tuple(part for part in error["loc"] if not str(part).startswith("<"))


def problems(errors: list[Any], doc: LocatedDocument) -> list[ConfigProblem]:
    """One problem per error, except a required key reported missing beside its own typo (the typo
    says it all: `artifact-type:` for `artifact-types:`)."""
    typos = [_path(e) for e in errors if e["type"] == "extra_forbidden"]

    def explained(error: Any) -> bool:
        path = _path(error)
        return any(t[:-1] == path[:-1] and likely_typo(str(t[-1]), [str(path[-1])]) for t in typos)

    return [problem(e, doc) for e in errors if not (e["type"] == "missing" and explained(e))]


def problem(error: Any, doc: LocatedDocument) -> ConfigProblem:
    path = _path(error)
    kind = error["type"]
    if kind == "extra_forbidden":
        return doc.problem(path, _unknown_key(path), at_key=True)
    cause = error.get("ctx", {}).get("error")
    if isinstance(cause, Invalid) and cause.key:  # a check of the whole model, about one of its keys
        return doc.problem((*path, *cause.key), str(cause), at_key=True)
    if kind == "value_error" and isinstance(cause, ValueError):
        return doc.problem(path, str(cause))
    return doc.problem(path, _message(error), at_key=kind == "missing")
