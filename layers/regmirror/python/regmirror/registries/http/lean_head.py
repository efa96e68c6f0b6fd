"""A HEAD straight through the session's urllib3 pool, without requests' per-call work (preparing,
merging settings, cookies, hooks): about half the client CPU of a digest check.

Only for the steady state (scheme known, no proxy, auth answerable up front): the caller takes the full
path otherwise, and when this one gives None (a 401 to answer, a redirect).
"""

from __future__ import annotations

import base64
import time
from collections.abc import Mapping

import requests
import urllib3

from regmirror.registries.http.transport import Transport

# HEAD answers whose connection is kept for the next request. Any other answer may come from a proxy
# that writes an error body even on a HEAD; those bytes would poison the next answer on the connection.
REUSABLE_HEAD_STATUSES = frozenset({200, 404})


class LeanTransportError(Exception):
    """The lean HEAD could not be sent or answered; `cause` is urllib3's (or the OS's) error."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(str(cause))
        self.cause = cause

    @property
    def timed_out(self) -> bool:
        return isinstance(self.cause, urllib3.exceptions.TimeoutError | TimeoutError) and not isinstance(
            self.cause, urllib3.exceptions.NewConnectionError
        )


def lean_head(
    transport: Transport, url: str, path: str, headers: dict[str, str], kind: str
) -> tuple[int, Mapping[str, str]] | None:
    """(status, headers) of HEAD `url`, or None when the full path must answer it."""
    pool = transport.adapter.get_connection_with_tls_context(
        _prepared(url), transport.verify, cert=transport.cert
    )
    if not isinstance(pool, urllib3.HTTPConnectionPool):
        return None
    transport.stats.count(kind)
    sent = time.monotonic()
    try:
        answer = pool.urlopen(
            "HEAD",
            path,
            headers=headers,
            redirect=False,
            retries=False,
            timeout=transport.pool_timeout,
            preload_content=False,
        )
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        raise LeanTransportError(exc) from None
    transport.stats.answered(time.monotonic() - sent)
    release_pooled(answer)
    if answer.status == 401 or 300 <= answer.status < 400:
        return None
    transport.observe(answer.status, answer.headers)
    return answer.status, answer.headers


def _prepared(url: str) -> requests.PreparedRequest:
    """What the adapter needs to pick the connection pool for `url` (scheme, host, port)."""
    prepared = requests.PreparedRequest()
    prepared.url, prepared.method = url, "HEAD"
    return prepared


def basic_authorization(username: str, password: str) -> str | None:
    """The header requests builds for `auth=(user, password)` (latin-1, as requests encodes);
    None when that encoding fails, so the full path reports it exactly as elsewhere."""
    try:
        token = base64.b64encode(f"{username}:{password}".encode("latin-1")).decode("ascii")
    except UnicodeEncodeError:
        return None
    return f"Basic {token}"


def release(answer: requests.Response) -> None:
    """Done with a HEAD answer: reading its empty body hands the connection back to the pool.
    `close()` alone closes a streamed answer's connection: a new TCP connection (and TLS handshake)
    per HEAD, about a third of a no-op check's client time."""
    try:
        if answer.status_code in REUSABLE_HEAD_STATUSES:
            answer.content  # noqa: B018 - the read is the point
    except requests.RequestException:
        pass  # the connection is dropped below; the status and headers are already here
    finally:
        answer.close()


def release_pooled(answer: urllib3.BaseHTTPResponse) -> None:
    """`release` for an answer of the lean path: keep-alive for 200/404, the connection closed else."""
    try:
        if answer.status in REUSABLE_HEAD_STATUSES:
            answer.drain_conn()
        else:
            answer.close()
    finally:
        answer.release_conn()
