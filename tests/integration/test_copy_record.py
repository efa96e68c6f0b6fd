"""The copy record through the real sync path: real registries, real skopeo, requests counted from the
registries' access logs."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from regmirror.config import Config, load_config
from regmirror.model import SyncItem
from regmirror.registries.distribution.client import RegistryClient
from regmirror.sync.record import CopyRecord
from regmirror.sync.registries import Registries
from regmirror.sync.reports import SyncReport
from regmirror.sync.run import plan_config, sync_config

from tests.testbed import RegistryServer, manifest_digest, push_image

MANIFESTS = r"/v2/.+/manifests/.+"
TAGS = ["1.0", "1.1", "2.0"]


@pytest.fixture
def source(plain_registry: RegistryServer) -> RegistryServer:
    for tag in TAGS:
        push_image(plain_registry, "team/app", tag)
    push_image(plain_registry, "team/multi", "1.0", platforms=["linux/amd64", "linux/arm64"])
    return plain_registry


def make_config(config_file: Callable[[str], Path], src: RegistryServer, dst: RegistryServer) -> Config:
    return load_config(
        config_file(f"""
            tasks:
              - name: t
                source: {{registry: "{src.host}", insecure: true}}
                target: {{registry: "{dst.host}", insecure: true}}
                mappings:
                  - from: team/app
                  - from: team/multi
                    to: single/multi
                    platform: linux/arm64
            """)
    )


def sync(config: Config, record: CopyRecord | None, registries: Registries | None = None) -> SyncReport:
    report = sync_config(config, concurrency=2, record=record, registries=registries)
    assert report.ok, report.to_dict()
    return report


def heads(server: RegistryServer, since: int) -> int:
    return len(server.requests("HEAD", MANIFESTS, since=since))


def test_fresh_record_replaces_target_checks_but_never_source_checks(
    source: RegistryServer,
    second_plain_registry: RegistryServer,
    config_file: Callable[[str], Path],
    tmp_path: Path,
) -> None:
    src, dst = source, second_plain_registry
    config = make_config(config_file, src, dst)
    path = tmp_path / "record.json"
    first = sync(config, CopyRecord.open(path))
    assert first.counts()["copied"] == 4
    assert len(CopyRecord.open(path)) == 4

    src_mark, dst_mark = src.mark(), dst.mark()
    second = sync(config, CopyRecord.open(path, spot_fraction=0))
    assert second.counts()["in_sync"] == 4 and second.counts()["copied"] == 0
    # the target is asked once per repository (the spot check's probe), the record answers the rest
    assert heads(dst, dst_mark) == 2
    assert (second.counts()["spot_checked"], second.counts()["trusted"]) == (2, 2)
    assert heads(src, src_mark) == 4  # the source is asked every time
    assert not src.requests("GET", MANIFESTS, since=src_mark)
    assert all(p.note.startswith("copy record") for p in second.plan.items)


def test_a_wiped_target_is_found_by_the_next_run_however_fresh_the_record(
    source: RegistryServer,
    second_plain_registry: RegistryServer,
    config_file: Callable[[str], Path],
    tmp_path: Path,
) -> None:
    """The issue's "60 images: 0 copied, 60 already in sync" with nothing in the target: each target
    repository's probe finds it empty, and every image of it is checked, then copied."""
    src, dst = source, second_plain_registry
    config = make_config(config_file, src, dst)
    path = tmp_path / "record.json"
    sync(config, CopyRecord.open(path))
    shutil.rmtree(dst.storage_dir / "docker" / "registry" / "v2" / "repositories")
    again = sync(config, CopyRecord.open(path, ttl=3600, spot_fraction=0))
    assert again.counts()["copied"] == 4 and again.counts()["trusted"] == 0
    assert manifest_digest(dst, "team/app", "2.0") == manifest_digest(src, "team/app", "2.0")


def test_changed_source_is_copied_despite_a_fresh_record(
    source: RegistryServer,
    second_plain_registry: RegistryServer,
    config_file: Callable[[str], Path],
    tmp_path: Path,
) -> None:
    src, dst = source, second_plain_registry
    config = make_config(config_file, src, dst)
    path = tmp_path / "record.json"
    sync(config, CopyRecord.open(path))
    new_digest = push_image(src, "team/app", "1.1", seed="rebuilt")
    report = sync(config, CopyRecord.open(path))
    assert [str(r.item.target) for r in report.results] == [f"{dst.host}/team/app:1.1"]
    assert manifest_digest(dst, "team/app", "1.1") == new_digest
    entry = CopyRecord.open(path).get(report.results[0].item.key())
    assert entry is not None and entry.source_digest == new_digest


def test_target_changes_are_found_once_the_ttl_is_over(
    source: RegistryServer,
    second_plain_registry: RegistryServer,
    config_file: Callable[[str], Path],
    tmp_path: Path,
) -> None:
    src, dst = source, second_plain_registry
    config = make_config(config_file, src, dst)
    path = tmp_path / "record.json"
    sync(config, CopyRecord.open(path))
    expected = manifest_digest(src, "team/app", "2.0")
    push_image(dst, "team/app", "2.0", seed="tampered in the target")

    # within the TTL the record is believed but for the spot checks: one probe per repository (which
    # may be this very tag) and a sample; a sample of all finds it for sure
    dst_mark = dst.mark()
    sampled = sync(config, CopyRecord.open(path, ttl=3600, spot_fraction=1))
    assert heads(dst, dst_mark) == 4
    assert [r.item.target.tag for r in sampled.results] == ["2.0"]
    assert manifest_digest(dst, "team/app", "2.0") == expected

    push_image(dst, "team/app", "2.0", seed="tampered again")
    dst_mark = dst.mark()
    verifying = sync(config, CopyRecord.open(path, ttl=0, spot_fraction=0))  # full re-verification
    assert heads(dst, dst_mark) == 4
    assert [r.item.target.tag for r in verifying.results] == ["2.0"]
    assert manifest_digest(dst, "team/app", "2.0") == expected


def test_single_platform_copy_is_proven_in_sync_by_the_record(
    source: RegistryServer,
    second_plain_registry: RegistryServer,
    config_file: Callable[[str], Path],
    tmp_path: Path,
) -> None:
    src, dst = source, second_plain_registry
    config = make_config(config_file, src, dst)
    sync(config, None)
    again = sync(config, None)
    # Without a record, a single platform of a multi-arch source cannot be proven equal: copied again.
    assert [str(r.item.target) for r in again.results] == [f"{dst.host}/single/multi:1.0"]

    path = tmp_path / "record.json"
    sync(config, CopyRecord.open(path, ttl=0))  # copies it once more and records what it wrote
    dst_mark = dst.mark()
    expired = sync(config, CopyRecord.open(path, ttl=0))  # every target is checked with a HEAD...
    assert expired.results == []  # ...and the recorded platform digest proves it in sync
    assert heads(dst, dst_mark) == 4


class ListedSource:
    """A source whose `tag_digests` lists tags for real and takes digests from the registry's HEADs made
    up front: the shape of an ECR / Docker Hub listing on a registry that has none."""

    def __init__(self, client: RegistryClient, digests: dict[str, dict[str, str]]) -> None:
        self.client, self.digests, self.listings = client, digests, 0

    def list_tags(self, repository: str) -> list[str]:
        return self.client.list_tags(repository)

    def head_manifest(self, repository: str, reference: str) -> Any:
        return self.client.head_manifest(repository, reference)

    def tag_digests(self, repository: str) -> dict[str, str] | None:
        self.listings += 1
        return {t: d for t, d in self.digests.get(repository, {}).items() if t in self.list_tags(repository)}


def test_digest_listing_and_record_leave_one_target_head_per_repository(
    source: RegistryServer,
    second_plain_registry: RegistryServer,
    config_file: Callable[[str], Path],
    tmp_path: Path,
) -> None:
    src, dst = source, second_plain_registry
    config = make_config(config_file, src, dst)
    path = tmp_path / "record.json"
    sync(config, CopyRecord.open(path))
    digests = {
        "team/app": {t: manifest_digest(src, "team/app", t) or "" for t in TAGS},
        "team/multi": {"1.0": manifest_digest(src, "team/multi", "1.0") or ""},
    }

    class Listing(Registries):
        listed: ListedSource | None = None
        made = threading.Lock()  # the check threads ask at once: one ListedSource for all of them

        def source_client(self, item: SyncItem) -> Any:
            with self.made:
                self.listed = self.listed or ListedSource(super().source_client(item), digests)
            return self.listed

    registries = Listing(config)
    src_mark, dst_mark = src.mark(), dst.mark()
    report = sync(config, CopyRecord.open(path, spot_fraction=0), registries)
    assert report.counts()["in_sync"] == 4
    assert heads(src, src_mark) == 0 and heads(dst, dst_mark) == 2  # the target: one probe per repository
    assert not src.requests("GET", MANIFESTS, since=src_mark)
    assert registries.listed is not None and registries.listed.listings == 2  # one per repository


def test_plan_uses_the_record_without_saving_it(
    source: RegistryServer,
    second_plain_registry: RegistryServer,
    config_file: Callable[[str], Path],
    tmp_path: Path,
) -> None:
    src, dst = source, second_plain_registry
    config = make_config(config_file, src, dst)
    path = tmp_path / "record.json"
    sync(config, CopyRecord.open(path))
    before = path.read_bytes()
    dst_mark = dst.mark()
    plan = plan_config(config, record=CopyRecord.open(path, spot_fraction=0))
    assert plan.counts()["in-sync"] == 4
    assert heads(dst, dst_mark) == 2
    assert path.read_bytes() == before


def test_a_corrupted_record_on_disk_is_set_aside_and_sync_goes_on(
    source: RegistryServer,
    second_plain_registry: RegistryServer,
    config_file: Callable[[str], Path],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    """Through the CLI: garbage in the record file costs a full check, never a traceback."""
    from regmirror.cli.main import main

    config = make_config(config_file, source, second_plain_registry)
    record = tmp_path / "record.json"
    record.write_bytes(b'{"version": 1, "entries": [' + b"\x00" * 64)
    warnings = []
    for _run in range(2):  # the second run reads the record the first one wrote anew
        code = main(["sync", str(config.source_file), "--record-file", str(record)])
        out, err = capsys.readouterr()
        assert code == 0, out + err
        assert "Traceback" not in err
        warnings.append("is not a record: set aside as" in err)
    assert warnings == [True, False]
    aside = [p for p in tmp_path.iterdir() if p.name.startswith("record.json.corrupt-")]
    assert len(aside) == 1
    assert manifest_digest(second_plain_registry, "team/app", "2.0") == manifest_digest(
        source, "team/app", "2.0"
    )
    assert len(CopyRecord.open(record)) == 4  # three tags and the single-platform copy
