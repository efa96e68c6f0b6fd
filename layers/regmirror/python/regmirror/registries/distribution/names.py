"""Names from a registry's JSON lists (catalog, tags), validated before anyone else sees them."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

from regmirror.errors import RegistryError

log = logging.getLogger("regmirror.registry")


def string_list(body: Any, key: str, registry: str) -> list[Any]:
    """`body[key]` as a list: null or missing means empty; anything else malformed is an error."""
    if not isinstance(body, dict):
        raise RegistryError(f"{registry}: expected a JSON object with {key!r}", registry=registry)
    value = body.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise RegistryError(f"{registry}: {key!r} is not a list", registry=registry)
    return value


def valid_names(
    values: list[Any], is_valid: Callable[[str], bool], what: str, registry: str, *, warn: bool = True
) -> Iterator[str]:
    """The valid names of `values`; each invalid one skipped with a warning (`warn`: else a debug
    line, for a second listing of names the planner already warned about)."""
    for value in values:
        if isinstance(value, str) and is_valid(value):
            yield value
        else:
            (log.warning if warn else log.debug)(
                "%s: skipping invalid %s name %r", registry, what, str(value)[:300]
            )
