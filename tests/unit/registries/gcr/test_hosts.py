"""Which hosts are Google's registries, and which kind a registry gets."""

from __future__ import annotations

import pytest
from regmirror.config import parse_config
from regmirror.registries.gcr.hosts import is_google_registry
from regmirror.registries.kinds import kind_of


@pytest.mark.parametrize(
    ("host", "google"),
    [
        ("gcr.io", True),
        ("eu.gcr.io", True),
        ("us.gcr.io:443", True),
        ("europe-west1-docker.pkg.dev", True),
        ("gcr.io.example.com", False),
        ("docker.pkg.dev", False),
        ("europe-west1-maven.pkg.dev", False),
        ("registry.example.com", False),
    ],
)
def test_google_registry_hosts_as_dregsy_tells_them(host: str, google: bool) -> None:
    assert is_google_registry(host) == google


def registry(text: str) -> object:
    config = parse_config(
        "tasks:\n  - name: t\n"
        f"    source: {text}\n"
        "    target: {registry: 127.0.0.1:5000}\n"
        "    mappings: [{from: a}]\n"
    )
    return config.tasks[0].source


@pytest.mark.parametrize(
    ("source", "kind"),
    [
        ("{registry: eu.gcr.io}", "gcr"),
        ("{registry: 127.0.0.1:5000, kind: gcr}", "gcr"),
        ("{registry: eu.gcr.io, kind: distribution}", "distribution"),
        ("{registry: registry.example.com}", "distribution"),
    ],
)
def test_the_kind_is_told_by_the_host_or_named(source: str, kind: str) -> None:
    assert kind_of(registry(source)).name == kind  # type: ignore[arg-type]
