"""Keys the config models do not know: a likely typo of a known key is an error (did you mean), anything
else is ignored with a warning, as dregsy's non-strict yaml.v2 ignores it (real configs carry keys of
forks and tools: `mappings_file`, `common: &src` anchors).

A typo is a key within a small edit distance of a known key, or equal to it but for case and `-`/`_`
(`skip_tls_verify`, `intervall`, `tag`); `mappings_file` is not a typo of `mappings`.
"""

from __future__ import annotations

import typing
from typing import Any

from pydantic import BaseModel

from regmirror.config.models import Config
from regmirror.config.yamlloc import LocatedDocument, Path
from regmirror.errors import ConfigProblem


def model_at(path: Path) -> type[BaseModel] | None:
    """The config model that validates the mapping at `path` (None below free-form values)."""
    model: type[BaseModel] | None = Config
    for part in path:
        if model is None:
            return None
        if isinstance(part, int):
            continue
        field = next((f for n, f in model.model_fields.items() if part in (f.alias, n)), None)
        model = _inner_model(field.annotation) if field else None
    return model


def _inner_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _inner_model(arg)
        if found is not None:
            return found
    return None


def known_keys(model: type[BaseModel]) -> list[str]:
    """The keys a model accepts as written in the file (its aliases, else its field names)."""
    return [f.alias or n for n, f in model.model_fields.items()]


def _distance(a: str, b: str) -> int:
    """Optimal string alignment distance (insertions, deletions, substitutions, adjacent swaps)."""
    table = [[i + j if i * j == 0 else 0 for j in range(len(b) + 1)] for i in range(len(a) + 1)]
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            table[i][j] = _cell(table, a, b, i, j)
    return table[len(a)][len(b)]


def _cell(table: list[list[int]], a: str, b: str, i: int, j: int) -> int:
    best = min(table[i - 1][j] + 1, table[i][j - 1] + 1, table[i - 1][j - 1] + (a[i - 1] != b[j - 1]))
    swapped = i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]
    return min(best, table[i - 2][j - 2] + 1) if swapped else best


def _folded(key: str) -> str:
    return key.lower().replace("-", "").replace("_", "")


def likely_typo(key: str, known: list[str]) -> str | None:
    """The known key `key` is probably a misspelling of, or None."""
    same = [candidate for candidate in known if _folded(candidate) == _folded(key)]
    allowed = 1 if len(key) <= 4 else 2
    scored = sorted((_distance(key.lower(), c.lower()), c) for c in known)
    close = [candidate for distance, candidate in scored if distance <= allowed]
    return (same + close + [None])[0]


def drop_unknown_keys(doc: LocatedDocument, data: Any, path: Path = ()) -> list[ConfigProblem]:
    """Remove unknown keys that are not typos from `data` (in place); one warning per removed key.

    Typos stay in, so validation refuses them with a did-you-mean."""
    model = model_at(path)
    if model is None:
        return []
    if isinstance(data, list):
        return [w for index, item in enumerate(data) for w in drop_unknown_keys(doc, item, (*path, index))]
    return _drop_from_mapping(doc, data, path, known_keys(model)) if isinstance(data, dict) else []


def _drop_from_mapping(
    doc: LocatedDocument, data: dict[str, Any], path: Path, known: list[str]
) -> list[ConfigProblem]:
    warnings: list[ConfigProblem] = []
    for key in list(data):
        if key in known:
            warnings += drop_unknown_keys(doc, data[key], (*path, key))
        elif likely_typo(key, known) is None:
            del data[key]
            message = f"unknown key '{key}' ignored (as dregsy ignores it)"
            warnings.append(doc.problem((*path, key), message, at_key=True))
    return warnings
