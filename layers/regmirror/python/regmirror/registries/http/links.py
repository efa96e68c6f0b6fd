"""Paging by `Link` (RFC 8288): the `rel="next"` URL, resolved, kept on its host, never looping."""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

from regmirror.registries.http.challenge import MAX_HEADER_CHARS

_LINK_PART = re.compile(r'<([^<>]*)>((?:\s*;\s*[^;,"]*(?:"[^"]*"[^;,"]*)*)*)')
_LINK_PARAM = re.compile(r';\s*([A-Za-z0-9*_.-]+)\s*=\s*(?:"([^"]*)"|([^;,\s]+))')


class PagingError(Exception):
    """A next link that cannot be followed; `url` is where it points. Callers word the message."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.url = url


class OtherHost(PagingError):
    """The next link leaves the host: our credentials would go there."""


class Loop(PagingError):
    """The next link was followed before."""


def parse_link_next(header: str | None) -> str | None:
    """URL of the `rel="next"` link of an RFC 5988/8288 `Link` header (as written; may be relative)."""
    if not header:
        return None
    for match in _LINK_PART.finditer(header[:MAX_HEADER_CHARS]):
        for name, quoted, bare in _LINK_PARAM.findall(match.group(2)):
            if name.lower() == "rel" and "next" in (quoted or bare).lower().split():
                return match.group(1).strip()
    return None


def same_host(url: str, other: str) -> bool:
    return urlsplit(url).netloc.lower() == urlsplit(other).netloc.lower()


def next_page(current: str, link: str, seen: set[str]) -> str:
    """The absolute URL of `link` (relative to `current`); OtherHost or Loop when it cannot be followed."""
    url = urljoin(current, link)
    if not same_host(url, current):
        raise OtherHost(url)
    if url in seen:
        raise Loop(url)
    seen.add(url)
    return url
