"""The CLI's commands: each loads the config, calls the service and renders the answer."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any, TextIO

from regmirror.cli.main import EXIT_FAILED, EXIT_OK, EXIT_USAGE, print_json
from regmirror.config import Config, load_config
from regmirror.config.values import parse_go_duration
from regmirror.model import CopyResult
from regmirror.rules.mapping import Mapping
from regmirror.rules.tags import TagSelector
from regmirror.sync.plan import Plan, PlannedItem
from regmirror.sync.record import CopyRecord, default_record_path
from regmirror.sync.registries import Registries
from regmirror.sync.reports import SyncReport
from regmirror.sync.run import check_credentials, plan_config, sync_config

log = logging.getLogger("regmirror.cli")


def _load(args: argparse.Namespace) -> Config:
    config = load_config(args.config)
    for warning in config.warnings:
        log.warning("%s", warning)
    return config


def cmd_validate(args: argparse.Namespace) -> int:
    config = _load(args)
    tasks = config.select_tasks(args.task)
    check_credentials(config, tasks, offline=True)
    mappings = sum(len(t.mappings) for t in tasks)
    print(f"{args.config}: ok ({len(tasks)} tasks, {mappings} mappings)")
    return EXIT_OK


def cmd_plan(args: argparse.Namespace) -> int:
    config = _load(args)
    plan = plan_config(config, task_pattern=args.task, check=not getattr(args, "no_check", False))
    if args.json:
        print_json(plan.to_dict())
    else:
        render_plan(plan, sys.stdout)
    return EXIT_FAILED if plan.errors else EXIT_OK


def cmd_sync(args: argparse.Namespace) -> int:
    if args.dry_run:
        return cmd_plan(args)
    config = _load(args)
    progress = Progress(sys.stderr, enabled=not args.no_progress and not args.json and sys.stderr.isatty())
    registries = Registries(config)
    record = open_record(args)
    report = sync_config(
        config,
        task_pattern=args.task,
        concurrency=args.concurrency,
        registries=registries,
        on_checked=progress.checked,
        on_result=progress.result,
        record=record,
    )
    progress.close()
    if args.json:
        out = report.to_dict()
        out["requests"] = registries.request_stats()
        out["record"] = {"file": str(record.path), **record.counts} if record else None
        print_json(out)
    else:
        render_report(report, sys.stdout)
    return EXIT_OK if report.ok else EXIT_FAILED


def cmd_run(args: argparse.Namespace) -> int:
    from regmirror.cli.daemon import Daemon

    record = open_record(args)
    return Daemon(args.config, task_pattern=args.task, concurrency=args.concurrency, record=record).run()


def open_record(args: argparse.Namespace) -> CopyRecord | None:
    """The copy record of this config: on by default; `--verify` checks every target this run
    (and refreshes the record); `--no-record` neither reads nor writes it."""
    if args.no_record:
        return None
    ttl = 0.0 if args.verify else parse_go_duration(args.record_ttl)
    path = Path(args.record_file) if args.record_file else default_record_path(args.config)
    return CopyRecord.open(path, max(0.0, ttl))


def cmd_match(args: argparse.Namespace) -> int:
    rule = Mapping.parse(args.from_, args.to, args.tags)
    selector = rule.tags if args.tags else None
    names = list(args.names)
    if args.registry:
        names += _catalog_names(args.registry, args.insecure)
    if not names:
        print("regmirror match: give names, or --registry to use a catalog", file=sys.stderr)
        return EXIT_USAGE
    rows = [_match_row(rule, name) for name in names]
    if args.json:
        print_json({"rows": rows, "tags": selector.explain() if selector else "all tags"})
    else:
        _render_match(rows, selector)
    return EXIT_OK


def _match_row(rule: Mapping, name: str) -> dict[str, Any]:
    hit = rule.selects(name)
    rewrite = rule.target(name) if hit else None
    return {
        "name": name,
        "matched": hit,
        "target": rewrite.path if rewrite else None,
        "note": rewrite.note if rewrite else "",
    }


def _catalog_names(registry: str, insecure: bool) -> list[str]:
    from regmirror.registries.distribution.client import RegistryClient
    from regmirror.registries.endpoint import Endpoint

    endpoint = Endpoint(registry, insecure=insecure, verify_tls=not insecure, plain_http=insecure)
    return list(RegistryClient(endpoint, None).catalog())


def _render_match(rows: list[dict[str, Any]], selector: TagSelector | None) -> None:
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
            if m.error:
                out.write(f"    ERROR: {m.error}\n")
            for p in m.items:
                out.write(_plan_row(p))
    counts = plan.counts()
    out.write(
        f"{counts['total']} images: {counts['copy']} to copy, {counts['in-sync']} in sync, "
        f"{counts['missing-at-source']} missing at source, {counts['check-failed']} check failed\n"
    )
    for error in plan.errors:
        out.write(f"error: {error}\n")


def _plan_row(p: PlannedItem) -> str:
    label = STATE_LABEL.get(p.state, p.state)
    note = f"  ({p.note})" if p.note and p.state != "in-sync" else ""
    return f"    {label:<8} {p.item.source} -> {p.item.target}{note}\n"


def render_report(report: SyncReport, out: TextIO) -> None:
    for r in report.results:
        if r.status == "failed":
            out.write(f"FAILED  {r.item.source} -> {r.item.target}: {r.reason}: {r.error or ''}\n")
    for error in report.plan.errors:
        out.write(f"error: {error}\n")
    c = report.counts()
    out.write(
        f"{c['images']} images: {c['copied']} copied, {c['in_sync']} already in sync, {c['failed']} failed, "
        f"{c['missing_at_source']} missing at source ({report.seconds:.1f} s)\n"
    )


class Progress:
    """A one-line progress bar on a terminal; silent otherwise."""

    def __init__(self, stream: TextIO, *, enabled: bool) -> None:
        self.stream, self.enabled = stream, enabled
        self.checked_count = self.to_copy = self.done = self.failed = 0

    def checked(self, planned: PlannedItem) -> None:
        self.checked_count += 1
        self.to_copy += planned.state == "copy"
        self._draw()

    def result(self, result: CopyResult) -> None:
        self.done += 1
        self.failed += result.status == "failed"
        self._draw()

    def _draw(self) -> None:
        if not self.enabled:
            return
        total = max(self.to_copy, 1)
        filled = int(20 * self.done / total)
        bar = "#" * filled + "." * (20 - filled)
        counts = f"checked {self.checked_count}, copied {self.done}/{self.to_copy}, failed {self.failed}"
        self.stream.write(f"\r[{bar}] {counts} ")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\n")
