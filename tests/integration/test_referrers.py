"""Signatures, attestations and SBOMs travel with the images (issue: supply chain), end to end
through the CLI with real registries and real skopeo, under both discovery schemes: distribution
2.8 (the referrers tag schema) and a registry with the OCI 1.1 referrers API (`ReferrersFront`, the
loopback front over distribution; see its module). Verification is the test bed's own code
(`tests.testbed.signing`), not regmirror's."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from regmirror.cli.main import main

from tests.testbed import RegistryServer, push_image
from tests.testbed.images import ImageApi
from tests.testbed.referrers_front import ReferrersFront
from tests.testbed.signing import (
    IN_TOTO,
    SIGNATURE_TYPE,
    SPDX,
    SigningKey,
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


def config_for(config_file: Callable[[str], Path], src: Any, dst: Any, extra: str = "") -> Path:
    return config_file(
        "tasks:\n  - name: t\n"
        f'    source: {{registry: "{src.host}", skip-tls-verify: true}}\n'
        f'    target: {{registry: "{dst.host}", skip-tls-verify: true}}\n'
        f"{extra}"
        "    mappings:\n      - from: app\n        tags: ['v1']\n"
    )


def sync(config: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    code = main(["sync", str(config), "--json"])
    return code, json.loads(capsys.readouterr().out)


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
    plain_registry: RegistryServer,
    second_plain_registry: RegistryServer,
    config_file: Callable[[str], Path],
    capsys: pytest.CaptureFixture[str],
    key: SigningKey,
) -> None:
    source_api = scheme.startswith("referrers API") or scheme.startswith("API")
    target_api = scheme.endswith("API")
    with (
        ReferrersFront(plain_registry.host) as src_front,
        ReferrersFront(second_plain_registry.host) as dst_front,
    ):
        src = src_front if source_api else plain_registry
        dst = dst_front if target_api else second_plain_registry
        source, target = ImageApi(src), ImageApi(dst)  # type: ignore[arg-type]
        digest = signed_image(source, key, fallback=not source_api)
        expected = referrer_digests(source, "app", digest)
        assert sorted(expected.values()) == sorted([SIGNATURE_TYPE, SIGNATURE_TYPE, IN_TOTO, SPDX])

        code, report = sync(config_for(config_file, src, dst), capsys)

        assert code == 0, report
        (result,) = report["results"]
        assert result["referrers"]["found"] == 4
        assert result["referrers"]["copied"] == 4
        assert result["referrers"]["scheme"] == ("api" if target_api else "tag")
        assert report["counts"]["referrers_copied"] == 4
        assert referrer_digests(target, "app", digest) == expected
        assert sorted(verified_signatures(target, "app", digest, key.public)) == sorted(
            verified_signatures(source, "app", digest, key.public)
        )
        assert len(verified_signatures(target, "app", digest, key.public)) == 2
        if not target_api:
            assert target.head_manifest("app", fallback_tag(digest)) is not None

        code, again = sync(config_for(config_file, src, dst), capsys)
        assert code == 0
        assert again["results"] == []  # in sync, its referrers too
        assert again["counts"]["referrers_copied"] == 0
