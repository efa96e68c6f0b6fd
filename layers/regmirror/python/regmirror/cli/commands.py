"""The CLI's commands: each loads the config, calls the service and renders the answer."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from regmirror.cli.parser import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from regmirror.errors import ConfigError, UsageError

# Each command imports what it uses when it runs (config models, the HTTP stack, the sync engine):
# importing this module, which every command does, stays cheap, and `schema`, `match` or
# `completion` never pay for requests or the relay.
if TYPE_CHECKING:
    from regmirror.config import Config, Task
    from regmirror.rules.mapping import Mapping
    from regmirror.sync.record import CopyRecord

log = logging.getLogger("regmirror.cli")


def _load(args: argparse.Namespace) -> Config:
    from regmirror.config import load_config

    config = load_config(args.config)
    for warning in config.warnings:
        log.warning("%s", warning)
    return config


def _selected(config: Config, pattern: str | None) -> list[Task]:
    """The tasks `--task` selects; selecting none is a usage error (a typo must not pass as "ok")."""
    tasks = config.select_tasks(pattern)
    if pattern is not None and not tasks:
        known = ", ".join(t.name for t in config.tasks)
        raise UsageError(f"--task {pattern!r} selects no task of {config.source_file} (its tasks: {known})")
    return tasks


def _strict(args: argparse.Namespace, code: int, warnings: list[str]) -> int:
    """`--strict`: a run that warned fails (CI), once everything else is done and reported."""
    if code == EXIT_OK and getattr(args, "strict", False) and warnings:
        print(f"regmirror: --strict: {len(warnings)} warning(s), exit 1", file=sys.stderr)
        return EXIT_FAILED
    return code


def cmd_validate(args: argparse.Namespace) -> int:
    from regmirror.sync.conflicts import check_static_targets
    from regmirror.sync.run import credential_problems
    from regmirror.sync.skopeo_check import SkopeoUnusable, check_skopeo

    config = _load(args)
    tasks = _selected(config, args.task)
    errors, unavailable = credential_problems(config, tasks, offline=True)
    if errors:
        raise ConfigError(errors)
    check_static_targets(config, tasks)  # what `plan` would refuse before listing, `validate` refuses
    for problem in unavailable:  # CI validates configs without their secrets; a run needs them
        log.warning("%s (needed when the registry is used)", problem)
    try:  # nor skopeo, perhaps: said, not held against --strict
        log.info("%s", check_skopeo(config.skopeo.binary))
    except SkopeoUnusable as exc:
        log.warning("%s (needed to sync)", exc)
    mappings = sum(len(t.mappings) for t in tasks)
    print(f"{args.config}: ok ({len(tasks)} tasks, {mappings} mappings)")
    return _strict(args, EXIT_OK, config.warnings)  # secrets absent in CI are not held against it


def cmd_plan(args: argparse.Namespace) -> int:
    from regmirror.cli.render import print_json, render_plan
    from regmirror.sync.run import plan_config

    config = _load(args)
    _selected(config, args.task)
    plan = plan_config(config, task_pattern=args.task, check=not getattr(args, "no_check", False))
    if args.json:
        print_json(plan.to_dict())
    else:
        render_plan(
            plan,
            sys.stdout,
            all_images=getattr(args, "all", False),
            markdown=getattr(args, "format", "text") == "markdown",
        )
    return _strict(args, EXIT_FAILED if plan.errors else EXIT_OK, config.warnings + plan.warnings)


def cmd_sync(args: argparse.Namespace) -> int:
    from regmirror.cli.stopping import stop_on_signals
    from regmirror.sync.runlock import run_lock

    if args.dry_run:
        return cmd_plan(args)
    with stop_on_signals(), run_lock(args.config, wait=args.wait, what="sync", on_wait=_waiting):
        return _sync(args)


def _waiting(holder: str) -> None:
    log.warning("waiting for the other regmirror syncing this config (%s)", holder)


def _sync(args: argparse.Namespace) -> int:
    from regmirror.cli.progress import SyncProgress
    from regmirror.cli.render import print_json, render_report
    from regmirror.sync.registries import Registries
    from regmirror.sync.run import sync_config
    from regmirror.sync.skopeo_check import check_skopeo

    config = _load(args)
    _selected(config, args.task)
    log.debug("using %s", check_skopeo(config.skopeo.binary))  # SkopeoUnusable: before any work
    live = not args.no_progress and not args.json and sys.stderr.isatty()
    registries = Registries(config)
    record = open_record(args)
    with SyncProgress(sys.stderr, enabled=live) as progress:
        report = sync_config(
            config,
            task_pattern=args.task,
            concurrency=args.concurrency,
            registries=registries,
            on_plan=progress.plan,
            on_checked=progress.checked,
            on_result=progress.result,
            record=record,
        )
    if args.json:
        out = report.to_dict()
        out["requests"] = registries.request_stats()
        out["record"] = {"file": str(record.path), **record.counts} if record else None
        print_json(out)
    else:
        render_report(report, sys.stdout, markdown=args.format == "markdown")
    return _strict(args, EXIT_OK if report.ok else EXIT_FAILED, config.warnings + report.plan.warnings)


def cmd_run(args: argparse.Namespace) -> int:
    from regmirror.cli.daemon import Daemon
    from regmirror.config import load_config
    from regmirror.sync.runlock import run_lock
    from regmirror.sync.skopeo_check import check_skopeo

    config = load_config(args.config)  # the daemon loads (and reloads) it, warnings and all
    _selected(config, args.task)
    log.debug("using %s", check_skopeo(config.skopeo.binary))  # SkopeoUnusable: before any work
    with run_lock(args.config, wait=args.wait, what="run", on_wait=_waiting):
        record = open_record(args)
        return Daemon(args.config, task_pattern=args.task, concurrency=args.concurrency, record=record).run()


def open_record(args: argparse.Namespace) -> CopyRecord | None:
    """The copy record of this config: on by default; `--verify` checks every target this run
    (and refreshes the record); `--no-record` neither reads nor writes it."""
    from regmirror.sync.record import CopyRecord, default_record_path

    if args.no_record:
        return None
    ttl = 0.0 if args.verify else float(args.record_ttl)
    path = Path(args.record_file) if args.record_file else default_record_path(args.config)
    return CopyRecord.open(path, max(0.0, ttl))


def cmd_completion(args: argparse.Namespace) -> int:
    import shtab

    from regmirror.cli.parser import build_parser

    sys.stdout.write(shtab.complete(build_parser(), shell=args.shell))
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    from regmirror.config.schema import config_schema

    text = json.dumps(config_schema(), indent=2, ensure_ascii=False) + "\n"
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


def cmd_match(args: argparse.Namespace) -> int:
    from regmirror.cli.render import print_json, render_match
    from regmirror.rules.mapping import Mapping

    if not args.from_:  # `match CONFIG`: the config's own rules
        if not args.config:
            print("regmirror match: give a CONFIG, or --from (with names or --registry)", file=sys.stderr)
            return EXIT_USAGE
        return _match_config(args)
    rule = Mapping.parse(args.from_, args.to, args.tags)
    selector = rule.tags if args.tags else None
    # with --from, every positional is a name (argparse gives the first to CONFIG)
    names = [*([args.config] if args.config else []), *args.names]
    if args.registry:
        names += _catalog_names(args.registry, args.insecure)
    if not names:
        print("regmirror match: give names, or --registry to use a catalog", file=sys.stderr)
        return EXIT_USAGE
    rows = [_match_row(rule, name) for name in names]
    if args.json:
        print_json({"rows": rows, "tags": selector.explain() if selector else "all tags"})
    else:
        render_match(rows, selector)
    return EXIT_OK


def _match_config(args: argparse.Namespace) -> int:
    """The config's mappings on their real sources (listers, credentials), no digest checks: per
    mapping the repositories its `from` matched, where they go and the tags its `tags` selected."""
    from regmirror.cli.render import mapping_selection, print_json, render_selection
    from regmirror.sync.run import plan_config

    config = _load(args)
    _selected(config, args.task)
    plan = plan_config(config, task_pattern=args.task, check=False)
    mappings = [m for task in plan.tasks for m in task.mappings]
    if args.json:
        print_json({"mappings": [mapping_selection(m) for m in mappings], "errors": plan.errors})
    else:
        render_selection(mappings, sys.stdout)
    return EXIT_FAILED if plan.errors else EXIT_OK


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
