"""Which registry a failed skopeo run got no answer from, read from skopeo 1.9's own messages."""

from __future__ import annotations

import pytest
from regmirror.config import parse_config
from regmirror.sync.skopeo_errors import got_no_answer
from regmirror.sync.unavailable import _failed_side

CONFIG = """\
tasks:
  - name: t
    source: {registry: "127.0.0.1:5001"}
    target: {registry: "127.0.0.1:5002"}
    mappings: [{from: team/app}]
"""


def ping(host: str) -> str:
    refused = f"dial tcp {host}: connect: connection refused"
    return f"pinging container registry {host}: Get http://{host}/v2/: {refused}"


def fatal(message: str) -> str:
    return f'time="2026-12-02T04:57:54Z" level=fatal msg="{message}"'


@pytest.mark.parametrize(
    ("stderr", "side"),
    [
        (
            fatal("initializing source docker://127.0.0.1:5001/team/app:1.0: " + ping("127.0.0.1:5001")),
            "source",
        ),
        (fatal("trying to reuse blob at destination: " + ping("127.0.0.1:5002")), "target"),
        (fatal("initializing source docker://x/y:1: dial tcp: lookup x: no such host"), "source"),
        (fatal("writing manifest: Put http://x/v2/: dial tcp: i/o timeout"), "target"),
    ],
)
def test_the_side_that_got_no_answer(stderr: str, side: str) -> None:
    (task,) = parse_config(CONFIG).tasks
    assert got_no_answer(stderr)
    assert _failed_side(stderr, task) is getattr(task, side)


@pytest.mark.parametrize(
    "stderr",
    [
        fatal("writing blob: uploading layer chunked: received unexpected HTTP status: 503"),
        fatal("reading blob sha256:ab: read tcp 127.0.0.1:1->127.0.0.1:2: read: connection reset by peer"),
        fatal("writing blob: unexpected EOF"),
        fatal("manifest unknown"),
    ],
)
def test_an_answer_or_a_cut_transfer_is_not_no_answer(stderr: str) -> None:
    assert not got_no_answer(stderr)
