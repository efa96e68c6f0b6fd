"""The copy order (`sync.order`): tags of one repository share layers, and a cold sync uploads each
shared layer once, not once per tag copied at the same time; counted at the target registry.

On loopback an upload is over before the next skopeo looks, so the target sits behind a proxy that
makes each upload take a while (its final PUT held 0.4 s), as on a real link."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from regmirror.cli.main import main

from tests.testbed import RegistryServer, push_image
from tests.testbed.faultproxy import FaultProxy, Rule
from tests.testbed.images import ImageApi

MiB = 1024 * 1024


def layer_digests(api: ImageApi, repository: str, tag: str) -> list[str]:
    manifest = json.loads(api.get_manifest(repository, tag)[0])
    return [layer["digest"] for layer in manifest["layers"]]


def sync_behind_slow_uploads(
    source: RegistryServer,
    target: RegistryServer,
    config_file: Callable[[str], Path],
    capsys: pytest.CaptureFixture[str],
    mappings: str,
) -> tuple[int, dict[str, Any]]:
    """`regmirror sync --json --concurrency 8` into `target` behind the proxy (each upload's final PUT
    held 0.4 s): the exit code and the report."""
    slow_upload = Rule("slow", method="PUT", path=r"/v2/.+/blobs/uploads/.+")
    with FaultProxy(target.host, rules=[slow_upload], slow_seconds=0.4) as link:
        config = config_file(
            "tasks:\n  - name: t\n"
            f'    source: {{registry: "{source.host}", skip-tls-verify: true}}\n'
            f'    target: {{registry: "{link.host}", skip-tls-verify: true}}\n'
            f"    mappings:\n{mappings}"
        )
        code = main(["sync", str(config), "--json", "--concurrency", "8"])
    return code, json.loads(capsys.readouterr().out)


def test_a_shared_layer_crosses_once_per_repository_however_many_tags_copy_at_once(
    plain_registry: RegistryServer,
    second_plain_registry: RegistryServer,
    config_file: Callable[[str], Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    repositories = {"team/app": 6, "team/web": 3, "team/cli": 1}
    for repository, tags in repositories.items():
        for n in range(tags):
            push_image(plain_registry, repository, f"v{n}", layers=2, layer_size=MiB, shared_base=True)
    source = ImageApi(plain_registry)
    shared = layer_digests(source, "team/app", "v0")[0]
    assert all(layer_digests(source, "team/app", f"v{n}")[0] == shared for n in range(6))
    mark = second_plain_registry.mark()
    mappings = "      - from: team/app\n      - from: team/web\n      - from: team/cli\n"
    code, report = sync_behind_slow_uploads(
        plain_registry, second_plain_registry, config_file, capsys, mappings
    )
    assert code == 0, report
    assert report["counts"]["copied"] == 10
    uploads = [
        r for r in second_plain_registry.requests(since=mark) if r.method == "PUT" and "digest=" in r.query
    ]
    per_repository_blob = Counter((r.path.split("/blobs/")[0], r.query.split("digest=")[1]) for r in uploads)
    assert len(per_repository_blob) >= 3 + 10  # the shared layer in each repository, one own layer per image
    twice = {key: n for key, n in per_repository_blob.items() if n > 1}
    assert twice == {}, f"blobs uploaded more than once to one repository: {twice}"
    target = ImageApi(second_plain_registry)
    for repository, tags in repositories.items():
        for n in range(tags):
            assert target.head_manifest(repository, f"v{n}") == source.head_manifest(repository, f"v{n}")


def test_a_large_base_shared_across_repositories_is_uploaded_once_and_mounted_elsewhere(
    plain_registry: RegistryServer,
    second_plain_registry: RegistryServer,
    config_file: Callable[[str], Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Three repositories, one tag each, one 2 MiB base layer in common: the first image leads for the
    base, the others wait for it and find it in the target (skopeo mounts it from where it was pushed),
    while images sharing no large blob copy meanwhile."""
    repositories = ["base/one", "base/two", "base/three"]
    for repository in repositories:
        push_image(plain_registry, repository, "v1", layers=2, layer_size=2 * MiB, shared_base=True)
    push_image(plain_registry, "own/alone", "v1", layers=1, layer_size=4096)
    source = ImageApi(plain_registry)
    base = layer_digests(source, "base/one", "v1")[0]
    assert all(layer_digests(source, r, "v1")[0] == base for r in repositories)
    mark = second_plain_registry.mark()
    mappings = '      - from: "regex:(base|own)/.*"\n'
    code, report = sync_behind_slow_uploads(
        plain_registry, second_plain_registry, config_file, capsys, mappings
    )
    assert code == 0, report
    assert report["counts"]["copied"] == 4
    requests = second_plain_registry.requests(since=mark)
    base_uploads = [r for r in requests if r.method == "PUT" and f"digest={base}" in unquote(r.query)]
    assert len(base_uploads) == 1, [r.path for r in base_uploads]
    target = ImageApi(second_plain_registry)
    for repository in [*repositories, "own/alone"]:
        assert target.head_manifest(repository, "v1") == source.head_manifest(repository, "v1")
    # every copied image's bytes were known before its copy: the target was never read back for them
    manifest_gets = [r for r in requests if r.method == "GET" and "/manifests/" in r.path]
    assert manifest_gets == []
    assert all(r["bytes"] for r in report["results"])
