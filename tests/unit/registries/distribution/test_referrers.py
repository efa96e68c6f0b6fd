"""What a registry holds for a digest, by either scheme, read through a scripted client: the
descriptors kept and refused, the requests a repository's tags spare, the fallback index merge."""

from __future__ import annotations

import json
from typing import Any

import pytest
from regmirror.errors import RegistryError
from regmirror.registries.distribution.media import OCI_INDEX, ManifestInfo
from regmirror.registries.distribution.referrers import (
    MAX_REFERRERS,
    Referrer,
    RepositoryTags,
    fallback_index,
    fallback_tag,
    list_referrers,
    merged_index,
    might_refer,
)
from regmirror.rules.referrers import COSIGN_SIGNATURE

SUBJECT = "sha256:" + "a" * 64
SIG = "sha256:" + "b" * 64
SBOM = "sha256:" + "c" * 64


def entry(digest: str, artifact_type: str = "application/spdx+json", **extra: Any) -> dict[str, Any]:
    return {
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": digest,
        "size": 10,
        "artifactType": artifact_type,
        **extra,
    }


class Scripted:
    """A RegistryClient's referrer-facing methods, answering from dicts, counting calls."""

    registry = "r.example"

    def __init__(
        self,
        api: list[Any] | None = None,
        manifests: dict[str, tuple[bytes, str]] | None = None,
        tags: list[str] | None = None,
    ) -> None:
        self.api, self.manifests, self.tags = api, manifests or {}, tags or []
        self.referrers_api: bool | None = None
        self.calls: list[str] = []

    def get_referrers(self, repository: str, digest: str) -> list[Any] | None:
        self.calls.append(f"referrers {digest}")
        self.referrers_api = self.api is not None
        return self.api

    def get_manifest(self, repository: str, reference: str) -> tuple[bytes, str, str]:
        self.calls.append(f"get {reference}")
        if reference not in self.manifests:
            raise RegistryError("absent", status=404)
        body, media_type = self.manifests[reference]
        return body, media_type, "sha256:" + "0" * 64

    def head_manifest(self, repository: str, reference: str) -> ManifestInfo | None:
        self.calls.append(f"head {reference}")
        return (
            ManifestInfo(SIG, "application/vnd.oci.image.manifest.v1+json", 5)
            if reference in self.manifests
            else None
        )

    def list_tags(self, repository: str, *, warn: bool = True) -> list[str]:
        self.calls.append("tags")
        return self.tags


def index(*entries: dict[str, Any]) -> bytes:
    return json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": list(entries)}).encode()


def test_fallback_tag_of_a_digest() -> None:
    assert fallback_tag(SUBJECT) == "sha256-" + "a" * 64


def test_the_referrers_api_answer_is_taken_with_cosign_tags() -> None:
    client = Scripted(api=[entry(SBOM)], manifests={fallback_tag(SUBJECT) + ".sig": (b"", "")})
    listing = list_referrers(client, "app", SUBJECT)  # type: ignore[arg-type]
    assert listing.scheme == "api"
    assert listing.digests() == {SBOM}
    assert listing.tagged() == {fallback_tag(SUBJECT) + ".sig": SIG}
    assert [r.artifact_type for r in listing.referrers] == ["application/spdx+json", COSIGN_SIGNATURE]


def test_without_the_api_the_fallback_index_is_read_and_kept_as_it_is() -> None:
    odd = entry(SBOM, annotations={"org.example": "kept"}, platform={"os": "linux"})
    client = Scripted(api=None, manifests={fallback_tag(SUBJECT): (index(odd), OCI_INDEX)})
    listing = list_referrers(client, "app", SUBJECT)  # type: ignore[arg-type]
    assert listing.scheme == "tag"
    # unknown fields too: merged back as they were when the index is written
    assert fallback_index(client, "app", SUBJECT) == [odd]  # type: ignore[arg-type]
    assert listing.referrers[0].annotations == {"org.example": "kept"}
    assert client.referrers_api is False


def test_invalid_descriptors_are_skipped_with_a_warning_and_duplicates_once() -> None:
    bad = [{"digest": "nope"}, "text", entry(SBOM, size=-1), entry(SBOM, size=True), entry(SIG), entry(SIG)]
    listing = list_referrers(Scripted(api=bad), "app", SUBJECT)  # type: ignore[arg-type]
    assert [r.digest for r in listing.referrers] == [SIG]
    assert len(listing.warnings) == 4
    assert all("not a descriptor" in w for w in listing.warnings)


def test_a_referrers_tag_that_is_not_an_index_fails_with_the_registry_named() -> None:
    client = Scripted(
        manifests={fallback_tag(SUBJECT): (b'{"layers": []}', "application/vnd.oci.image.manifest.v1+json")}
    )
    with pytest.raises(RegistryError, match=r"r.example/app:sha256-a+: the referrers tag holds .*manifest"):
        list_referrers(client, "app", SUBJECT)  # type: ignore[arg-type]


def test_thousands_of_referrers_are_bounded_with_a_warning() -> None:
    many = [entry("sha256:" + f"{i:064x}") for i in range(MAX_REFERRERS + 5)]
    listing = list_referrers(Scripted(api=many), "app", SUBJECT)  # type: ignore[arg-type]
    assert len(listing.referrers) == MAX_REFERRERS
    assert f"{MAX_REFERRERS + 5} referrers; only the first {MAX_REFERRERS}" in listing.warnings[0]


def test_known_tags_spare_the_requests_for_tags_that_do_not_exist() -> None:
    client = Scripted()
    client.referrers_api = False  # the registry said so before
    list_referrers(client, "app", SUBJECT, tags=set())  # type: ignore[arg-type]
    assert client.calls == []
    list_referrers(client, "app", SUBJECT, tags={fallback_tag(SUBJECT) + ".att"})  # type: ignore[arg-type]
    assert client.calls == [f"head {fallback_tag(SUBJECT)}.att"]
    assert not might_refer(client, {"v1", "latest"})  # type: ignore[arg-type]
    assert might_refer(client, {"v1", fallback_tag(SUBJECT) + ".sig"})  # type: ignore[arg-type]
    client.referrers_api = None
    assert might_refer(client, set())  # type: ignore[arg-type]


def test_merged_index_drops_nothing_and_adds_once() -> None:
    kept = entry(SBOM, annotations={"x": "y"})
    added = Referrer(SIG, "application/vnd.oci.image.manifest.v1+json", 7, COSIGN_SIGNATURE)
    again = Referrer(SBOM, "application/vnd.oci.image.manifest.v1+json", 10, "application/spdx+json")
    body = json.loads(merged_index((kept,), [added, again]))
    assert body["mediaType"] == OCI_INDEX
    assert body["manifests"] == [
        kept,
        {"mediaType": added.media_type, "digest": SIG, "size": 7, "artifactType": COSIGN_SIGNATURE},
    ]


def test_repository_tags_are_listed_once_per_ttl_and_learn_what_we_wrote() -> None:
    now = [0.0]
    client = Scripted(tags=["v1"])
    tags = RepositoryTags(ttl=60, clock=lambda: now[0])
    assert tags.get(client, "app") == {"v1"}  # type: ignore[arg-type]
    tags.added(client, "app", "sha256-x.sig")  # type: ignore[arg-type]
    now[0] = 59
    assert tags.get(client, "app") == {"v1", "sha256-x.sig"}  # type: ignore[arg-type]
    assert client.calls == ["tags"]
    now[0] = 61
    assert tags.get(client, "app") == {"v1"}  # type: ignore[arg-type]
    assert client.calls == ["tags", "tags"]


def test_a_listing_the_planner_read_is_kept_for_the_ttl_as_if_listed_here() -> None:
    now = [0.0]
    client = Scripted(tags=["v1"])
    tags = RepositoryTags(ttl=60, clock=lambda: now[0])
    planner = tags.sharing(client, "r.example")  # type: ignore[arg-type]
    assert planner.list_tags("app") == ["v1"]
    client.tags = ["v1", "v2"]  # pushed since: the planner's listing still stands within the TTL
    now[0] = 59
    assert tags.get(client, "app") == {"v1"}  # type: ignore[arg-type]
    assert tags.get(client, "other") == {"v1", "v2"}  # type: ignore[arg-type]
    assert client.calls == ["tags", "tags"]  # the planner's, and other's: app was not listed again
    now[0] = 120
    assert tags.get(client, "app") == {"v1", "v2"}  # type: ignore[arg-type]


def test_a_refused_tag_listing_means_unknown_tags_asked_by_name() -> None:
    class Refusing(Scripted):
        def list_tags(self, repository: str, *, warn: bool = True) -> list[str]:
            self.calls.append("tags")
            raise RegistryError("denied", status=403)

    client = Refusing()
    client.referrers_api = False
    tags = RepositoryTags()
    assert tags.get(client, "app") is None  # type: ignore[arg-type]
    assert tags.get(client, "app") is None  # type: ignore[arg-type]
    assert client.calls == ["tags"]  # not listed again and again
    tags.added(client, "app", "sha256-x.sig")  # type: ignore[arg-type]
    assert might_refer(client, None)  # type: ignore[arg-type]
    list_referrers(client, "app", SUBJECT, tags=None)  # type: ignore[arg-type]
    assert client.calls[1:] == [
        f"get {fallback_tag(SUBJECT)}",
        *(f"head {fallback_tag(SUBJECT)}{s}" for s in (".sig", ".att", ".sbom")),
    ]
