"""Value types: a target's identity (`SyncItem.key`) with the host canonical."""

from __future__ import annotations

import pytest
from regmirror.model import ImageRef, SyncItem, canonical_host


@pytest.mark.parametrize(
    ("host", "canonical"),
    [
        ("LOCALHOST:5000", "127.0.0.1:5000"),
        ("localhost:5000", "127.0.0.1:5000"),
        ("[::1]:5000", "127.0.0.1:5000"),
        ("Registry.Example.com.:443", "registry.example.com"),
        ("registry.example.com:5000", "registry.example.com:5000"),
        ("[2001:db8::1]:5000", "[2001:db8::1]:5000"),
    ],
)
def test_two_spellings_of_one_registry_are_one_target(host: str, canonical: str) -> None:
    assert canonical_host(host) == canonical
    spelled = SyncItem("t", ImageRef("s:1", "a", "1"), ImageRef(host, "mirror/a", "1"))
    plain = SyncItem("t", ImageRef("s:1", "a", "1"), ImageRef(canonical, "mirror/a", "1"))
    assert spelled.key() == plain.key()  # one record entry, and the duplicate-target guard sees both
