from __future__ import annotations

from regmirror.rules.referrers import ALL_REFERRERS, COSIGN_SIGNATURE, NO_REFERRERS, ReferrerRule


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
