"""The message type that flows from lister to relay, locally and through SQS alike.

Nothing here holds a credential: a relay looks up how to reach a registry (and its auth) from the
config by the item's task name, so queue messages and plan output are safe to log.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from enum import StrEnum
from typing import Any, Literal

from regmirror.redact import redact, tail

MESSAGE_VERSION = 1
ERROR_TAIL_CHARS = 2048  # of an error message kept in a result

Status = Literal["copied", "skipped", "failed"]


class ItemState(StrEnum):
    """What the check found for an item (plan output and reports spell them so)."""

    PENDING = "pending"  # enumerated, not checked yet
    IN_SYNC = "in-sync"
    COPY = "copy"
    MISSING = "missing-at-source"
    CHECK_FAILED = "check-failed"


class CopiedBy(StrEnum):
    """How an image was copied (CopyResult.reason when status == "copied")."""

    SKOPEO = "copied"
    RETAGGED = "retagged"  # its manifest PUT under a new tag of a repository holding it (sync.retag)
    MOUNTED = "mounted"  # ... after its blobs were mounted from another repository of the registry


class FailureReason(StrEnum):
    """Why a copy failed (CopyResult.reason when status == "failed")."""

    TIMEOUT = "timeout"
    STALLED = "stalled"  # no byte moved for `skopeo.stall-timeout`: killed, retried within the run
    UNAVAILABLE = "unavailable"  # the registry's circuit breaker is open: not tried
    KILLED = "killed"  # by a signal: abort_running(), interpreter exit, or the OOM killer
    AUTH = "auth"
    NOT_FOUND = "not-found"
    TLS = "tls"
    NETWORK = "network"
    RATE_LIMIT = "rate-limit"
    SERVER_ERROR = "server-error"  # a 5xx answer: skopeo 1.9's --retry-times does not retry these
    # The target did not take a multi-arch index as it is. skopeo then tries to convert it, which
    # --preserve-digests forbids, and reports only that: a 5xx on the index PUT ends the same way.
    INDEX_REJECTED = "index-rejected"
    INVALID_REFERENCE = "invalid-reference"
    OTHER = "other"
    CHECK_FAILED = "check-failed"  # the digest check before the copy failed
    REFERRERS = "referrers"  # the image is in the target, some of its signatures/attestations are not


_LOOPBACK_NAMES = {"localhost": "127.0.0.1", "localhost.localdomain": "127.0.0.1", "[::1]": "127.0.0.1"}


def canonical_host(host: str) -> str:
    """`LOCALHOST:5000` → `127.0.0.1:5000`, `Registry.Example.com.:443` → `registry.example.com`."""
    name, port = host.lower(), ""
    head, sep, tail = name.rpartition(":")
    if sep and tail.isdigit() and (not head.startswith("[") or head.endswith("]")):
        name, port = head, tail
    name = name.rstrip(".")
    name = _LOOPBACK_NAMES.get(name, name)
    return name if port in ("", "443") else f"{name}:{port}"


@dataclass(frozen=True, slots=True)
class ImageRef:
    """One image in one registry: `registry/repository` plus a tag and/or a digest."""

    registry: str  # host[:port] exactly as configured, e.g. "127.0.0.1:5000"
    repository: str  # no leading "/", e.g. "myproject/webui"
    tag: str | None = None
    digest: str | None = None

    @property
    def reference(self) -> str:
        """What goes after the repository in an API path: the digest when known, else the tag."""
        ref = self.digest or self.tag
        if not ref:
            raise ValueError(f"{self.registry}/{self.repository} has neither tag nor digest")
        return ref

    def __str__(self) -> str:
        out = f"{self.registry}/{self.repository}"
        if self.tag:
            out += f":{self.tag}"
        if self.digest:
            out += f"@{self.digest}"
        return out

    def with_digest(self, digest: str | None) -> ImageRef:
        return replace(self, digest=digest)


@dataclass(frozen=True, slots=True)
class SyncItem:
    """One image to mirror: the unit of work of a relay and the body of one queue message."""

    task: str
    source: ImageRef
    target: ImageRef
    platform: str = "all"  # "all" (index kept intact) or "os/arch[/variant]"
    mapping: int = 0  # index of the mapping inside the task (for reports)
    source_digest: str | None = None  # digest seen by the planner, if it looked
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. {"reason": "push-event"}

    def key(self) -> str:
        """Identity of the target write: two items with one key would overwrite each other. The host is
        canonical (case, `localhost`, the default HTTPS port), so two spellings of one registry are one
        target for the copy record and the duplicate-target guard."""
        t = self.target
        return f"{canonical_host(t.registry)}/{t.repository}:{t.tag or t.digest}"

    def to_message(self) -> str:
        body = {"v": MESSAGE_VERSION, **asdict(self)}
        return json.dumps(body, separators=(",", ":"), sort_keys=True)

    @classmethod
    def from_message(cls, body: str | bytes) -> SyncItem:
        data = json.loads(body)
        if not isinstance(data, dict) or data.get("v") != MESSAGE_VERSION:
            raise ValueError("not a regmirror sync item (missing or unknown version 'v')")
        try:
            return cls(
                task=str(data["task"]),
                source=ImageRef(**data["source"]),
                target=ImageRef(**data["target"]),
                platform=str(data.get("platform", "all")),
                mapping=int(data.get("mapping", 0)),
                source_digest=data.get("source_digest"),
                extra=dict(data.get("extra") or {}),
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"malformed sync item: {exc}") from exc


@dataclass(frozen=True, slots=True)
class ReferrerSummary:
    """What travelled with one image: its referrers (signatures, attestations, SBOMs) at the source
    that the mapping selects, how many were copied or already in the target, and what failed."""

    found: int = 0
    copied: int = 0
    present: int = 0
    types: tuple[tuple[str, int], ...] = ()  # artifact type → referrers found at the source
    scheme: str = ""  # how the target holds them: "api" (referrers API) or "tag" (fallback index)
    failed: tuple[str, ...] = ()  # one message per referrer not copied
    warnings: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.failed

    def to_dict(self) -> dict[str, Any]:
        return {
            "found": self.found,
            "copied": self.copied,
            "present": self.present,
            "types": dict(self.types),
            "scheme": self.scheme,
            "failed": list(self.failed),
            "warnings": list(self.warnings),
        }


@dataclass(frozen=True, slots=True)
class CopyResult:
    """Outcome of one item. `reason` is "copied", a skip reason (an ItemState), or a FailureReason."""

    item: SyncItem
    status: Status
    reason: str
    duration: float
    bytes: int | None
    source_digest: str | None
    target_digest: str | None
    error: str | None
    attempts: int
    referrers: ReferrerSummary | None = None  # None: not looked for (off, or the image not in the target)

    @property
    def ok(self) -> bool:
        return self.status != "failed"

    @classmethod
    def failure(
        cls,
        item: SyncItem,
        error: BaseException | str,
        *,
        reason: str = FailureReason.OTHER,
        duration: float = 0.0,
        attempts: int = 0,
    ) -> CopyResult:
        """A failed result for an item that never reached (or crashed around) skopeo.

        Usable as `run_items(..., on_error=CopyResult.failure)`; the message is redacted generically
        (known secrets must be redacted by the caller, who knows them).
        """
        message = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
        return cls(
            item=item,
            status="failed",
            reason=reason,
            duration=duration,
            bytes=None,
            source_digest=item.source_digest or item.source.digest,
            target_digest=None,
            error=tail(redact(message), ERROR_TAIL_CHARS),
            attempts=attempts,
        )
