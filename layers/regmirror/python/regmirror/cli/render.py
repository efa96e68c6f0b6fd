"""What the commands print: plans, reports, `match` rows, JSON, and the progress bar."""

from __future__ import annotations

import json
import sys
from collections import Counter
from typing import Any, TextIO

from regmirror.cli.tables import Cell, table
from regmirror.model import FailureReason, ItemState
from regmirror.rules.referrers import KIND_OF_TYPE
from regmirror.rules.tags import TagSelector
from regmirror.sync.plan import MappingPlan, Plan, PlannedItem
from regmirror.sync.reports import SyncReport

# `--json` documents carry it first; 2: one key style (snake_case) everywhere, plan counts included
# (1 wrote `in-sync`, `missing-at-source`, `check-failed` there). Values (states, reasons) keep theirs.
JSON_SCHEMA_VERSION = 2


def print_json(data: dict[str, Any], out: TextIO | None = None) -> None:
    json.dump({"schema_version": JSON_SCHEMA_VERSION, **data}, out or sys.stdout, indent=2, sort_keys=False)
    (out or sys.stdout).write("\n")


def mapping_selection(m: MappingPlan) -> dict[str, Any]:
    """What one mapping selected: each matched repository, its target and its selected tags."""
    repositories: dict[str, dict[str, Any]] = {}
    for p in m.items:
        entry = repositories.setdefault(
            p.item.source.repository,
            {"repository": p.item.source.repository, "target": p.item.target.repository},
        )
        entry.setdefault("tags", []).append(p.item.source.tag or p.item.source.digest)
    return {
        "task": m.task,
        "mapping": m.index,
        "from": m.from_,
        "to": m.to,
        "tags_rule": m.tag_rule,
        "listed": m.listed,
        "repositories": list(repositories.values()),
        "warnings": m.warnings,
        "error": m.error,
    }


def render_selection(mappings: list[MappingPlan], out: TextIO) -> None:
    for m in mappings:
        selection = mapping_selection(m)
        listed = f"{m.listed} listed, " if m.listed is not None else ""
        out.write(f"task {m.task} mapping {m.index}: from {m.from_!r} to {m.to!r}; tags: {m.tag_rule}\n")
        out.write(f"  {listed}{len(selection['repositories'])} repositories, {len(m.items)} images\n")
        for repo in selection["repositories"]:
            out.write(f"  {repo['repository']} -> {repo['target']}: {', '.join(repo['tags'])}\n")
        out.writelines(f"  {line}\n" for line in _mapping_notes(m))


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


def render_plan(plan: Plan, out: TextIO, *, all_images: bool = False, markdown: bool = False) -> None:
    """Per mapping its notes and the images that change (every image with `all_images`), then a table
    of the mappings and the counts; `markdown` for a CI job summary."""
    if markdown:
        _markdown_plan(plan, out, all_images)
        return
    for task in plan.tasks:
        out.write(f"task {task.task}\n")
        for m in task.mappings:
            _render_mapping(m, out, all_images)
    out.write("\n")
    out.writelines(f"{line}\n" for line in table(MAPPING_HEADERS, _mapping_rows(plan)))
    out.write(_plan_summary(plan) + "\n")
    for error in plan.errors:
        out.write(f"error: {error}\n")


MAPPING_HEADERS = ("task", "mapping", "from", "listed", "matched", "to copy", "in sync", "missing", "errors")


def _mapping_rows(plan: Plan) -> list[list[Cell]]:
    rows: list[list[Cell]] = []
    for task in plan.tasks:
        for m in task.mappings:
            states = [p.state for p in m.items]
            errors = states.count(ItemState.CHECK_FAILED) + (1 if m.error else 0)
            rows.append(
                [
                    task.task,
                    m.index,
                    m.from_,
                    "-" if m.listed is None else m.listed,
                    len(m.matched),
                    states.count(ItemState.COPY),
                    states.count(ItemState.IN_SYNC),
                    states.count(ItemState.MISSING),
                    errors,
                ]
            )
    return rows


def _plan_summary(plan: Plan) -> str:
    counts = plan.counts()
    return (
        f"{counts['total']} images: {counts['copy']} to copy, "
        f"{counts['in-sync']} in sync{_trusted(counts['trusted'], counts['spot_checked'])}, "
        f"{counts['missing-at-source']} missing at source, {counts['check-failed']} check failed"
        + (
            f"; {counts['referrers']} referrers, {counts['referrers_missing']} missing in the target"
            if counts["referrers"]
            else ""
        )
    )


def _markdown_plan(plan: Plan, out: TextIO, all_images: bool) -> None:
    out.write(f"### regmirror plan\n\n{_plan_summary(plan)}\n\n")
    _write_table(out, MAPPING_HEADERS, _mapping_rows(plan), markdown=True)
    shown = [p for p in plan.items if _shown(p, all_images)]
    rows: list[list[Cell]] = [
        [p.state, str(p.item.source), str(p.item.target), (p.note or "") + _referrer_note(p)] for p in shown
    ]
    if rows:
        out.write("\n")
        _write_table(out, ("state", "source", "target", "note"), rows, markdown=True)
    problems = [*(f"warning: {w}" for w in plan.warnings), *(f"error: {e}" for e in plan.errors)]
    out.write("".join(["\n"] * bool(problems) + [f"- {line}\n" for line in problems]))


def _write_table(out: TextIO, headers: tuple[str, ...], rows: list[list[Cell]], *, markdown: bool) -> None:
    out.writelines(f"{line}\n" for line in table(headers, rows, markdown=markdown))


def _render_mapping(m: MappingPlan, out: TextIO, all_images: bool) -> None:
    listed = f"{m.listed} listed, " if m.listed is not None else ""
    out.write(f"  mapping {m.index}: from {m.from_!r} to {m.to!r}: {listed}")
    out.write(f"{len(m.matched)} matched, {len(m.items)} images; tags: {m.tag_rule}\n")
    out.writelines(f"    {line}\n" for line in _mapping_notes(m))
    shown = [p for p in m.items if _shown(p, all_images)]
    out.writelines(_plan_row(p) for p in shown)
    if len(shown) < len(m.items):
        out.write(f"    ({len(m.items) - len(shown)} in sync, not listed: --all lists every image)\n")


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
    return f"    {label:<8} {p.item.source} -> {p.item.target}{note}{_referrer_note(p)}\n"


def _referrer_note(p: PlannedItem) -> str:
    """`  [3 referrers: 1 signature, 2 other; 1 missing in the target]` for an image with any."""
    r = p.referrers
    if r is None or not (r.found or r.failed):
        return ""
    kinds: Counter[str] = Counter()
    for artifact_type, n in r.types:
        kinds[KIND_OF_TYPE.get(artifact_type, artifact_type or "untyped")] += n
    types = ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items()))
    problems = f"; {len(r.failed)} unreadable" if r.failed else ""
    return f"  [{r.found} referrers: {types}; {r.copied} missing in the target{problems}]"


def _shown(p: PlannedItem, all_images: bool) -> bool:
    """Images that change: not in sync, or in sync with referrers the target lacks."""
    return all_images or p.state != ItemState.IN_SYNC or bool(p.referrers and p.referrers.copied)


def render_report(report: SyncReport, out: TextIO, *, markdown: bool = False) -> None:
    """Each failure and problem, the images per target repository, the failures per reason, then the
    counts; `markdown` for a CI job summary."""
    summary = _report_summary(report)
    if markdown:
        out.write(f"### regmirror sync\n\n{summary}\n")
        for headers, rows in _report_tables(report):
            out.write("\n" + "".join(f"{line}\n" for line in table(headers, rows, markdown=True)))
        problems = [*_failure_lines(report), *_problem_lines(report)]
        if problems:
            out.write("\n" + "".join(f"- `{line}`\n" for line in problems))
        return
    out.writelines(f"{line}\n" for line in [*_failure_lines(report), *_problem_lines(report)])
    for headers, rows in _report_tables(report):
        out.write("".join(f"{line}\n" for line in table(headers, rows)) + "\n")
    out.write(summary + "\n")


def _report_summary(report: SyncReport) -> str:
    c = report.counts()
    return (
        f"{c['images']} images: {c['copied']} copied{_by_manifest(c['copied_by_manifest'])}, "
        f"{c['in_sync']} already in sync{_trusted(c['trusted'], c['spot_checked'])}, "
        f"{c['failed']} failed, {c['missing_at_source']} missing at source{_referrers(c)} "
        f"({report.seconds:.1f} s{_pace(report)})"
    )


def _by_manifest(count: int) -> str:
    """` (3 by manifest alone)`: re-tags and mounts of images the target held (no skopeo)."""
    return f" ({count} by manifest alone)" if count else ""


def _pace(report: SyncReport) -> str:
    """`, up to 16 copies at once, halved 2× on overload` when the adaptive limit moved."""
    routes = report.concurrency
    peak = max((r["peak"] for r in routes), default=0)
    cuts = sum(r["cuts"] for r in routes)
    grew = any(r["peak"] > r["start"] for r in routes)
    text = f", up to {peak} copies at once" if grew or cuts else ""
    return text + (f", halved {cuts}× on 429/5xx/timeouts" if cuts else "")


def _referrers(c: dict[str, int]) -> str:
    """`; 6 referrers: 2 copied` (signatures, attestations, SBOMs) when any was seen."""
    if not c["referrers_found"]:
        return ""
    failed = f", {c['referrers_failed']} failed" if c["referrers_failed"] else ""
    return f"; {c['referrers_found']} referrers: {c['referrers_copied']} copied{failed}"


REPOSITORY_HEADERS = ("target repository", "images", "copied", "in sync", "failed", "missing")


def _report_tables(report: SyncReport) -> list[tuple[tuple[str, ...], list[list[Cell]]]]:
    """Images per target repository (when there are several), failures per reason (when any)."""
    tables: list[tuple[tuple[str, ...], list[list[Cell]]]] = []
    repositories = _per_repository(report)
    if len(repositories) > 1:
        rows: list[list[Cell]] = [
            [name, sum(n.values()), n["copied"], n["in sync"], n["failed"], n["missing"]]
            for name, n in sorted(repositories.items())
        ]
        tables.append((REPOSITORY_HEADERS, rows))
    reasons = Counter(str(r.reason) for r in report.results if r.status == "failed")
    reasons.update(str(FailureReason.CHECK_FAILED) for _ in report.check_failures)
    if reasons:
        tables.append((("failed because", "images"), [[reason, n] for reason, n in reasons.most_common()]))
    return tables


def _per_repository(report: SyncReport) -> dict[str, Counter[str]]:
    """Target repository → how many of its images were copied, in sync, failed, missing."""
    outcome = {str(p.item.target): _PLANNED_OUTCOME.get(p.state, "failed") for p in report.plan.items}
    outcome |= {str(r.item.target): _RESULT_OUTCOME.get(r.status, "failed") for r in report.results}
    repositories: dict[str, Counter[str]] = {}
    for p in report.plan.items:
        repository = f"{p.item.target.registry}/{p.item.target.repository}"
        repositories.setdefault(repository, Counter())[outcome[str(p.item.target)]] += 1
    return repositories


_RESULT_OUTCOME = {"copied": "copied", "skipped": "in sync", "failed": "failed"}
_PLANNED_OUTCOME = {
    ItemState.IN_SYNC: "in sync",
    ItemState.COPY: "failed",  # until a result says otherwise (a copy never started)
    ItemState.MISSING: "missing",
    ItemState.CHECK_FAILED: "failed",
}


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
