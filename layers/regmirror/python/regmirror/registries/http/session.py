"""The requests session of one host: environment ignored (`verify=` is ours), proxies per host, timeouts.

`trust_env = False` keeps a process-wide REQUESTS_CA_BUNDLE from replacing a registry's own CA file;
proxies from the environment are still honoured, looked up once per host.
"""

from __future__ import annotations

import logging
import threading
import warnings
from pathlib import Path
from typing import Protocol

import requests
from requests.adapters import HTTPAdapter
from requests.utils import get_environ_proxies
from urllib3.exceptions import InsecureRequestWarning

from regmirror import __version__
from regmirror.registries.certdirs import HostTls, ca_bundle, read_host_tls

log = logging.getLogger("regmirror.registry")

USER_AGENT = f"regmirror/{__version__}"
MAX_CONNECT_TIMEOUT = 10.0
TRANSPORT_ERRORS = (requests.exceptions.SSLError, requests.exceptions.ConnectionError)


class TlsSettings(Protocol):
    """What `verify=` is made of (registries.endpoint.Endpoint has it)."""

    @property
    def host(self) -> str: ...

    @property
    def insecure(self) -> bool: ...

    @property
    def verify_tls(self) -> bool: ...

    @property
    def ca_file(self) -> str | None: ...

    @property
    def cert_dir(self) -> str | None: ...

    @property
    def plain_http(self) -> bool: ...


def timeouts(timeout: float) -> tuple[float, float]:
    """(connect, read) seconds: connecting never waits longer than 10 s."""
    return (min(timeout, MAX_CONNECT_TIMEOUT), timeout)


def new_session(
    user_agent: str = USER_AGENT, *, pool_size: int | None = None
) -> tuple[requests.Session, HTTPAdapter]:
    """A session and its one adapter (both schemes), `pool_size` connections kept per host."""
    session = requests.Session()
    session.trust_env = False  # REQUESTS_CA_BUNDLE & co must not win; proxies handled by ProxyCache
    session.headers["User-Agent"] = user_agent
    adapter = (
        HTTPAdapter()
        if pool_size is None
        else HTTPAdapter(pool_connections=4, pool_maxsize=max(8, pool_size))
    )
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session, adapter


def endpoint_verify(endpoint: TlsSettings) -> bool | str:
    """`verify=` for a registry's own host: off with skip-tls-verify, else its CA file, else the system
    CAs plus those of its certs.d folder (registries.certdirs)."""
    if endpoint.insecure or not endpoint.verify_tls:
        return False
    if endpoint.ca_file:
        return endpoint.ca_file
    folder = host_tls(endpoint)
    return (ca_bundle(folder) if folder else None) or True


def host_tls(endpoint: TlsSettings) -> HostTls | None:
    """What the registry's certs.d folder holds (CertDirError for an incomplete one)."""
    return read_host_tls(Path(endpoint.cert_dir)) if endpoint.cert_dir else None


def client_cert(endpoint: TlsSettings) -> tuple[str, str] | None:
    """requests' `cert=` for the registry: a client certificate from its certs.d folder."""
    folder = host_tls(endpoint)
    return folder.client_cert if folder else None


def registry_verify(endpoint: TlsSettings) -> bool | str:
    """`endpoint_verify`, saying once in our log (not per request) that certificates are not checked."""
    verify = endpoint_verify(endpoint)
    if verify is False and not endpoint.plain_http:
        log.info("%s: TLS certificates are not verified (skip-tls-verify)", endpoint.host)
        warnings.filterwarnings("ignore", category=InsecureRequestWarning)
    return verify


class ProxyCache:
    """Proxies from the environment (HTTPS_PROXY, NO_PROXY, …) per host, looked up once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._proxies: dict[str, dict[str, str]] = {}

    def for_url(self, url: str) -> dict[str, str]:
        key = url.split("/", 3)[2] if "://" in url else url
        with self._lock:
            cached = self._proxies.get(key)
        if cached is None:
            cached = dict(get_environ_proxies(url))
            with self._lock:
                self._proxies[key] = cached
        return cached
