from __future__ import annotations

from regmirror.rules.referrers import (
    ALL_REFERRERS,
    COSIGN_SIGNATURE,
    NO_REFERRERS,
    ReferrerRule,
    is_referrer_tag,
)


def test_all_takes_every_type_and_none_takes_nothing() -> None:
    assert ALL_REFERRERS.selects("application/spdx+json")
    assert ALL_REFERRERS.selects("")  # a descriptor without artifactType
    assert not NO_REFERRERS.selects(COSIGN_SIGNATURE)
    assert (ALL_REFERRERS.describe(), NO_REFERRERS.describe()) == ("all", "off")


def test_artifact_types_filter() -> None:
    rule = ReferrerRule(artifact_types=frozenset({COSIGN_SIGNATURE}))
    assert rule.selects(COSIGN_SIGNATURE)
    assert not rule.selects("application/vnd.in-toto+json")
    assert not rule.selects("")
    assert rule.describe() == COSIGN_SIGNATURE


def test_referrer_tags_are_told_from_image_tags() -> None:
    hexa = "0123456789abcdef" * 4
    for tag in (f"sha256-{hexa}", f"sha256-{hexa}.sig", f"sha256-{hexa}.att", f"sha256-{hexa}.sbom"):
        assert is_referrer_tag(tag)
    for tag in ("latest", f"sha256-{hexa}.txt", f"sha256-{hexa[:-1]}", f"sha512-{hexa}", f"x-sha256-{hexa}"):
        assert not is_referrer_tag(tag)
