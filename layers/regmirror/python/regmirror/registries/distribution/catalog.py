"""`/v2/_catalog`: every repository name, page by page, with the refusals explained.

Registries that refuse listing (Docker Hub, GHCR, …) answer 401/403/404/405 or UNSUPPORTED: that becomes
a ListerError naming the listers that work there.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import requests

from regmirror.errors import AuthError, ListerError, RegistryResponseError, TokenError
from regmirror.registries.distribution.names import string_list, valid_names
from regmirror.registries.paging import PagingLimits
from regmirror.rules import refs

if TYPE_CHECKING:
    from regmirror.registries.distribution.client import RegistryClient

log = logging.getLogger("regmirror.registry")

CATALOG_SCOPE = "registry:catalog:*"
FALLBACK_CATALOG_PAGE = 100  # what registries that refuse a larger `n` page by
MAX_CATALOG_PAGE = 1000  # distribution rejects larger `n`


def repositories(client: RegistryClient, page_size: int, limits: PagingLimits | None = None) -> Iterator[str]:
    """Every repository name of the catalog (invalid names skipped with a warning); ListerError when the
    paging does not advance (a page of names all seen before) or passes the limits."""
    limits = limits or PagingLimits()
    size = min(max(1, page_size), MAX_CATALOG_PAGE)
    body, answer = _first_page(client, size)
    seen_pages: set[str] = set()
    seen_names: set[str] = set()
    for page in range(1, limits.pages + 1):
        names = list(
            valid_names(
                string_list(body, "repositories", client.registry),
                refs.valid_repository,
                "repository",
                client.registry,
            )
        )
        _check_advance(client, names, seen_names, page, limits)
        yield from names
        path = client.next_page(answer, seen_pages)
        if path is None:
            return
        body, answer = client.catalog_page(path)
    raise ListerError(
        f"{client.registry}: the catalog names a next page after {limits.pages} pages; stopped "
        "(a registry paging without end?). Raise lister.pageLimit if it really holds more."
    )


def _check_advance(
    client: RegistryClient, names: list[str], seen: set[str], page: int, limits: PagingLimits
) -> None:
    fresh = [name for name in names if name not in seen]
    if names and not fresh:
        raise ListerError(
            f"{client.registry}: catalog page {page} repeats names of earlier pages (from {names[0]!r}): "
            "its paging does not advance; stopped"
        )
    seen.update(fresh)
    if len(seen) > limits.names:
        raise ListerError(
            f"{client.registry}: the catalog passed {limits.names} names on page {page}; stopped. "
            "Raise lister.nameLimit if it really holds more."
        )


def _first_page(client: RegistryClient, size: int) -> tuple[Any, requests.Response]:
    try:
        return _refusal_explained(client, f"/v2/_catalog?n={size}")
    except RegistryResponseError as exc:
        # Some registries cap `n` lower than distribution's 1000 and answer 400: use their default.
        if not (exc.status == 400 and size > FALLBACK_CATALOG_PAGE):
            raise
    log.info("%s: catalog refused n=%d, paging by %d", client.registry, size, FALLBACK_CATALOG_PAGE)
    return _refusal_explained(client, f"/v2/_catalog?n={FALLBACK_CATALOG_PAGE}")


def _refusal_explained(client: RegistryClient, path: str) -> tuple[Any, requests.Response]:
    """The first page; a registry that refuses listing raises a ListerError naming what works there."""
    try:
        return client.catalog_page(path)
    except TokenError:
        raise
    except AuthError as exc:
        client.ping()  # a 401 on the catalog is a refused listing unless /v2/ refuses us too
        raise _refused(client, exc.status) from None
    except RegistryResponseError as exc:
        if exc.status in (403, 404, 405) or "UNSUPPORTED" in exc.codes:
            raise _refused(client, exc.status, exc.codes) from None
        raise


def _refused(client: RegistryClient, status: int | None, codes: tuple[str, ...] = ()) -> ListerError:
    why = f"HTTP {status}" + (f" {', '.join(codes)}" if codes else "")
    hint = (
        "use `lister: {type: dockerhub}` for your own namespace, `lister: {type: index, search: ...}`,"
        if client.endpoint.is_docker_hub
        else "use `lister: {type: index, search: ...}` if it supports search, `dockerhub` for Docker Hub,"
    )
    return ListerError(
        f"{client.registry}: the registry refuses catalog listing ({why}); {hint}"
        " or name repositories as plain `from` paths"
    )
