"""A registry with the OCI 1.1 referrers API: a loopback front over a real distribution registry.

No registry installable here (Debian's docker-registry and CNCF distribution 2.8) implements
`GET /v2/<name>/referrers/<digest>`, so this front implements exactly that endpoint, as
distribution-spec 1.1 writes it, and forwards everything else to the real registry (FaultProxy,
no faults):

- every manifest PUT the registry accepts is read; one with a `subject` is indexed under it
  (descriptor: mediaType, digest, size, `artifactType` or else `config.mediaType`, annotations) and
  answered with `OCI-Subject: <subject digest>`, as a registry that processes `subject` must;
- `GET /v2/<name>/referrers/<digest>` answers an image index of those descriptors (200 with an empty
  index for a digest nothing refers to), filtered by `?artifactType=` with `OCI-Filters-Applied`,
  paged by `Link` when more than `page_size` descriptors.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import urllib.parse
from collections.abc import Iterable
from typing import Any

from tests.testbed.faultproxy import FaultProxy

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
REFERRERS_PATH = re.compile(r"/v2/.+/referrers/[a-z0-9]+:[a-f0-9]+")


class ReferrersFront(FaultProxy):
    """`upstream` ("127.0.0.1:PORT", a plain-HTTP test-bed registry) with the referrers API."""

    def __init__(self, upstream: str, *, page_size: int = 100) -> None:
        super().__init__(upstream)
        self.page_size = page_size
        self._index: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self._index_lock = threading.Lock()
        self.on_manifest_put = self._manifest_put
        self.pattern_overrides[("GET", REFERRERS_PATH)] = self._referrers_answer

    # what the test bed's ImageApi asks of a registry: plain HTTP, no auth
    client_cert = None
    verify = False
    basic_auth = None

    def referrers(self, repository: str, digest: str) -> list[dict[str, Any]]:
        with self._index_lock:
            return list(self._index.get((repository, digest), []))

    def _manifest_put(self, path: str, status: int, body: bytes) -> dict[str, str]:
        if status != 201:
            return {}
        repository = path.removeprefix("/v2/").rpartition("/manifests/")[0]
        try:
            manifest = json.loads(body)
        except ValueError:
            return {}
        subject = manifest.get("subject") if isinstance(manifest, dict) else None
        if not isinstance(subject, dict) or not isinstance(subject.get("digest"), str):
            return {}
        descriptor = _descriptor(manifest, body)
        with self._index_lock:
            entries = self._index.setdefault((repository, subject["digest"]), [])
            if all(e["digest"] != descriptor["digest"] for e in entries):
                entries.append(descriptor)
        return {"OCI-Subject": subject["digest"]}

    def _referrers_answer(self, target: str) -> tuple[int, dict[str, str], Iterable[bytes]]:
        path, _, query = target.partition("?")
        repository, _, digest = path.removeprefix("/v2/").rpartition("/referrers/")
        params = urllib.parse.parse_qs(query)
        entries = self.referrers(repository, digest)
        headers = {"Content-Type": OCI_INDEX}
        wanted = params.get("artifactType")
        if wanted:
            entries = [e for e in entries if e.get("artifactType") in wanted]
            headers["OCI-Filters-Applied"] = "artifactType"
        start = int(params.get("last", ["0"])[0])
        page = entries[start : start + self.page_size]
        if start + self.page_size < len(entries):
            following = {**{k: v[0] for k, v in params.items()}, "last": str(start + self.page_size)}
            next_query = urllib.parse.urlencode(following)
            headers["Link"] = f'<{path}?{next_query}>; rel="next"'
        payload = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": page}).encode()
        headers["Content-Length"] = str(len(payload))
        return 200, headers, [payload]


def _descriptor(manifest: dict[str, Any], body: bytes) -> dict[str, Any]:
    config = manifest.get("config") if isinstance(manifest.get("config"), dict) else {}
    entry: dict[str, Any] = {
        "mediaType": manifest.get("mediaType", ""),
        "digest": "sha256:" + hashlib.sha256(body).hexdigest(),
        "size": len(body),
    }
    artifact_type = manifest.get("artifactType") or config.get("mediaType")
    if artifact_type:
        entry["artifactType"] = artifact_type
    if manifest.get("annotations"):
        entry["annotations"] = manifest["annotations"]
    return entry
