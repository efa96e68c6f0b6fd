"""`regmirror sync` with a copy record, and optionally an emulated digest-bearing source listing.

Usage: python -m bench.driver CONFIG --record FILE [--ttl SECONDS] [--listing DIGESTS_JSON]

This is `regmirror.cli.commands.cmd_sync` minus the progress bar, plus the record (until the CLI exposes
it, the harness drives the same service function). `--listing` emulates a source that knows each tag's
digest from its listing (ECR `DescribeImages`, Docker Hub's tags API): distribution has no such call,
so each repository costs one real `tags/list` GET (standing in for one listing page) and the digests
come from DIGESTS_JSON ({"repo": {"tag": "sha256:..."}}), written by the harness from the source.
Used only in no-op scenarios, where those digests are the source's current ones.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from regmirror.config import load_config
from regmirror.logs import configure_logging
from regmirror.model import SyncItem
from regmirror.registries.manifests import ManifestSource
from regmirror.sync.record import CopyRecord
from regmirror.sync.registries import Registries
from regmirror.sync.run import sync_config


class ListedSource:
    """A source client whose `tag_digests` costs one tags/list GET per repository (see module doc)."""

    def __init__(self, client: ManifestSource, digests: dict[str, dict[str, str]]) -> None:
        self.client = client
        self.digests = digests

    def list_tags(self, repository: str) -> list[str]:
        return self.client.list_tags(repository)

    def head_manifest(self, repository: str, reference: str) -> Any:
        return self.client.head_manifest(repository, reference)

    def tag_digests(self, repository: str) -> dict[str, str] | None:
        known = self.digests.get(repository, {})
        return {tag: known[tag] for tag in self.client.list_tags(repository) if tag in known}


class ListingRegistries(Registries):
    def __init__(self, config: Any, digests: dict[str, dict[str, str]]) -> None:
        super().__init__(config)
        self._digests = digests
        self._listed: ListedSource | None = None

    def source_client(self, item: SyncItem) -> Any:
        if self._listed is None:
            self._listed = ListedSource(super().source_client(item), self._digests)
        return self._listed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.driver")
    parser.add_argument("config")
    parser.add_argument("--record", required=True, type=Path)
    parser.add_argument("--ttl", type=float, default=3600.0)
    parser.add_argument("--listing", type=Path)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args(argv)
    configure_logging("INFO", "text")
    config = load_config(args.config)
    record = CopyRecord.open(args.record, args.ttl)
    if args.listing:
        registries: Registries = ListingRegistries(config, json.loads(args.listing.read_text()))
    else:
        registries = Registries(config)
    report = sync_config(config, concurrency=args.concurrency, registries=registries, record=record)
    out = report.to_dict()
    out["requests"] = registries.request_stats()
    out["record"] = dict(record.counts)
    json.dump(out, sys.stdout)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
