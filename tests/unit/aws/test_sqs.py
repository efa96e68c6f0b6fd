"""QueueSender's batching and its handling of partially failed batches.

SQS's partial failures (an entry throttled or refused inside a successful send_message_batch call)
cannot be provoked in moto, so these tests drive the sender with a scripted client that answers the
way the SQS API documents; the moto-backed tests in tests/integration cover the happy path for real.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from regmirror.aws.sqs import MAX_BATCH_BYTES, QueueSender, SendError, retry_delay


class ScriptedSqs:
    """Answers send_message_batch from a script: per call, the entry ids to fail and how."""

    def __init__(self, script: list[dict[str, tuple[str, bool]]]) -> None:
        self.script = script
        self.calls: list[list[dict[str, str]]] = []

    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, str]]) -> dict[str, Any]:
        self.calls.append(Entries)
        failing = self.script[len(self.calls) - 1] if len(self.calls) <= len(self.script) else {}
        failed = [
            {"Id": e["Id"], "Code": failing[e["MessageBody"]][0], "SenderFault": failing[e["MessageBody"]][1]}
            for e in Entries
            if e["MessageBody"] in failing
        ]
        ok = [
            {"Id": e["Id"], "MessageId": f"m-{e['Id']}"} for e in Entries if e["MessageBody"] not in failing
        ]
        return {"Successful": ok, "Failed": failed}


def sender(client: ScriptedSqs) -> QueueSender:
    return QueueSender("https://sqs.example/q", client=client, sleep=lambda _s: None)


def test_messages_go_in_batches_of_ten() -> None:
    client = ScriptedSqs([])
    assert sender(client).send(f"m{i}" for i in range(23)) == 23
    assert [len(c) for c in client.calls] == [10, 10, 3]
    assert [e["MessageBody"] for c in client.calls for e in c] == [f"m{i}" for i in range(23)]


def test_batches_also_split_at_the_256_kib_total() -> None:
    client = ScriptedSqs([])
    big = "x" * (100 * 1024)
    assert sender(client).send([big, big, big, "small"]) == 4
    assert [len(c) for c in client.calls] == [2, 2]
    assert all(sum(len(e["MessageBody"]) for e in c) <= MAX_BATCH_BYTES for c in client.calls)


def test_throttled_entries_are_resent_alone_until_taken() -> None:
    client = ScriptedSqs(
        [
            {"m1": ("ThrottlingException", False), "m3": ("InternalError", False)},
            {"m3": ("InternalError", False)},
        ]
    )
    out = sender(client)
    assert out.send([f"m{i}" for i in range(5)]) == 5
    assert [[e["MessageBody"] for e in c] for c in client.calls] == [
        ["m0", "m1", "m2", "m3", "m4"],
        ["m1", "m3"],
        ["m3"],
    ]
    assert out.stats.retried == 3 and out.stats.sent == 5


def test_sender_faults_are_not_retried_and_reported() -> None:
    client = ScriptedSqs([{"bad": ("InvalidMessageContents", True)}])
    with pytest.raises(SendError) as raised:
        sender(client).send(["ok", "bad"])
    assert raised.value.failed == [("bad", "InvalidMessageContents")]
    assert len(client.calls) == 1


def test_entries_still_failing_after_the_last_attempt_raise() -> None:
    client = ScriptedSqs([{"m": ("ServiceUnavailable", False)}] * 5)
    with pytest.raises(
        SendError, match=re.escape("1 message(s) not queued on https://sqs.example/q: ServiceUnavailable")
    ):
        sender(client).send(["m"])
    assert len(client.calls) == 5


def test_oversized_message_is_refused_before_sending() -> None:
    client = ScriptedSqs([])
    with pytest.raises(ValueError, match="exceeds SQS"):
        sender(client).send(["x" * (MAX_BATCH_BYTES + 1)])
    assert client.calls == []


@pytest.mark.parametrize(("count", "delay"), [(1, 60), (2, 120), (3, 240), (10, 30720), (20, 43200)])
def test_retry_delay_doubles_up_to_the_cap(count: int, delay: int) -> None:
    assert retry_delay(count, 60) == delay


def test_a_fifo_queue_gets_each_message_s_group_and_deduplication_id() -> None:
    client = ScriptedSqs([])
    fifo = QueueSender(
        "https://sqs.example/plan.fifo", client=client, fifo_keys=lambda body: (f"g-{body}", f"d-{body}")
    )
    assert fifo.send(["a", "b"]) == 2
    assert client.calls == [
        [
            {"Id": "0", "MessageBody": "a", "MessageGroupId": "g-a", "MessageDeduplicationId": "d-a"},
            {"Id": "1", "MessageBody": "b", "MessageGroupId": "g-b", "MessageDeduplicationId": "d-b"},
        ]
    ]
    with pytest.raises(ValueError, match=r"plan\.fifo is a FIFO queue"):
        QueueSender("https://sqs.example/plan.fifo", client=client)
    sender(client).send(["c"])  # a standard queue: no ids, keys or not
    assert client.calls[-1] == [{"Id": "0", "MessageBody": "c"}]
