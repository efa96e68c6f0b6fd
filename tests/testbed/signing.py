"""Signed, attested images for the referrers tests, and their verification: the test bed's own code,
independent of regmirror's.

- `sign_cosign_tag`: a signature as cosign writes it by default: the manifest tagged
  `sha256-<hex>.sig`, one `application/vnd.dev.cosign.simplesigning.v1+json` layer (the payload: the
  image's digest and reference), the ECDSA P-256 signature over the payload in the layer's
  `dev.cosignproject.cosign/signature` annotation (base64 DER, as cosign does).
- `attach`: an OCI 1.1 artifact with `subject` (a signature the same way, an in-toto attestation, an
  SPDX SBOM), pushed by digest and registered in the subject's fallback index `sha256-<hex>` (the
  referrers tag schema, for registries without the referrers API, merged with what is there);
  `fallback=False` for a registry with the API (it indexes `subject` itself).
- `verified_signatures`: every signature of a digest found by either scheme (or cosign's tag) whose
  signature verifies over its payload with the public key and whose payload names that digest.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from tests.testbed.images import ImageApi, canonical_json, sha256_digest

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
EMPTY_CONFIG = "application/vnd.oci.empty.v1+json"
SIMPLESIGNING = "application/vnd.dev.cosign.simplesigning.v1+json"
SIGNATURE_ANNOTATION = "dev.cosignproject.cosign/signature"
SIGNATURE_TYPE = "application/vnd.dev.cosign.artifact.sig.v1+json"
IN_TOTO = "application/vnd.in-toto+json"
SPDX = "application/spdx+json"


@dataclass(frozen=True)
class SigningKey:
    private: ec.EllipticCurvePrivateKey

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(ec.generate_private_key(ec.SECP256R1()))

    @property
    def public(self) -> ec.EllipticCurvePublicKey:
        return self.private.public_key()

    def sign(self, payload: bytes) -> str:
        return base64.b64encode(self.private.sign(payload, ec.ECDSA(hashes.SHA256()))).decode()


def fallback_tag(digest: str) -> str:
    return digest.replace(":", "-", 1)


def simplesigning_payload(reference: str, digest: str) -> bytes:
    return canonical_json(
        {
            "critical": {
                "identity": {"docker-reference": reference},
                "image": {"docker-manifest-digest": digest},
                "type": "cosign container image signature",
            },
            "optional": None,
        }
    )


def _manifest(
    api: ImageApi,
    repository: str,
    layer: bytes,
    layer_type: str,
    *,
    artifact_type: str | None,
    subject: dict[str, Any] | None,
    annotations: dict[str, str] | None = None,
) -> bytes:
    config = b"{}"
    api.push_blob(repository, config)
    api.push_blob(repository, layer)
    descriptor: dict[str, Any] = {"mediaType": layer_type, "size": len(layer), "digest": sha256_digest(layer)}
    if annotations:
        descriptor["annotations"] = annotations
    manifest: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": EMPTY_CONFIG, "size": len(config), "digest": sha256_digest(config)},
        "layers": [descriptor],
    }
    if artifact_type:
        manifest["artifactType"] = artifact_type
    if subject:
        manifest["subject"] = subject
    return canonical_json(manifest)


def subject_descriptor(api: ImageApi, repository: str, digest: str) -> dict[str, Any]:
    body, media_type, _ = api.get_manifest(repository, digest)
    return {"mediaType": media_type, "size": len(body), "digest": digest}


def sign_cosign_tag(api: ImageApi, repository: str, digest: str, key: SigningKey) -> str:
    """cosign's default: the `.sig` tag. Returns the signature manifest's digest."""
    payload = simplesigning_payload(f"{api.server.host}/{repository}", digest)
    body = _manifest(
        api,
        repository,
        payload,
        SIMPLESIGNING,
        artifact_type=None,
        subject=None,
        annotations={SIGNATURE_ANNOTATION: key.sign(payload)},
    )
    return api.put_manifest(repository, fallback_tag(digest) + ".sig", body, OCI_MANIFEST)


def attach(
    api: ImageApi,
    repository: str,
    digest: str,
    kind: str,
    *,
    key: SigningKey | None = None,
    fallback: bool = True,
    subject_digest: str | None = None,
) -> str:
    """An OCI 1.1 artifact referring to `digest`: kind "signature" (needs `key`), "attestation" or
    "sbom". `subject_digest` writes a `subject` naming another manifest (a lying listing)."""
    subject = subject_descriptor(api, repository, subject_digest or digest)
    if kind == "signature":
        assert key is not None
        payload = simplesigning_payload(f"{api.server.host}/{repository}", digest)
        layer, layer_type, artifact_type = payload, SIMPLESIGNING, SIGNATURE_TYPE
        annotations = {SIGNATURE_ANNOTATION: key.sign(payload)}
    elif kind == "attestation":
        statement = {
            "_type": "https://in-toto.io/Statement/v1",
            "subject": [{"name": repository, "digest": {"sha256": digest.split(":", 1)[1]}}],
            "predicateType": "https://slsa.dev/provenance/v1",
            "predicate": {"buildDefinition": {"buildType": "https://regmirror.test/build"}},
        }
        layer, layer_type, artifact_type, annotations = canonical_json(statement), IN_TOTO, IN_TOTO, None
    else:
        document = {
            "spdxVersion": "SPDX-2.3",
            "SPDXID": "SPDXRef-DOCUMENT",
            "name": f"{repository}@{digest}",
            "packages": [{"name": "testbed-package", "SPDXID": "SPDXRef-Package", "versionInfo": "1.0"}],
        }
        layer, layer_type, artifact_type, annotations = canonical_json(document), SPDX, SPDX, None
    body = _manifest(
        api,
        repository,
        layer,
        layer_type,
        artifact_type=artifact_type,
        subject=subject,
        annotations=annotations,
    )
    manifest_digest = api.put_manifest(repository, sha256_digest(body), body, OCI_MANIFEST)
    if fallback:
        descriptor = {
            "mediaType": OCI_MANIFEST,
            "digest": manifest_digest,
            "size": len(body),
            "artifactType": artifact_type,
        }
        add_to_fallback_index(api, repository, digest, descriptor)
    return manifest_digest


def add_to_fallback_index(api: ImageApi, repository: str, digest: str, descriptor: dict[str, Any]) -> None:
    tag = fallback_tag(digest)
    try:
        entries = json.loads(api.get_manifest(repository, tag)[0])["manifests"]
    except AssertionError:
        entries = []
    entries = [e for e in entries if e["digest"] != descriptor["digest"]] + [descriptor]
    index = canonical_json({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries})
    api.put_manifest(repository, tag, index, OCI_INDEX)


def referrer_digests(api: ImageApi, repository: str, digest: str) -> dict[str, str]:
    """digest → artifactType of every referrer of `digest`: the referrers API if the registry has
    it, else the fallback index; plus cosign's `.sig` tag (artifact type: the signature type)."""
    found: dict[str, str] = {}
    answer = api.request("GET", f"/v2/{repository}/referrers/{digest}")
    if answer.status_code == 200:
        entries = answer.json()["manifests"]
    elif api.head_manifest(repository, fallback_tag(digest)) is not None:
        entries = json.loads(api.get_manifest(repository, fallback_tag(digest))[0])["manifests"]
    else:
        entries = []
    for entry in entries:
        found[entry["digest"]] = entry.get("artifactType", "")
    tagged = api.head_manifest(repository, fallback_tag(digest) + ".sig")
    if tagged is not None:
        found[tagged] = SIGNATURE_TYPE
    return found


def verified_signatures(
    api: ImageApi, repository: str, digest: str, public: ec.EllipticCurvePublicKey
) -> list[str]:
    """Signature manifests of `digest` that verify with `public` and whose payload names `digest`."""
    good = []
    for manifest_digest, artifact_type in referrer_digests(api, repository, digest).items():
        if artifact_type != SIGNATURE_TYPE:
            continue
        manifest = json.loads(api.get_manifest(repository, manifest_digest)[0])
        for layer in manifest["layers"]:
            payload = api.request("GET", f"/v2/{repository}/blobs/{layer['digest']}").content
            signature = base64.b64decode(layer.get("annotations", {}).get(SIGNATURE_ANNOTATION, ""))
            try:
                public.verify(signature, payload, ec.ECDSA(hashes.SHA256()))
            except InvalidSignature:
                continue
            named = json.loads(payload)["critical"]["image"]["docker-manifest-digest"]
            if named == digest and sha256_digest(payload) == layer["digest"]:
                good.append(manifest_digest)
    return good
