"""Images the target already holds are copied by manifest alone (`sync.retag`), through the CLI, real
registries and real skopeo: a re-tag is one manifest PUT, the same image in another repository is
mounted, and anything unexpected leaves the image to skopeo."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

import pytest
from regmirror.cli.main import main
from regmirror.config import load_config
from regmirror.model import ImageRef, SyncItem
from regmirror.sync.held import HeldImages
from regmirror.sync.registries import Registries
from regmirror.sync.retag import ManifestCopy

from tests.testbed import (
    ImageApi,
    RegistryServer,
    delete_manifest,
    get_manifest,
    lose_layer,
    manifest_digest,
    push_image,
    write_config,
)
from tests.testbed.skopeo_log import LoggingSkopeo

BLOB_UPLOADS = r"/v2/.+/blobs/uploads/.*"


class Mirror:
    """A source, a target, a logging skopeo and a config mirroring `team/app` (and, with `twice`, into
    a second repository as well)."""

    def __init__(
        self, source: RegistryServer, target: RegistryServer, tmp_path: Path, *, twice: bool = False
    ) -> None:
        self.source, self.target = source, target
        self.skopeo = LoggingSkopeo(tmp_path / "bin")
        auth = f", auth: {b64_auth(target)}" if target.username else ""
        second = "\n" + " " * 18 + "- {from: team/app, to: backup/app}" if twice else ""
        self.config = write_config(
            tmp_path,
            f"""
            skopeo: {{binary: {self.skopeo.binary}}}
            tasks:
              - name: t
                source: {{registry: "{source.host}", skip-tls-verify: true}}
                target: {{registry: "{target.host}", skip-tls-verify: true{auth}}}
                mappings:
                  - {{from: team/app, to: mirror/app}}{second}
            """,
        )

    def sync(self, capsys: pytest.CaptureFixture[str], *extra: str) -> dict[str, Any]:
        code = main(["sync", str(self.config), "--json", *extra])
        out, _err = capsys.readouterr()
        report: dict[str, Any] = json.loads(out)
        assert code == 0, report["results"]
        return report


def b64_auth(server: RegistryServer) -> str:
    body = json.dumps({"username": server.username, "password": server.password})
    return base64.b64encode(body.encode()).decode()


def reasons(report: dict[str, Any]) -> dict[str, str]:
    return {r["target"].split("/", 1)[1]: r["reason"] for r in report["results"]}


def retag(server: RegistryServer, repository: str, tag: str, to: str) -> str:
    """Point `tag` at the image `to` already is (a release moving `latest`)."""
    body, media_type, _digest = get_manifest(server, repository, to)
    return ImageApi(server).put_manifest(repository, tag, body, media_type)


def test_tags_of_one_image_cost_one_skopeo_copy_and_the_others_a_manifest_put(
    plain_registry: RegistryServer,
    second_plain_registry: RegistryServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    src, dst = plain_registry, second_plain_registry
    index = push_image(src, "team/app", "1.2.3", platforms=["linux/amd64", "linux/arm64"])
    for alias in ("1.2", "latest"):
        retag(src, "team/app", alias, "1.2.3")
    other = push_image(src, "team/app", "0.9")
    mirror = Mirror(src, dst, tmp_path)

    report = mirror.sync(capsys)

    by_how = sorted(reasons(report).values())
    assert by_how == ["copied", "copied", "retagged", "retagged"]
    assert report["counts"]["copied_by_manifest"] == 2
    assert len(mirror.skopeo.runs()) == 2  # one per distinct image
    for tag in ("1.2.3", "1.2", "latest"):
        assert manifest_digest(dst, "mirror/app", tag) == index  # the index kept byte for byte
    assert manifest_digest(dst, "mirror/app", "0.9") == other
    retagged = [r for r in report["results"] if r["reason"] == "retagged"]
    assert all(r["source_digest"] == r["target_digest"] == index for r in retagged)


def test_a_moved_tag_is_a_manifest_put_without_skopeo_and_the_summary_says_so(
    plain_registry: RegistryServer,
    second_plain_registry: RegistryServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    src, dst = plain_registry, second_plain_registry
    old = push_image(src, "team/app", "1.0")
    push_image(src, "team/app", "2.0")
    retag(src, "team/app", "latest", "2.0")
    mirror = Mirror(src, dst, tmp_path)
    mirror.sync(capsys)
    runs = len(mirror.skopeo.runs())
    retag(src, "team/app", "latest", "1.0")  # a rollback: the target holds 1.0 already
    mark = dst.mark()

    code = main(["sync", str(mirror.config)])
    out, _err = capsys.readouterr()

    assert code == 0
    assert len(mirror.skopeo.runs()) == runs  # no skopeo process at all
    assert manifest_digest(dst, "mirror/app", "latest") == old
    assert re.search(r"1 copied \(1 by manifest alone\)", out), out
    assert not dst.requests(path_regex=BLOB_UPLOADS, since=mark)  # not a byte of blob pushed
    puts = dst.requests("PUT", r"/v2/.+/manifests/.+", since=mark)
    assert [r.path for r in puts] == ["/v2/mirror/app/manifests/latest"]


def test_the_same_image_in_a_second_repository_is_mounted_not_uploaded_with_a_token(
    plain_registry: RegistryServer,
    token_registry: RegistryServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    src, dst = plain_registry, token_registry
    index = push_image(src, "team/app", "1.0", platforms=["linux/amd64", "linux/arm64"], layer_size=4096)
    mirror = Mirror(src, dst, tmp_path, twice=True)

    report = mirror.sync(capsys)

    how = reasons(report)
    assert sorted(how.values()) == ["copied", "mounted"]
    assert len(mirror.skopeo.runs()) == 1
    copied_to = next(name for name, reason in how.items() if reason == "copied").split(":")[0]
    mounted_to = next(name for name, reason in how.items() if reason == "mounted").split(":")[0]
    assert manifest_digest(dst, mounted_to, "1.0") == index
    mounts = dst.requests("POST", rf"/v2/{mounted_to}/blobs/uploads/", status=201)
    assert mounts and all(f"from={copied_to.replace('/', '%2F')}" in r.query for r in mounts)
    # 2 platforms x (config + 1 layer): every blob mounted, none uploaded into the second repository
    assert len(mounts) == 4
    assert not dst.requests("PATCH", rf"/v2/{mounted_to}/blobs/uploads/.+")
    assert not dst.requests("PUT", rf"/v2/{mounted_to}/blobs/uploads/.+")
    assert token_registry.token_server is not None
    scopes = [r.scopes for r in token_registry.token_server.token_requests()]
    assert (f"repository:{mounted_to}:pull,push", f"repository:{copied_to}:pull") in scopes


class Copied:
    """team/app:1.0 mirrored by a first sync, and a `ManifestCopy` of the target with its own knowledge
    of where manifests are, told that mirror/app holds 1.0 (as a check or the copy record would)."""

    def __init__(
        self, src: RegistryServer, dst: RegistryServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        self.target = dst
        self.digest = push_image(src, "team/app", "1.0")
        self.mirror = Mirror(src, dst, tmp_path)
        self.mirror.sync(capsys)
        self.held = HeldImages()
        self.held.learn(dst.host, "mirror/app", self.digest)
        self.by_manifest = ManifestCopy(Registries(load_config(self.mirror.config)), self.held)

    def item(self, tag: str, repository: str = "mirror/app") -> SyncItem:
        return SyncItem(
            task="t",
            source=ImageRef(self.mirror.source.host, "team/app", tag),
            target=ImageRef(self.target.host, repository, tag),
            source_digest=self.digest,
        )


@pytest.fixture
def copied(
    plain_registry: RegistryServer,
    second_plain_registry: RegistryServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> Copied:
    return Copied(plain_registry, second_plain_registry, tmp_path, capsys)


def test_a_manifest_gone_from_the_target_leaves_the_image_to_skopeo_and_is_forgotten(copied: Copied) -> None:
    dst = copied.target
    delete_manifest(dst, "mirror/app", "1.0")  # since regmirror learnt it, behind its back
    mark = dst.mark()

    assert copied.by_manifest.copy(copied.item("latest")) is None  # skopeo's, then
    assert copied.held.holders(dst.host, copied.digest) == []
    assert not dst.requests("PUT", since=mark)


def test_a_blob_that_cannot_be_mounted_leaves_the_image_to_skopeo_untagged(copied: Copied) -> None:
    dst = copied.target
    lose_layer(dst, "mirror/app", "1.0")  # the manifest answers, its layer's data is gone
    mark = dst.mark()

    assert copied.by_manifest.copy(copied.item("1.0", repository="other/app")) is None
    assert dst.requests("POST", BLOB_UPLOADS, status=202, since=mark)  # refused: an upload opened…
    assert dst.requests("DELETE", BLOB_UPLOADS, since=mark)  # … and cancelled
    assert not dst.requests("PUT", r"/v2/.+/manifests/.+", since=mark)  # no tag points at a gap


def test_a_refused_mount_cancels_its_upload_and_reports_false(
    plain_registry: RegistryServer, tmp_path: Path
) -> None:
    from regmirror.registries.distribution.client import RegistryClient
    from regmirror.registries.endpoint import Endpoint

    push_image(plain_registry, "team/app", "1.0")
    layer = json.loads(get_manifest(plain_registry, "team/app", "1.0")[0])["layers"][0]["digest"]
    client = RegistryClient(Endpoint(plain_registry.host, insecure=True, plain_http=True))
    mark = plain_registry.mark()

    assert client.mount_blob("team/other", layer, "nowhere/else") is False  # not in `from`
    assert client.mount_blob("team/other", layer, "team/app") is True

    opened = plain_registry.requests("POST", BLOB_UPLOADS, status=202, since=mark)
    cancelled = plain_registry.requests("DELETE", BLOB_UPLOADS, since=mark)
    assert len(opened) == 1 and len(cancelled) == 1 and cancelled[0].status == 204
    assert client.stats["blob_mount"] == 3  # two mounts and the cancel
