"""Which referrers (signatures, attestations, SBOMs: manifests whose `subject` is an image) travel
with the images of a mapping: all of them by default, none with `referrers: false`, or only the
artifact types of `referrers: {artifact-types: [...]}`.

Cosign's tag schema (`sha256-<hex>.sig`, `.att`, `.sbom`) has no artifact type of its own: such a
tag counts as the type cosign gives the same artifact under OCI 1.1 (`COSIGN_TAG_TYPES`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

COSIGN_SIGNATURE = "application/vnd.dev.cosign.artifact.sig.v1+json"
COSIGN_ATTESTATION = "application/vnd.dev.cosign.artifact.att.v1+json"
COSIGN_SBOM = "application/vnd.dev.cosign.artifact.sbom.v1+json"
COSIGN_TAG_TYPES = {".sig": COSIGN_SIGNATURE, ".att": COSIGN_ATTESTATION, ".sbom": COSIGN_SBOM}
# SyncItem.extra key of an item that is there for its image's referrers only (a pushed signature tag)
REFERRERS_ONLY = "referrers-only"

# what the plan calls a referrer of a well-known artifact type (anything else: its type)
KIND_OF_TYPE = {
    COSIGN_SIGNATURE: "signature",
    "application/vnd.cncf.notary.signature": "signature",
    COSIGN_ATTESTATION: "attestation",
    "application/vnd.in-toto+json": "attestation",
    "application/vnd.dsse.envelope.v1+json": "attestation",
    COSIGN_SBOM: "SBOM",
    "application/spdx+json": "SBOM",
    "application/vnd.cyclonedx+json": "SBOM",
}
_REFERRER_TAG = re.compile(r"sha256-[0-9a-f]{64}(\.sig|\.att|\.sbom)?")


def is_referrer_tag(tag: str) -> bool:
    """A tag of the referrers tag schema (`sha256-<hex>`) or cosign's (`….sig`, `.att`, `.sbom`)."""
    return _REFERRER_TAG.fullmatch(tag) is not None


@dataclass(frozen=True, slots=True)
class ReferrerRule:
    """`enabled` false: no referrer is looked for. `artifact_types` empty: every type is taken."""

    enabled: bool = True
    artifact_types: frozenset[str] = frozenset()

    def selects(self, artifact_type: str) -> bool:
        return self.enabled and (not self.artifact_types or artifact_type in self.artifact_types)

    def describe(self) -> str:
        if not self.enabled:
            return "off"
        return ", ".join(sorted(self.artifact_types)) if self.artifact_types else "all"


ALL_REFERRERS = ReferrerRule()
NO_REFERRERS = ReferrerRule(enabled=False)
