"""Shared fixtures: real registries from tests/testbed (no Docker engine needed)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from regmirror.state import reset_process_state

from tests.testbed import RegistryServer, write_config

RegistryFactory = Callable[..., RegistryServer]


@pytest.fixture(autouse=True)
def _fresh_process_state() -> Iterator[None]:
    """Caches live per process (per Lambda container) and are keyed by host:port; ports are reused
    between tests."""
    reset_process_state()
    yield
    reset_process_state()


@pytest.fixture(autouse=True)
def _private_state_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """The copy record lives under $XDG_STATE_HOME, keyed by host:port: ports are reused between
    tests, so each test gets its own state folder (and never touches the user's)."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path_factory.mktemp("state")))


@pytest.fixture(autouse=True)
def user_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Registries without `auth` use the user's logins (auth.json, ~/.docker/config.json): each test
    starts with none (an empty HOME of its own), so the developer's own logins never leak into a test;
    tests of the lookup write their files there. Returns that HOME."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    for name in ("REGISTRY_AUTH_FILE", "XDG_RUNTIME_DIR", "XDG_CONFIG_HOME", "DOCKER_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    monkeypatch.setenv("NO_GCE_CHECK", "True")  # google-auth must never probe the metadata server
    return home


@pytest.fixture(autouse=True)
def _fresh_regmirror_logging() -> Iterator[None]:
    """The CLI configures the `regmirror` logger (its handler holds the stream of that moment): undo it
    after each test so later tests' caplog and capsys see their own records."""
    logger = logging.getLogger("regmirror")
    saved = (list(logger.handlers), logger.level, logger.propagate)
    yield
    logger.handlers[:], logger.level, logger.propagate = saved[0], saved[1], saved[2]


@pytest.fixture
def registry_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryFactory]:
    """`registry_factory(tls=..., auth="none"|"htpasswd"|"token", ...)` -> started server.

    Every server started is stopped at teardown.
    """
    servers: list[RegistryServer] = []

    def start(**kwargs: Any) -> RegistryServer:
        kwargs.setdefault("base_dir", tmp_path_factory.mktemp("registry"))
        server = RegistryServer(**kwargs)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def plain_registry(registry_factory: RegistryFactory) -> RegistryServer:
    """Plain HTTP, no auth."""
    return registry_factory()


@pytest.fixture
def second_plain_registry(registry_factory: RegistryFactory) -> RegistryServer:
    """Another plain HTTP registry (e.g. a mirror target)."""
    return registry_factory()


@pytest.fixture
def auth_registry(registry_factory: RegistryFactory) -> RegistryServer:
    """Plain HTTP with htpasswd basic auth; credentials in `.username`/`.password`."""
    return registry_factory(auth="htpasswd")


@pytest.fixture
def tls_registry(registry_factory: RegistryFactory) -> RegistryServer:
    """TLS (own CA: `.ca_file`, `.certs_dir`, `.skopeo_cert_dir`) with htpasswd basic auth."""
    return registry_factory(tls=True, auth="htpasswd")


@pytest.fixture
def token_registry(registry_factory: RegistryFactory) -> RegistryServer:
    """Plain HTTP with bearer token auth; `.token_server.token_requests()` records token fetches."""
    return registry_factory(auth="token")


@pytest.fixture
def config_file(tmp_path: Path) -> Callable[[str], Path]:
    """`config_file(yaml_text)` writes dedented YAML to tmp_path/config.yaml (see testbed.write_config)."""
    return lambda yaml_text: write_config(tmp_path, yaml_text)
