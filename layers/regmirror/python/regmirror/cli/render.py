"""What the commands print: plans, reports, `match` rows, JSON, and the progress bar."""

from __future__ import annotations

import json
import sys
from typing import Any, TextIO

from regmirror.rules.tags import TagSelector
from regmirror.sync.plan import MappingPlan, Plan, PlannedItem
from regmirror.sync.reports import SyncReport

# `--json` documents carry it first; 2: one key style (snake_case) everywhere, plan counts included
# (1 wrote `in-sync`, `missing-at-source`, `check-failed` there). Values (states, reasons) keep theirs.
JSON_SCHEMA_VERSION = 2


def print_json(data: dict[str, Any], out: TextIO | None = None) -> None:
    json.dump({"schema_version": JSON_SCHEMA_VERSION, **data}, out or sys.stdout, indent=2, sort_keys=False)
    (out or sys.stdout).write("\n")


def render_match(rows: list[dict[str, Any]], selector: TagSelector | None) -> None:
    width = max(len(r["name"]) for r in rows)
    for r in rows:
        print(_match_row(r, width))
    matched = sum(1 for r in rows if r["matched"])
    print(f"{matched} of {len(rows)} names match; tags: {selector.explain() if selector else 'all tags'}")


def _match_row(r: dict[str, Any], width: int) -> str:
    if not r["matched"]:
        return f"  -      {r['name']}"
    note = f"   ({r['note']})" if r["note"] else ""
    return f"  match  {r['name']:<{width}}  ->  {r['target']}{note}"


STATE_LABEL = {"in-sync": "in-sync", "copy": "COPY", "missing-at-source": "MISSING", "check-failed": "ERROR"}


def render_plan(plan: Plan, out: TextIO) -> None:
    for task in plan.tasks:
        out.write(f"task {task.task}\n")
        for m in task.mappings:
            _render_mapping(m, out)
    counts = plan.counts()
    out.write(
        f"{counts['total']} images: {counts['copy']} to copy, "
        f"{counts['in-sync']} in sync{_trusted(counts['trusted'], counts['spot_checked'])}, "
        f"{counts['missing-at-source']} missing at source, {counts['check-failed']} check failed\n"
    )
    for error in plan.errors:
        out.write(f"error: {error}\n")


def _render_mapping(m: MappingPlan, out: TextIO) -> None:
    listed = f"{m.listed} listed, " if m.listed is not None else ""
    out.write(f"  mapping {m.index}: from {m.from_!r} to {m.to!r}: {listed}")
    out.write(f"{len(m.matched)} matched, {len(m.items)} images; tags: {m.tag_rule}\n")
    out.writelines(f"    {line}\n" for line in _mapping_notes(m))
    out.writelines(_plan_row(p) for p in m.items)


def _mapping_notes(m: MappingPlan) -> list[str]:
    lines = [f"note: `to` did not match {note}" for note in m.notes]
    lines += [f"warning: {warning}" for warning in m.warnings]
    return lines + ([f"ERROR: {m.error}"] if m.error else [])


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
    out.writelines(f"{line}\n" for line in [*_failure_lines(report), *_problem_lines(report)])
    c = report.counts()
    out.write(
        f"{c['images']} images: {c['copied']} copied, "
        f"{c['in_sync']} already in sync{_trusted(c['trusted'], c['spot_checked'])}, "
        f"{c['failed']} failed, {c['missing_at_source']} missing at source ({report.seconds:.1f} s)\n"
    )


def _failure_lines(report: SyncReport) -> list[str]:
    checks = [
        f"FAILED  {p.item.source} -> {p.item.target}: check-failed: {p.note}" for p in report.check_failures
    ]
    copies = [
        f"FAILED  {r.item.source} -> {r.item.target}: {r.reason}: {r.error or ''}" for r in report.results
    ]
    return checks + [line for line, r in zip(copies, report.results, strict=True) if r.status == "failed"]


def _problem_lines(report: SyncReport) -> list[str]:
    lines = [f"MISSING {p.item.source} -> {p.item.target}: {p.note}" for p in report.missing]
    lines += [f"error: {error}" for error in report.plan.errors]
    return lines + [f"error: {host} unavailable: {why}" for host, why in report.unavailable.items()]
