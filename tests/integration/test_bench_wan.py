"""The benchmark's emulated WAN link (`bench.wan`) in front of a real registry: what crosses it
arrives intact and is counted, and it costs at least what the link's parameters say (lower bounds
of the emulator's contract, not speed targets)."""

from __future__ import annotations

import hashlib
import os
import time

import pytest
import requests

from bench.wan import WanLink, floor_seconds
from tests.testbed import RegistryServer


def test_a_blob_pushed_and_pulled_through_the_link_is_intact_counted_and_paced(
    plain_registry: RegistryServer,
) -> None:
    body = os.urandom(512 * 1024)
    digest = "sha256:" + hashlib.sha256(body).hexdigest()
    with WanLink(plain_registry.host, rtt=0.05, bandwidth_bps=16e6) as link, requests.Session() as http:
        base = f"http://{link.host}/v2/wan"
        start = time.monotonic()
        upload = http.post(f"{base}/blobs/uploads/", timeout=30)
        assert upload.status_code == 202
        location = upload.headers["Location"]
        location = location if location.startswith("http") else f"http://{link.host}{location}"
        put = http.put(location, params={"digest": digest}, data=body, timeout=30)
        assert put.status_code == 201, put.text
        pushed = time.monotonic() - start
        pulled = http.get(f"{base}/blobs/{digest}", timeout=30)

    assert pulled.content == body
    assert link.up.bytes > len(body) and link.down.bytes > len(body)  # headers both ways, the body each way
    assert link.connections == 1  # the session kept its connection
    # one handshake, two request round trips, 512 KiB at 16 Mbit/s (0.26 s): the emulated cost at least
    assert pushed >= 0.05 + 2 * 0.05 + len(body) * 8 / 16e6


def test_the_floor_is_the_bytes_through_the_bandwidth_plus_round_trips() -> None:
    assert floor_seconds(25_000_000, 200e6, 0.04) == pytest.approx(1.0 + 0.4)
