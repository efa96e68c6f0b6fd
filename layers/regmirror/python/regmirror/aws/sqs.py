"""Send messages to SQS in batches of ten, retrying the entries SQS could not take.

`send_message_batch` can succeed as a call yet fail single entries (throttling, internal errors):
those are resent with backoff; an entry SQS rejects as the sender's fault (malformed) is not retried.
Anything still unsent after the last attempt raises `SendError`, so a caller never believes a message
was queued when it was not.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from regmirror.errors import RegmirrorError
from regmirror.model import SyncItem

MAX_BATCH_ENTRIES = 10  # SQS limit per send_message_batch
MAX_BATCH_BYTES = 256 * 1024  # SQS limit on the sum of one batch's message bodies (and attributes)
DEFAULT_ATTEMPTS = 5


class SendError(RegmirrorError):
    """Some messages could not be queued; `failed` holds (body, reason) for each."""

    def __init__(self, queue_url: str, failed: list[tuple[str, str]]) -> None:
        self.failed = failed
        reasons = sorted({reason for _, reason in failed})
        super().__init__(f"{len(failed)} message(s) not queued on {queue_url}: {'; '.join(reasons)}")


@dataclass(slots=True)
class SendStats:
    sent: int = 0
    batches: int = 0
    retried: int = 0


def sqs_client() -> Any:
    import boto3  # only the AWS adapters need it

    return boto3.client("sqs")


def _batches(bodies: Iterable[str]) -> Iterator[list[str]]:
    batch: list[str] = []
    size = 0
    for body in bodies:
        length = len(body.encode())
        if length > MAX_BATCH_BYTES:
            raise ValueError(f"message of {length} bytes exceeds SQS's {MAX_BATCH_BYTES}-byte limit")
        if batch and (len(batch) == MAX_BATCH_ENTRIES or size + length > MAX_BATCH_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(body)
        size += length
    if batch:
        yield batch


@dataclass
class QueueSender:
    """Streams message bodies onto one queue: `send(iterable)` flushes every 10 (or 256 KiB)."""

    queue_url: str
    client: Any = None
    attempts: int = DEFAULT_ATTEMPTS
    base_delay: float = 0.2
    sleep: Callable[[float], None] = time.sleep
    stats: SendStats = field(default_factory=SendStats)
    # A FIFO queue's (MessageGroupId, MessageDeduplicationId) for a body; used when the queue is one
    fifo_keys: Callable[[str], tuple[str, str]] | None = None

    def __post_init__(self) -> None:
        if self.client is None:
            self.client = sqs_client()
        if self.fifo and self.fifo_keys is None:
            raise ValueError(
                f"{self.queue_url} is a FIFO queue: its messages need group and deduplication ids"
            )

    def send(self, bodies: Iterable[str]) -> int:
        """Queue every body; returns how many were sent. Raises SendError for any left unsent."""
        sent = 0
        for batch in _batches(bodies):
            sent += self._send_batch(batch)
        return sent

    def send_items(self, items: Iterable[SyncItem]) -> int:
        return self.send(item.to_message() for item in items)

    def _send_batch(self, batch: list[str]) -> int:
        pending = dict(enumerate(batch))
        rejected: list[tuple[str, str]] = []
        reasons: dict[int, str] = {}
        for attempt in range(self.attempts):
            if not pending:
                break
            if attempt:
                self.stats.retried += len(pending)
                self.sleep(min(self.base_delay * 2 ** (attempt - 1), 5.0))
            reasons = self._attempt(pending, rejected)
        failed = rejected + [(body, reasons.get(i, "not acknowledged by SQS")) for i, body in pending.items()]
        if failed:
            raise SendError(self.queue_url, failed)
        self.stats.sent += len(batch)
        return len(batch)

    @property
    def fifo(self) -> bool:
        return self.queue_url.endswith(".fifo")  # SQS's rule for FIFO queue names

    def _entry(self, index: int, body: str) -> dict[str, str]:
        entry = {"Id": str(index), "MessageBody": body}
        if self.fifo and self.fifo_keys is not None:
            entry["MessageGroupId"], entry["MessageDeduplicationId"] = self.fifo_keys(body)
        return entry

    def _attempt(self, pending: dict[int, str], rejected: list[tuple[str, str]]) -> dict[int, str]:
        """One send_message_batch of the pending entries; removes what SQS took or refused for good."""
        entries = [self._entry(i, body) for i, body in pending.items()]
        response = self.client.send_message_batch(QueueUrl=self.queue_url, Entries=entries)
        self.stats.batches += 1
        for ok in response.get("Successful", []):
            pending.pop(int(ok["Id"]), None)
        reasons: dict[int, str] = {}
        for bad in response.get("Failed", []):
            index = int(bad["Id"])
            reason = f"{bad.get('Code', 'error')}: {bad.get('Message', '')}".rstrip(": ")
            if bad.get("SenderFault") and index in pending:
                rejected.append((pending.pop(index), reason))  # malformed: resending cannot help
            else:
                reasons[index] = reason
        return reasons


def retry_delay(receive_count: int, base: int, cap: int = 12 * 3600) -> int:
    """Backoff before a failed message is delivered again: base, 2×base, 4×base, … (at most cap)."""
    return int(min(cap, base * 2 ** max(0, receive_count - 1)))


def delay_redelivery(client: Any, queue_url: str, receipt_handle: str, seconds: int) -> bool:
    """Make a failed message visible again after `seconds` instead of the queue's visibility timeout
    (six relay timeouts: far too long a wait for an image whose copy failed fast). Best effort."""
    import botocore.exceptions

    try:
        client.change_message_visibility(
            QueueUrl=queue_url, ReceiptHandle=receipt_handle, VisibilityTimeout=seconds
        )
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError):
        return False  # the message then comes back after the queue's visibility timeout
    return True


MAX_SQS_DELAY = 900  # DelaySeconds limit


def requeue_with_delay(client: Any, queue_url: str, body: str, seconds: int) -> None:
    """Send the message again, visible after `seconds` (at most SQS's 900). Used when a source's
    rate-limit budget is short: the original is then reported done, so waiting for the budget never
    counts towards `maxReceiveCount` and never dead-letters an image. Raises on failure (the
    original then simply comes back)."""
    client.send_message(
        QueueUrl=queue_url, MessageBody=body, DelaySeconds=max(0, min(MAX_SQS_DELAY, seconds))
    )
