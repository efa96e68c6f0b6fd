"""The plan: per task and mapping, the items found and the state each one is in (`ItemState`).

Stage 1 (`enumerate`) fills it with `pending` items; stage 2 (`check`) gives each its state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from regmirror.model import ItemState, ReferrerSummary, SyncItem

TRUSTED_NOTE = "copy record (target not checked)"  # in sync by a fresh record entry, not by a check
SPOT_CHECKED_NOTE = "copy record, spot-checked"  # a fresh entry checked anyway (sync.spotcheck)


@dataclass(slots=True)
class PlannedItem:
    item: SyncItem
    state: ItemState = ItemState.PENDING
    source_digest: str | None = None
    target_digest: str | None = None
    note: str = ""
    # what a sync would copy of its referrers (`ReferrerSummary.copied`: the ones the target lacks)
    referrers: ReferrerSummary | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "task": self.item.task,
            "mapping": self.item.mapping,
            "source": str(self.item.source),
            "target": str(self.item.target),
            "platform": self.item.platform,
            "state": self.state,
            "source_digest": self.source_digest,
            "target_digest": self.target_digest,
            "note": self.note,
            "referrers": _planned_referrers(self.referrers),
        }


def _planned_referrers(summary: ReferrerSummary | None) -> dict[str, Any] | None:
    if summary is None:
        return None
    return {
        "found": summary.found,
        "missing": summary.copied,
        "types": dict(summary.types),
        "scheme": summary.scheme,
        "failed": list(summary.failed),
        "warnings": list(summary.warnings),
    }


@dataclass(slots=True)
class MappingPlan:
    task: str
    index: int
    from_: str
    to: str | None
    line: int = 0
    listed: int | None = None  # names the lister returned (None: plain `from`, no lister)
    matched: list[str] = field(default_factory=list)
    tag_rule: str = ""
    items: list[PlannedItem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # probably a mistake: `from` or tags took nothing
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "mapping": self.index,
            "from": self.from_,
            "to": self.to,
            "listed": self.listed,
            "matched": self.matched,
            "tags": self.tag_rule,
            "images": len(self.items),
            "notes": self.notes,
            "warnings": self.warnings,
            "error": self.error,
        }


@dataclass(slots=True)
class TaskPlan:
    task: str
    mappings: list[MappingPlan] = field(default_factory=list)

    @property
    def items(self) -> list[PlannedItem]:
        return [p for m in self.mappings for p in m.items]

    @property
    def errors(self) -> list[str]:
        return [f"{self.task} mapping {m.index}: {m.error}" for m in self.mappings if m.error]

    @property
    def warnings(self) -> list[str]:
        return [f"{self.task} mapping {m.index}: {w}" for m in self.mappings for w in m.warnings]


@dataclass(slots=True)
class Plan:
    tasks: list[TaskPlan] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def items(self) -> list[PlannedItem]:
        return [p for t in self.tasks for p in t.items]

    @property
    def errors(self) -> list[str]:
        return [e for t in self.tasks for e in t.errors]

    @property
    def warnings(self) -> list[str]:
        return [w for t in self.tasks for w in t.warnings]

    def to_copy(self) -> list[SyncItem]:
        return [p.item for p in self.items if p.state == ItemState.COPY]

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {
            ItemState.IN_SYNC: 0,
            ItemState.COPY: 0,
            ItemState.MISSING: 0,
            ItemState.CHECK_FAILED: 0,
            ItemState.PENDING: 0,
        }
        for p in self.items:
            counts[p.state] = counts.get(p.state, 0) + 1
        counts["total"] = len(self.items)
        in_sync = [p.note for p in self.items if p.state == ItemState.IN_SYNC]
        counts["trusted"] = in_sync.count(TRUSTED_NOTE)
        counts["spot_checked"] = in_sync.count(SPOT_CHECKED_NOTE)
        looked = [p.referrers for p in self.items if p.referrers is not None]
        counts["referrers"] = sum(r.found for r in looked)
        counts["referrers_missing"] = sum(r.copied for r in looked)
        return counts

    def to_dict(self) -> dict[str, Any]:
        return {
            "counts": {key.replace("-", "_"): n for key, n in self.counts().items()},  # JSON keys: snake_case
            "errors": self.errors,
            "warnings": self.warnings,
            "seconds": round(self.seconds, 3),
            "mappings": [m.to_dict() for t in self.tasks for m in t.mappings],
            "items": [p.to_dict() for p in self.items],
        }
