"""What the commands print: plans, reports, `match` rows, JSON, and the progress bar."""

from __future__ import annotations

import json
import sys
from typing import Any, TextIO

from regmirror.model import CopyResult
from regmirror.rules.tags import TagSelector
from regmirror.sync.plan import Plan, PlannedItem
from regmirror.sync.reports import SyncReport


def print_json(data: Any, out: TextIO | None = None) -> None:
    json.dump(data, out or sys.stdout, indent=2, sort_keys=False)
    (out or sys.stdout).write("\n")


def render_match(rows: list[dict[str, Any]], selector: TagSelector | None) -> None:
    width = max(len(r["name"]) for r in rows)
    for r in rows:
        if r["matched"]:
            note = f"   ({r['note']})" if r["note"] else ""
            print(f"  match  {r['name']:<{width}}  ->  {r['target']}{note}")
        else:
            print(f"  -      {r['name']}")
    matched = sum(1 for r in rows if r["matched"])
    print(f"{matched} of {len(rows)} names match; tags: {selector.explain() if selector else 'all tags'}")


STATE_LABEL = {"in-sync": "in-sync", "copy": "COPY", "missing-at-source": "MISSING", "check-failed": "ERROR"}


def render_plan(plan: Plan, out: TextIO) -> None:
    for task in plan.tasks:
        out.write(f"task {task.task}\n")
        for m in task.mappings:
            listed = f"{m.listed} listed, " if m.listed is not None else ""
            out.write(f"  mapping {m.index}: from {m.from_!r} to {m.to!r}: {listed}")
            out.write(f"{len(m.matched)} matched, {len(m.items)} images; tags: {m.tag_rule}\n")
            for note in m.notes:
                out.write(f"    note: `to` did not match {note}\n")
            for warning in m.warnings:
                out.write(f"    warning: {warning}\n")
            if m.error:
                out.write(f"    ERROR: {m.error}\n")
            for p in m.items:
                out.write(_plan_row(p))
    counts = plan.counts()
    out.write(
        f"{counts['total']} images: {counts['copy']} to copy, "
        f"{counts['in-sync']} in sync{_trusted(counts['trusted'], counts['spot_checked'])}, "
        f"{counts['missing-at-source']} missing at source, {counts['check-failed']} check failed\n"
    )
    for error in plan.errors:
        out.write(f"error: {error}\n")


def _trusted(count: int, spot_checked: int) -> str:
    """How many of the in-sync images the copy record vouched for, their targets not checked, and how
    many of its entries were checked anyway (spot checks)."""
    spot = f"{spot_checked} spot-checked" if spot_checked else ""
    if not count:
        return f" ({spot} from the copy record)" if spot else ""
    return f" ({count} trusted from the copy record, targets not checked{'; ' + spot if spot else ''})"


def _plan_row(p: PlannedItem) -> str:
    label = STATE_LABEL.get(p.state, p.state)
    note = f"  ({p.note})" if p.note and p.state != "in-sync" else ""
    return f"    {label:<8} {p.item.source} -> {p.item.target}{note}\n"


def render_report(report: SyncReport, out: TextIO) -> None:
    for p in report.check_failures:
        out.write(f"FAILED  {p.item.source} -> {p.item.target}: check-failed: {p.note}\n")
    for r in report.results:
        if r.status == "failed":
            out.write(f"FAILED  {r.item.source} -> {r.item.target}: {r.reason}: {r.error or ''}\n")
    for p in report.missing:
        out.write(f"MISSING {p.item.source} -> {p.item.target}: {p.note}\n")
    for error in report.plan.errors:
        out.write(f"error: {error}\n")
    for host, why in report.unavailable.items():
        out.write(f"error: {host} unavailable: {why}\n")
    c = report.counts()
    out.write(
        f"{c['images']} images: {c['copied']} copied, "
        f"{c['in_sync']} already in sync{_trusted(c['trusted'], c['spot_checked'])}, "
        f"{c['failed']} failed, {c['missing_at_source']} missing at source ({report.seconds:.1f} s)\n"
    )


class Progress:
    """A one-line progress bar on a terminal; silent otherwise."""

    def __init__(self, stream: TextIO, *, enabled: bool) -> None:
        self.stream, self.enabled = stream, enabled
        self.checked_count = self.to_copy = self.done = self.copied = self.failed = 0

    def checked(self, planned: PlannedItem) -> None:
        self.checked_count += 1
        self.to_copy += planned.state == "copy"
        self.failed += planned.state == "check-failed"
        self._draw()

    def result(self, result: CopyResult) -> None:
        self.done += 1
        self.copied += result.status == "copied"
        self.failed += result.status == "failed"
        self._draw()

    def _draw(self) -> None:
        if not self.enabled:
            return
        total = max(self.to_copy, 1)
        filled = int(20 * self.done / total)
        bar = "#" * filled + "." * (20 - filled)
        counts = f"checked {self.checked_count}, copied {self.copied}/{self.to_copy}, failed {self.failed}"
        self.stream.write(f"\r[{bar}] {counts} ")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\n")
