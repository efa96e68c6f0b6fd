"""`index` lister: registry search, `GET /v1/search?q=<term>&n=<page size>&page=<k>`, every page.

Docker Hub is searched at https://index.docker.io; any other registry at its own `/v1/search`
(`lister.baseUrl` overrides both). Names come from `results[].name`. dregsy asks for one page of at
most 100 results; this lister follows `num_pages` to the end (`lister.maxItems` caps it, with a
warning). Credentials are sent only when the search runs on the registry's own host.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable, Iterator
from typing import Any, TypeVar
from urllib.parse import urlencode, urlsplit

from regmirror.errors import AuthError, ListerError
from regmirror.logs import remember_secret
from regmirror.registries.credentials import Credentials
from regmirror.registries.distribution.client import RegistryClient
from regmirror.registries.http.jsonapi import JsonApi, api_verify
from regmirror.registries.listers.base import Lister, ListerSettings, SourceSpec
from regmirror.registries.logins import credentials_for
from regmirror.rules import refs

log = logging.getLogger("regmirror.listers")

S = TypeVar("S", bound=SourceSpec)

DOCKER_HUB_INDEX_URL = "https://index.docker.io"
SEARCH_PATH = "/v1/search"
MAX_PAGE_SIZE = 100  # Docker Hub's limit for `n`


def result_name(entry: Any) -> str | None:
    name = entry.get("name") if isinstance(entry, dict) else None
    if isinstance(name, str) and refs.valid_repository(name):
        return name
    log.warning("search: skipping invalid repository name %r", str(name)[:300])
    return None


def page_count(body: dict[str, Any]) -> int | None:
    pages = body.get("num_pages")
    return pages if isinstance(pages, int) and not isinstance(pages, bool) and pages >= 0 else None


class IndexLister:
    def __init__(
        self,
        api: JsonApi,
        term: str,
        page_size: int = MAX_PAGE_SIZE,
        credentials: Credentials | None = None,
    ) -> None:
        if not term.strip():
            raise ListerError("the index lister needs `lister.search`")
        self.api = api
        self.term = term
        self.page_size = max(1, min(page_size, MAX_PAGE_SIZE))
        self._auth = (credentials.username, credentials.password) if credentials else None
        self.pages_fetched = 0

    def __repr__(self) -> str:
        return f"IndexLister({self.api.base_url!r}, search={self.term!r})"

    def list_repositories(self) -> Iterator[str]:
        seen: set[str] = set()
        page, last = 1, 1
        while page <= last:
            body = self._page(page)
            results = body.get("results") or []
            if not isinstance(results, list):
                raise ListerError(f"{self.api.what}: 'results' is not a list")
            for name in filter(None, map(result_name, results)):
                if name not in seen:  # results can shift between pages while paging
                    seen.add(name)
                    yield name
            last = self._last_page(body, page, len(results))
            page += 1

    def _last_page(self, body: dict[str, Any], page: int, count: int) -> int:
        """The last page to fetch: `num_pages`, or (without it) one more while pages come back full."""
        if count == 0:
            return page
        pages = page_count(body)
        if pages is not None:
            return pages
        return page + 1 if count >= self.page_size else page

    def _page(self, page: int) -> dict[str, Any]:
        query = urlencode({"q": self.term, "n": self.page_size, "page": page})
        answer = self.api.request("GET", f"{SEARCH_PATH}?{query}", headers=self._headers())
        self.pages_fetched += 1
        if answer.status_code in (401, 403):
            raise AuthError(
                f"{self.api.what}: search refused (HTTP {answer.status_code})", status=answer.status_code
            )
        if answer.status_code in (404, 405):
            raise ListerError(
                f"{self.api.what}: no search API at {SEARCH_PATH} (HTTP {answer.status_code}); "
                "use the catalog lister, or name repositories as plain `from` paths"
            )
        if answer.status_code != 200:
            raise self.api.status_error(answer, f"search page {page}")
        body = self.api.parse(answer)
        if not isinstance(body, dict):
            raise ListerError(f"{self.api.what}: search answer is not a JSON object")
        return body

    def _headers(self) -> dict[str, str]:
        if self._auth is None:
            return {}
        value = base64.b64encode(f"{self._auth[0]}:{self._auth[1]}".encode()).decode()
        return {"Authorization": f"Basic {value}"}


def search_base_url(source: Any) -> str:
    """`lister.baseUrl`, Docker Hub's index, or the registry's own URL."""
    configured = source.lister.base_url if source.lister else None
    if configured:
        return str(configured).rstrip("/")
    endpoint = source.endpoint()
    if endpoint.is_docker_hub:
        return DOCKER_HUB_INDEX_URL
    return f"{'http' if endpoint.plain_http else 'https'}://{endpoint.host}"


def create(source: S, settings: ListerSettings, client_factory: Callable[[S], RegistryClient]) -> Lister:
    term = settings.search or (source.lister.search if source.lister else None)
    if not term:
        raise ListerError(f"{source.registry}: the index lister needs `lister.search`")
    base_url = search_base_url(source)
    endpoint = source.endpoint()
    own_host = (
        endpoint is not None
        and not endpoint.is_docker_hub
        and urlsplit(base_url).netloc.lower() == str(endpoint.host).lower()
    )
    credentials = _user_password(credentials_for(source)) if own_host else None
    if credentials is not None:
        remember_secret(credentials.username, credentials.password)
    api = JsonApi(
        base_url,
        verify=api_verify(source, base_url),
        what=f"search at {base_url}",
        http_fallback=bool(own_host and endpoint is not None and endpoint.insecure),
    )
    return IndexLister(api, term, settings.page_size, credentials)


def _user_password(credentials: Credentials | None) -> Credentials | None:
    """The web API logs in with a username and password; an identity token does not serve it."""
    return credentials if credentials is not None and credentials.username else None
