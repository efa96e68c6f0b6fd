"""Signatures, attestations and SBOMs travel with the images (issue: supply chain), end to end
through the CLI with real registries and real skopeo, under both discovery schemes: distribution
2.8 (the referrers tag schema) and a registry with the OCI 1.1 referrers API (`ReferrersFront`, the
loopback front over distribution; see its module). Verification is the test bed's own code
(`tests.testbed.signing`), not regmirror's."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from regmirror.cli.main import main
from regmirror.model import ImageRef, SyncItem

from tests.testbed import RegistryServer, push_image
from tests.testbed.images import ImageApi
from tests.testbed.referrers_front import ReferrersFront
from tests.testbed.signing import (
    IN_TOTO,
    SIGNATURE_TYPE,
    SPDX,
    SigningKey,
    add_to_fallback_index,
    attach,
    fallback_tag,
    referrer_digests,
    sign_cosign_tag,
    verified_signatures,
)


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return SigningKey.generate()


@pytest.fixture
def api_target(second_plain_registry: RegistryServer) -> Iterator[ReferrersFront]:
    with ReferrersFront(second_plain_registry.host) as front:
        yield front


@pytest.fixture
def api_source(plain_registry: RegistryServer) -> Iterator[ReferrersFront]:
    with ReferrersFront(plain_registry.host) as front:
        yield front


@dataclass
class Mirror:
    """What a referrer test mirrors between (the source and target registries), the config file
    writer, the CLI's output and the signing key."""

    src: RegistryServer
    dst: RegistryServer
    config_file: Callable[[str], Path]
    capsys: pytest.CaptureFixture[str]
    key: SigningKey

    def pair(self) -> tuple[ImageApi, ImageApi]:
        return pair(self.src, self.dst)

    def config(self, extra: str = "") -> Path:
        """A config mirroring `app:v1` from the source to the target (`extra`: task settings)."""
        return config_for(self.config_file, self.src, self.dst, extra)

    def sync(self, config: Path, *args: str) -> tuple[int, dict[str, Any]]:
        """`regmirror sync CONFIG --json ARGS`: the exit code and the report."""
        code = main(["sync", str(config), "--json", *args])
        return code, json.loads(self.capsys.readouterr().out)


@pytest.fixture
def mirror(
    plain_registry: RegistryServer,
    second_plain_registry: RegistryServer,
    config_file: Callable[[str], Path],
    capsys: pytest.CaptureFixture[str],
    key: SigningKey,
) -> Mirror:
    return Mirror(plain_registry, second_plain_registry, config_file, capsys, key)


def config_for(config_file: Callable[[str], Path], src: Any, dst: Any, extra: str = "") -> Path:
    return config_file(
        "tasks:\n  - name: t\n"
        f'    source: {{registry: "{src.host}", skip-tls-verify: true}}\n'
        f'    target: {{registry: "{dst.host}", skip-tls-verify: true}}\n'
        f"{extra}"
        "    mappings:\n      - from: app\n        tags: ['v1']\n"
    )


def signed_image(api: ImageApi, key: SigningKey, *, fallback: bool = True) -> str:
    """app:v1, signed (OCI 1.1 artifact and cosign's .sig tag), attested, with an SBOM."""
    digest = push_image(api.server, "app", "v1", oci=True)  # type: ignore[arg-type]
    attach(api, "app", digest, "signature", key=key, fallback=fallback)
    attach(api, "app", digest, "attestation", fallback=fallback)
    attach(api, "app", digest, "sbom", fallback=fallback)
    sign_cosign_tag(api, "app", digest, key)
    return digest


@pytest.mark.parametrize(
    "scheme",
    ["tag schema to tag schema", "referrers API to referrers API", "API to tag schema", "tag schema to API"],
)
def test_signed_image_verifies_on_the_target_as_on_the_source(
    scheme: str,
    mirror: Mirror,
) -> None:
    source_api = scheme.startswith("referrers API") or scheme.startswith("API")
    target_api = scheme.endswith("API")
    with (
        ReferrersFront(mirror.src.host) as src_front,
        ReferrersFront(mirror.dst.host) as dst_front,
    ):
        src = src_front if source_api else mirror.src
        dst = dst_front if target_api else mirror.dst
        source, target = ImageApi(src), ImageApi(dst)  # type: ignore[arg-type]
        digest = signed_image(source, mirror.key, fallback=not source_api)
        expected = referrer_digests(source, "app", digest)
        assert sorted(expected.values()) == sorted([SIGNATURE_TYPE, SIGNATURE_TYPE, IN_TOTO, SPDX])

        code, report = mirror.sync(config_for(mirror.config_file, src, dst))

        assert code == 0, report
        (result,) = report["results"]
        assert result["referrers"]["found"] == 4
        assert result["referrers"]["copied"] == 4
        assert result["referrers"]["scheme"] == ("api" if target_api else "tag")
        assert report["counts"]["referrers_copied"] == 4
        assert referrer_digests(target, "app", digest) == expected
        assert sorted(verified_signatures(target, "app", digest, mirror.key.public)) == sorted(
            verified_signatures(source, "app", digest, mirror.key.public)
        )
        assert len(verified_signatures(target, "app", digest, mirror.key.public)) == 2
        if not target_api:
            assert target.head_manifest("app", fallback_tag(digest)) is not None

        code, again = mirror.sync(config_for(mirror.config_file, src, dst))
        assert code == 0
        assert again["results"] == []  # in sync, its referrers too
        assert again["counts"]["referrers_copied"] == 0


def pair(plain_registry: RegistryServer, second_plain_registry: RegistryServer) -> tuple[ImageApi, ImageApi]:
    return ImageApi(plain_registry), ImageApi(second_plain_registry)


def test_per_platform_signatures_of_a_multi_arch_image(
    mirror: Mirror,
) -> None:
    source, target = mirror.pair()
    index = push_image(mirror.src, "app", "v1", platforms=["linux/amd64", "linux/arm64"], oci=True)
    children = [m["digest"] for m in json.loads(source.get_manifest("app", index)[0])["manifests"]]
    sign_cosign_tag(source, "app", index, mirror.key)
    for child in children:
        attach(source, "app", child, "signature", key=mirror.key)

    code, report = mirror.sync(mirror.config())

    assert code == 0, report
    assert report["results"][0]["referrers"]["copied"] == 3
    assert verified_signatures(target, "app", index, mirror.key.public)
    for child in children:
        assert len(verified_signatures(target, "app", child, mirror.key.public)) == 1


def test_a_signature_added_after_the_first_sync_is_copied_by_the_next(
    mirror: Mirror,
) -> None:
    source, target = mirror.pair()
    digest = push_image(mirror.src, "app", "v1", oci=True)
    config = mirror.config()
    code, first = mirror.sync(config)
    assert code == 0
    assert first["results"][0]["referrers"]["found"] == 0
    assert verified_signatures(target, "app", digest, mirror.key.public) == []

    late = attach(source, "app", digest, "signature", key=mirror.key)
    code, second = mirror.sync(config)

    assert code == 0, second
    (result,) = second["results"]  # the image is in sync; its new signature is reported
    assert (result["status"], result["reason"]) == ("skipped", "in-sync")
    assert result["referrers"]["copied"] == 1
    assert verified_signatures(target, "app", digest, mirror.key.public) == [late]
    code, third = mirror.sync(config)
    assert (code, third["results"], third["counts"]["referrers_found"]) == (0, [], 1)


def test_referrers_off_and_filtered_by_artifact_type(
    mirror: Mirror,
) -> None:
    source, target = mirror.pair()
    digest = signed_image(source, mirror.key)

    off = mirror.config("    referrers: false\n")
    code, report = mirror.sync(off)
    assert code == 0
    assert report["results"][0]["referrers"] is None
    assert referrer_digests(target, "app", digest) == {}

    only = f"    referrers: {{artifact-types: [{SIGNATURE_TYPE}]}}\n"
    code, report = mirror.sync(mirror.config(only))
    assert code == 0, report
    assert report["counts"]["referrers_copied"] == 2
    assert sorted(referrer_digests(target, "app", digest).values()) == [SIGNATURE_TYPE, SIGNATURE_TYPE]


def test_a_signature_of_an_sbom_follows_it(
    mirror: Mirror,
) -> None:
    source, target = mirror.pair()
    digest = push_image(mirror.src, "app", "v1", oci=True)
    sbom = attach(source, "app", digest, "sbom")
    attach(source, "app", sbom, "signature", key=mirror.key)

    code, report = mirror.sync(mirror.config())

    assert code == 0, report
    assert report["results"][0]["referrers"]["copied"] == 2
    assert len(verified_signatures(target, "app", sbom, mirror.key.public)) == 1


def test_the_targets_fallback_index_keeps_its_own_entries(
    mirror: Mirror,
) -> None:
    source, target = mirror.pair()
    digest = push_image(mirror.src, "app", "v1", oci=True)
    push_image(mirror.dst, "app", "v1", oci=True)  # the same image, already mirrored
    own = attach(target, "app", digest, "attestation")  # the mirror's owner attested it there
    theirs = attach(source, "app", digest, "signature", key=mirror.key)

    code, report = mirror.sync(mirror.config())

    assert code == 0, report
    assert set(referrer_digests(target, "app", digest)) == {own, theirs}


def test_a_referrer_naming_another_subject_is_refused_with_a_warning(
    mirror: Mirror,
) -> None:
    source, target = mirror.pair()
    digest = push_image(mirror.src, "app", "v1", oci=True)
    other = push_image(mirror.src, "app", "v2", oci=True)
    liar = attach(source, "app", digest, "signature", key=mirror.key, subject_digest=other)

    code, report = mirror.sync(mirror.config())

    assert code == 0, report
    summary = report["results"][0]["referrers"]
    assert (summary["found"], summary["copied"]) == (1, 0)
    assert any(f"{liar} (listed as a referrer of {digest}) names {other}" in w for w in summary["warnings"])
    assert target.head_manifest("app", liar) is None


def test_a_referrers_tag_that_is_not_an_index_fails_the_image_and_names_it(
    mirror: Mirror,
) -> None:
    digest = push_image(mirror.src, "app", "v1", oci=True)
    push_image(mirror.src, "app", fallback_tag(digest), oci=True, seed="not an index")

    code, report = mirror.sync(mirror.config())

    assert code == 1
    (result,) = report["results"]
    assert (result["status"], result["reason"]) == ("failed", "referrers")
    assert f"app:{fallback_tag(digest)}: the referrers tag holds" in result["error"]
    assert ImageApi(mirror.dst).head_manifest("app", "v1") == digest  # the image itself is there
    assert report["counts"]["failed"] == 1


def test_referrer_tags_are_not_images_of_their_own_but_travel_with_theirs(
    mirror: Mirror,
) -> None:
    source, target = mirror.pair()
    digest = signed_image(source, mirror.key)
    every_tag = mirror.config_file(
        "tasks:\n  - name: t\n"
        f'    source: {{registry: "{mirror.src.host}", skip-tls-verify: true}}\n'
        f'    target: {{registry: "{mirror.dst.host}", skip-tls-verify: true}}\n'
        "    mappings:\n      - from: app\n"
    )
    code, report = mirror.sync(every_tag)
    assert code == 0, report
    assert [r["target"].rsplit(":", 1)[1] for r in report["results"]] == ["v1"]
    assert report["counts"]["referrers_copied"] == 4
    assert referrer_digests(target, "app", digest) == referrer_digests(source, "app", digest)

    dregsy_like = every_tag.read_text().replace("    mappings:", "    referrers: false\n    mappings:")
    every_tag.write_text(dregsy_like)
    code, report = mirror.sync(every_tag)  # off: they are tags like any (as dregsy copies them)
    assert report["counts"]["images"] == 3  # v1, sha256-<hex> (the fallback index), sha256-<hex>.sig
    # ... and skopeo 1.9 cannot copy the fallback index as an image (an index of artifacts, which it
    # would have to convert): what a dregsy user meets, and what referrers (on) avoid
    (failed,) = [r for r in report["results"] if r["status"] == "failed"]
    assert failed["source"].endswith(fallback_tag(digest))
    assert failed["reason"] == "index-rejected"
    assert code == 1


def test_the_human_report_counts_the_referrers(
    mirror: Mirror,
) -> None:
    signed_image(ImageApi(mirror.src), mirror.key)
    config = mirror.config()
    assert main(["sync", str(config)]) == 0
    out = mirror.capsys.readouterr().out
    assert (
        "1 images: 1 copied, 0 already in sync, 0 failed, 0 missing at source; 4 referrers: 4 copied (" in out
    )
    assert main(["sync", str(config)]) == 0
    assert "0 failed, 0 missing at source; 4 referrers: 0 copied (" in mirror.capsys.readouterr().out


def test_plan_reports_each_images_referrers_and_what_the_target_lacks(
    mirror: Mirror,
) -> None:
    source = ImageApi(mirror.src)
    digest = signed_image(source, mirror.key)
    config = mirror.config()
    before = len(mirror.dst.requests(method="PUT"))

    assert main(["plan", str(config)]) == 0
    out = mirror.capsys.readouterr().out
    assert "[4 referrers: 1 SBOM, 1 attestation, 2 signature; 4 missing in the target]" in out
    assert "; 4 referrers, 4 missing in the target" in out
    assert len(mirror.dst.requests(method="PUT")) == before  # a plan copies nothing

    assert main(["sync", str(config), "--json"]) == 0
    mirror.capsys.readouterr()
    attach(source, "app", digest, "signature", key=mirror.key)
    assert main(["plan", str(config), "--json"]) == 0
    (item,) = json.loads(mirror.capsys.readouterr().out)["items"]
    assert item["state"] == "in-sync"
    assert item["referrers"]["found"] == 5
    assert item["referrers"]["missing"] == 1
    assert item["referrers"]["scheme"] == "tag"
    assert item["referrers"]["types"][SIGNATURE_TYPE] == 3
    assert main(["plan", str(config)]) == 0  # the in-sync image is listed: its new signature is to copy
    assert "1 missing in the target]" in mirror.capsys.readouterr().out


def test_referrers_api_pages_are_all_followed(
    mirror: Mirror,
) -> None:
    with (
        ReferrersFront(mirror.src.host, page_size=2) as src,
        ReferrersFront(mirror.dst.host) as dst,
    ):
        source = ImageApi(src)  # type: ignore[arg-type]
        digest = push_image(src, "app", "v1", oci=True)  # type: ignore[arg-type]
        signatures = {
            attach(source, "app", digest, "signature", key=SigningKey.generate(), fallback=False)
            for _ in range(5)
        }
        assert len(source.request("GET", f"/v2/app/referrers/{digest}").json()["manifests"]) == 2  # a page

        code, report = mirror.sync(config_for(mirror.config_file, src, dst))

        assert code == 0, report
        assert report["counts"]["referrers_copied"] == 5
        assert {e["digest"] for e in dst.referrers("app", digest)} == signatures  # indexed by `subject`


def test_a_loop_of_referrers_is_followed_once_with_a_warning(
    mirror: Mirror,
) -> None:
    """Content addressing forbids a real loop, but a listing can lie: the image's SBOM lists the
    image itself as a referrer of the SBOM."""
    source = ImageApi(mirror.src)
    digest = push_image(mirror.src, "app", "v1", oci=True)
    sbom = attach(source, "app", digest, "sbom")
    image = {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest, "size": 1}
    add_to_fallback_index(source, "app", sbom, {**image, "artifactType": "application/spdx+json"})

    code, report = mirror.sync(mirror.config())

    assert code == 0, report
    summary = report["results"][0]["referrers"]
    assert summary["copied"] == 1
    assert any(f"{digest} refers back to {sbom}: a loop, not followed" in w for w in summary["warnings"])


def test_a_fallback_index_written_meanwhile_by_another_relay_is_merged_not_dropped(
    plain_registry: RegistryServer,
    second_plain_registry: RegistryServer,
    config_file: Callable[[str], Path],
    key: SigningKey,
) -> None:
    """A warm relay's tag listing may be a minute old: the index is read again before it is written."""
    from regmirror.config import load_config
    from regmirror.sync.copy import image_copier, make_relay
    from regmirror.sync.referrers import mirror_referrers
    from regmirror.sync.registries import Registries

    source, target = pair(plain_registry, second_plain_registry)
    digest = push_image(plain_registry, "app", "v1", oci=True)
    push_image(second_plain_registry, "app", "v1", oci=True)
    theirs = attach(source, "app", digest, "signature", key=key)
    config = load_config(config_for(config_file, plain_registry, second_plain_registry))
    registries = Registries(config)
    task = registries.task("t")
    registries.repository_tags.get(registries.client(task.target), "app")  # listed: no index yet
    other = attach(target, "app", digest, "attestation")  # another relay's write, after that listing

    item = SyncItem(
        task="t",
        source=ImageRef(plain_registry.host, "app", "v1"),
        target=ImageRef(second_plain_registry.host, "app", "v1"),
    )
    copier = image_copier(registries, make_relay(config))
    summary = mirror_referrers(registries, item, digest, task.referrer_rule(0), copier)

    assert summary.copied == 1
    assert set(referrer_digests(target, "app", digest)) == {theirs, other}


def test_an_in_sync_image_is_told_once_to_a_progress_display(
    mirror: Mirror,
) -> None:
    """Its check told it (`on_checked`); its referrers' work must not tell it again (`on_result`)."""
    from regmirror.config import load_config
    from regmirror.sync.run import sync_config

    source = ImageApi(mirror.src)
    digest = signed_image(source, mirror.key)
    path = mirror.config()
    assert main(["sync", str(path), "--json"]) == 0
    mirror.capsys.readouterr()
    attach(source, "app", digest, "signature", key=SigningKey.generate())  # work for its referrers
    checked, results = [], []
    report = sync_config(load_config(path), on_checked=checked.append, on_result=results.append)
    assert [p.state for p in checked] == ["in-sync"]
    assert results == []
    assert report.counts()["referrers_copied"] == 1


def test_the_copy_record_remembers_the_referrers_the_target_holds(
    mirror: Mirror,
) -> None:
    """A no-op resync asks the target nothing while the record is fresh; the source is still listed
    (a new signature is found and copied); `--verify` lists the target again."""
    source, target = mirror.pair()
    digest = signed_image(source, mirror.key)
    config = mirror.config()
    dst = mirror.dst.host
    code, first = mirror.sync(config)
    assert (code, first["results"][0]["referrers"]["copied"]) == (0, 4)

    code, again = mirror.sync(config)
    assert (code, again["results"], again["counts"]["referrers_found"]) == (0, [], 4)
    asked = again["requests"][dst]
    assert asked["tags"] == asked["manifest_get"] == asked["referrers"] == 0  # the record vouched
    assert asked["manifest_head"] > 0  # the image itself: its repository's probe (sync.spotcheck)
    assert sum(again["requests"][mirror.src.host].values()) > 0  # new signatures are looked for

    late = attach(source, "app", digest, "signature", key=SigningKey.generate())
    code, third = mirror.sync(config)
    assert (code, third["results"][0]["referrers"]["copied"]) == (0, 1)
    assert late in referrer_digests(target, "app", digest)

    code, verified = mirror.sync(config, "--verify")
    assert (code, verified["results"], verified["counts"]["referrers_found"]) == (0, [], 5)
    assert verified["requests"][dst]["tags"] == 1  # the target was listed, and held them all


def test_a_referrer_the_record_vouches_for_is_listed_again_after_the_ttl(
    mirror: Mirror,
) -> None:
    """Removed from the target behind regmirror's back (its fallback index rewritten without it):
    trusted for one TTL at most, then listed and copied again."""
    source, target = mirror.pair()
    digest = push_image(mirror.src, "app", "v1", oci=True)
    attach(source, "app", digest, "sbom")
    config = mirror.config()
    assert mirror.sync(config)[0] == 0
    emptied = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": []}
    target.put_manifest("app", fallback_tag(digest), json.dumps(emptied).encode(), emptied["mediaType"])
    assert referrer_digests(target, "app", digest) == {}

    code, trusted = mirror.sync(config)
    assert (code, trusted["results"]) == (0, [])  # within the TTL: believed
    code, expired = mirror.sync(config, "--record-ttl", "0")
    assert (code, expired["results"][0]["referrers"]["copied"]) == (0, 1)
    assert list(referrer_digests(target, "app", digest).values()) == [SPDX]


def test_a_repository_the_plan_listed_is_not_listed_again_for_its_referrers(
    mirror: Mirror,
) -> None:
    """Tags selected by a pattern: the plan lists the source repository, and the referrer checks of
    its images read that listing (`Registries.planner_source`) instead of asking again. (`insecure`:
    plain HTTP from the first request, so no HTTPS attempt is counted.)"""
    source, _target = mirror.pair()
    signed_image(source, mirror.key)
    push_image(mirror.src, "app", "v2", oci=True)
    config = config_for(mirror.config_file, mirror.src, mirror.dst).read_text()
    config = config.replace("skip-tls-verify: true", "insecure: true").replace("['v1']", "['regex:v.*']")
    listed = mirror.config_file(config)

    code, first = mirror.sync(listed)
    assert (code, first["counts"]["copied"], first["counts"]["referrers_copied"]) == (0, 2, 4)
    assert first["requests"][mirror.src.host]["tags"] == 1
    code, again = mirror.sync(listed)
    assert (code, again["results"], again["counts"]["referrers_found"]) == (0, [], 4)
    assert again["requests"][mirror.src.host]["tags"] == 1
