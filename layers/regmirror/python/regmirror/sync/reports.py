"""What a sync did: the plan, every copy's result, the counts, and their JSON form.

Every image that failed appears in `results` with its stage: `check` (the digest check before any
copy: a registry unreachable, credentials refused) or `copy` (skopeo).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from regmirror.model import CopiedBy, CopyResult, FailureReason, ItemState
from regmirror.sync.plan import Plan, PlannedItem


@dataclass(slots=True)
class SyncReport:
    plan: Plan
    results: list[CopyResult] = field(default_factory=list)
    seconds: float = 0.0
    unavailable: dict[str, str] = field(default_factory=dict)  # host -> why its circuit breaker opened
    referrers_seen: int = 0  # referrers of in-sync images with nothing to do (those left out of results)
    concurrency: list[dict[str, Any]] = field(default_factory=list)  # per route: its copies at once

    def counts(self) -> dict[str, int]:
        planned = self.plan.counts()
        copied = sum(1 for r in self.results if r.status == "copied")
        by_manifest = sum(1 for r in self.results if r.status == "copied" and r.reason != CopiedBy.SKOPEO)
        failed = sum(1 for r in self.results if r.status == "failed")
        return {
            "images": planned["total"],
            "in_sync": planned[ItemState.IN_SYNC],
            "trusted": planned["trusted"],  # of in_sync: by a fresh copy-record entry, target not checked
            "spot_checked": planned["spot_checked"],  # of in_sync: a fresh entry checked anyway
            "copied": copied,
            "copied_by_manifest": by_manifest,  # of copied: re-tagged or mounted, no skopeo (sync.retag)
            "failed": failed + planned[ItemState.CHECK_FAILED],
            "missing_at_source": planned[ItemState.MISSING],
            "mapping_errors": len(self.plan.errors),
            **self.referrer_counts(),
        }

    def referrer_counts(self) -> dict[str, int]:
        """Referrers of the images this run copied or found in sync (in-sync images whose referrers
        were all present already are not among `results`: `referrers_found` counts what was seen)."""
        summaries = [r.referrers for r in self.results if r.referrers is not None]
        return {
            "referrers_found": sum(s.found for s in summaries) + self.referrers_seen,
            "referrers_copied": sum(s.copied for s in summaries),
            "referrers_failed": sum(len(s.failed) for s in summaries),
        }

    @property
    def ok(self) -> bool:
        """Nothing failed and every image was found: a pinned tag missing at the source fails the run
        (dregsy exits 1 then, and monitoring relies on it)."""
        c = self.counts()
        return c["failed"] == 0 and c["mapping_errors"] == 0 and c["missing_at_source"] == 0

    @property
    def missing(self) -> list[PlannedItem]:
        return [p for p in self.plan.items if p.state == ItemState.MISSING]

    @property
    def check_failures(self) -> list[PlannedItem]:
        """Images whose digest check failed (never copied)."""
        return [p for p in self.plan.items if p.state == ItemState.CHECK_FAILED]

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "counts": self.counts(),
            "seconds": round(self.seconds, 3),
            "errors": self.plan.errors,
            "warnings": self.plan.warnings,
            "unavailable": self.unavailable,
            "concurrency": self.concurrency,
            "results": [check_failure_dict(p) for p in self.check_failures]
            + [result_dict(r) for r in self.results],
            "plan": self.plan.to_dict(),
        }


def result_dict(r: CopyResult) -> dict[str, Any]:
    return {
        "source": str(r.item.source),
        "target": str(r.item.target),
        "stage": "copy",
        "status": r.status,
        "reason": r.reason,
        "seconds": round(r.duration, 3),
        "bytes": r.bytes,
        "source_digest": r.source_digest,
        "target_digest": r.target_digest,
        "error": r.error,
        "referrers": r.referrers.to_dict() if r.referrers is not None else None,
    }


def check_failure_dict(p: PlannedItem) -> dict[str, Any]:
    """A failed digest check in the shape of a copy result (`stage: check`)."""
    return {
        "source": str(p.item.source),
        "target": str(p.item.target),
        "stage": "check",
        "status": "failed",
        "reason": FailureReason.CHECK_FAILED,
        "seconds": 0.0,
        "bytes": None,
        "source_digest": p.source_digest,
        "target_digest": p.target_digest,
        "error": p.note,
        "referrers": None,
    }
