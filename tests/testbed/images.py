"""Build and push images over the registry HTTP API, with deterministic content from a seed.

Independent of regmirror's own client on purpose: the test bed must not share bugs with the code
under test. Handles plain, basic-auth, token-auth and TLS registries (trusting `server.ca_file`
explicitly so env REQUESTS_CA_BUNDLE never wins).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import random
import re
import tarfile
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import requests
from requests.adapters import HTTPAdapter

from tests.testbed.registry import RegistryServer

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
MANIFEST_ACCEPT = ", ".join([OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST])

_CHALLENGE_PARAM = re.compile(r'(\w+)="([^"]*)"')


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


class ImageApi:
    """Minimal authenticated registry HTTP client for the test bed (basic and bearer auth)."""

    def __init__(self, server: RegistryServer) -> None:
        self.server = server
        self.session = requests.Session()
        self.session.cert = server.client_cert  # a registry requiring client certificates
        self.session.trust_env = False  # env CA bundles and proxies must not apply
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=16)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self._tokens: dict[str, str] = {}
        self._lock = threading.Lock()
        self._basic_preemptive = False  # set after the first Basic challenge: saves a 401 per call

    def _token(self, challenge: str) -> str:
        params = dict(_CHALLENGE_PARAM.findall(challenge))
        key = f"{params.get('service')}|{params.get('scope')}"
        with self._lock:
            if key in self._tokens:
                return self._tokens[key]
        query = {k: v for k, v in params.items() if k in ("service", "scope")}
        answer = self.session.get(
            params["realm"], params=query, auth=self.server.basic_auth, verify=self.server.verify, timeout=30
        )
        answer.raise_for_status()
        body = answer.json()
        token = str(body.get("token") or body["access_token"])
        with self._lock:
            self._tokens[key] = token
        return token

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """`path` is relative to the registry URL (or an absolute URL from a Location header)."""
        url = urljoin(self.server.url + "/", path)
        headers = dict(kwargs.pop("headers", None) or {})
        if self._basic_preemptive:
            kwargs["auth"] = self.server.basic_auth
        answer = self.session.request(
            method, url, headers=headers, verify=self.server.verify, timeout=60, **kwargs
        )
        challenge = answer.headers.get("WWW-Authenticate", "")
        if answer.status_code != 401 or self.server.basic_auth is None:
            return answer
        if challenge.lower().startswith("bearer"):
            headers["Authorization"] = f"Bearer {self._token(challenge)}"
            return self.session.request(
                method, url, headers=headers, verify=self.server.verify, timeout=60, **kwargs
            )
        self._basic_preemptive = True
        kwargs.pop("auth", None)
        return self.session.request(
            method,
            url,
            headers=headers,
            auth=self.server.basic_auth,
            verify=self.server.verify,
            timeout=60,
            **kwargs,
        )

    # -- blobs and manifests --------------------------------------------------------------------
    def blob_exists(self, repository: str, digest: str) -> bool:
        return self.request("HEAD", f"/v2/{repository}/blobs/{digest}").status_code == 200

    def push_blob(self, repository: str, data: bytes, *, mount_from: str | None = None) -> str:
        """Upload (POST then monolithic PUT) unless present; cross-mount from `mount_from` if given."""
        digest = sha256_digest(data)
        if mount_from is None and self.blob_exists(repository, digest):
            return digest
        params = {"mount": digest, "from": mount_from} if mount_from else None
        start = self.request("POST", f"/v2/{repository}/blobs/uploads/", params=params)
        if start.status_code == 201:
            return digest  # mounted
        _expect(start, 202)
        location = start.headers["Location"]
        sep = "&" if "?" in location else "?"
        done = self.request(
            "PUT",
            f"{location}{sep}digest={digest}",
            data=data,
            headers={"Content-Type": "application/octet-stream"},
        )
        _expect(done, 201)
        return digest

    def put_manifest(self, repository: str, reference: str, body: bytes, media_type: str) -> str:
        answer = self.request(
            "PUT", f"/v2/{repository}/manifests/{reference}", data=body, headers={"Content-Type": media_type}
        )
        _expect(answer, 201)
        return answer.headers.get("Docker-Content-Digest") or sha256_digest(body)

    def head_manifest(self, repository: str, reference: str) -> str | None:
        answer = self.request(
            "HEAD", f"/v2/{repository}/manifests/{reference}", headers={"Accept": MANIFEST_ACCEPT}
        )
        if answer.status_code == 404:
            return None
        _expect(answer, 200)
        return answer.headers["Docker-Content-Digest"]

    def get_manifest(self, repository: str, reference: str) -> tuple[bytes, str, str]:
        answer = self.request(
            "GET", f"/v2/{repository}/manifests/{reference}", headers={"Accept": MANIFEST_ACCEPT}
        )
        _expect(answer, 200)
        return answer.content, answer.headers.get("Content-Type", ""), sha256_digest(answer.content)

    def delete_manifest(self, repository: str, reference: str) -> None:
        digest = reference if reference.startswith("sha256:") else self.head_manifest(repository, reference)
        if digest is None:
            raise LookupError(f"{repository}:{reference} not found")
        _expect(self.request("DELETE", f"/v2/{repository}/manifests/{digest}"), 202)

    def list_tags(self, repository: str) -> list[str]:
        tags: list[str] = []
        for page in self._pages(f"/v2/{repository}/tags/list"):
            tags.extend(page.get("tags") or [])
        return tags

    def catalog(self, page_size: int = 1000) -> list[str]:
        names: list[str] = []
        for page in self._pages(f"/v2/_catalog?n={page_size}"):
            names.extend(page.get("repositories") or [])
        return names

    def _pages(self, path: str) -> Iterable[dict[str, Any]]:
        next_path: str | None = path
        while next_path:
            answer = self.request("GET", next_path)
            _expect(answer, 200)
            yield answer.json()
            link = re.search(r"<([^>]+)>\s*;\s*rel=\"?next\"?", answer.headers.get("Link", ""))
            next_path = link.group(1) if link else None


def _expect(answer: requests.Response, status: int) -> None:
    if answer.status_code != status:
        raise AssertionError(
            f"{answer.request.method} {answer.url} -> {answer.status_code}, expected {status}: "
            f"{answer.text[:500]}"
        )


# -- deterministic image content --------------------------------------------------------------
@dataclass(frozen=True)
class Platform:
    os: str
    architecture: str
    variant: str | None = None

    @classmethod
    def parse(cls, text: str) -> Platform:
        parts = text.split("/")
        if len(parts) not in (2, 3):
            raise ValueError(f"platform {text!r} is not os/arch[/variant]")
        return cls(parts[0], parts[1], parts[2] if len(parts) == 3 else None)

    def as_dict(self) -> dict[str, str]:
        out = {"architecture": self.architecture, "os": self.os}
        if self.variant:
            out["variant"] = self.variant
        return out

    def __str__(self) -> str:
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p)


def layer_blob(seed: str, size: int) -> tuple[bytes, str]:
    """A gzipped tar holding one file of `size` pseudo-random bytes: (compressed blob, diff_id)."""
    content = random.Random(seed).randbytes(size)
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        info = tarfile.TarInfo(name=f"data/{hashlib.sha256(seed.encode()).hexdigest()[:16]}.bin")
        info.size = size
        info.mtime = 0
        info.mode = 0o644
        tar.addfile(info, io.BytesIO(content))
    tar_bytes = raw.getvalue()
    return gzip.compress(tar_bytes, mtime=0), sha256_digest(tar_bytes)


def _image_manifest(
    api: ImageApi,
    repository: str,
    platform: Platform,
    *,
    oci: bool,
    layers: int,
    layer_size: int,
    seed: str,
    shared_base: bool,
) -> tuple[bytes, str]:
    layer_descs, diff_ids = [], []
    for index in range(layers):
        layer_seed = (
            f"shared-base/{platform}/{layer_size}"
            if shared_base and index == 0
            else f"{seed}/{platform}/{index}"
        )
        blob, diff_id = layer_blob(layer_seed, layer_size)
        api.push_blob(repository, blob)
        layer_descs.append(
            {
                "mediaType": OCI_LAYER if oci else DOCKER_LAYER,
                "size": len(blob),
                "digest": sha256_digest(blob),
            }
        )
        diff_ids.append(diff_id)
    config = canonical_json(
        {
            **platform.as_dict(),
            "config": {"Labels": {"regmirror.test.seed": seed}},
            "created": "2024-01-01T00:00:00Z",
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "history": [{"created": "2024-01-01T00:00:00Z", "created_by": f"testbed {seed}"}],
        }
    )
    api.push_blob(repository, config)
    media_type = OCI_MANIFEST if oci else DOCKER_MANIFEST
    manifest = {
        "schemaVersion": 2,
        "mediaType": media_type,
        "config": {
            "mediaType": OCI_CONFIG if oci else DOCKER_CONFIG,
            "size": len(config),
            "digest": sha256_digest(config),
        },
        "layers": layer_descs,
    }
    return canonical_json(manifest), media_type


def push_image(
    server: RegistryServer,
    repository: str,
    tag: str,
    *,
    platforms: list[str] | None = None,
    oci: bool = False,
    layers: int = 1,
    layer_size: int = 512,
    seed: str | None = None,
    shared_base: bool = False,
    api: ImageApi | None = None,
) -> str:
    """Push one image (or a multi-arch index when `platforms` is given) and return its manifest digest.

    Content is a pure function of (seed or repository:tag, platform, layers, layer_size), so the same
    call against two registries yields the same digest. `shared_base` makes layer 0 common to every
    image of that platform and layer size.
    """
    api = api or ImageApi(server)
    seed = seed if seed is not None else f"{repository}:{tag}"
    kwargs = {
        "oci": oci,
        "layers": layers,
        "layer_size": layer_size,
        "seed": seed,
        "shared_base": shared_base,
    }
    if not platforms:
        body, media_type = _image_manifest(api, repository, Platform("linux", "amd64"), **kwargs)  # type: ignore[arg-type]
        return api.put_manifest(repository, tag, body, media_type)
    entries = []
    for text in platforms:
        platform = Platform.parse(text)
        body, media_type = _image_manifest(api, repository, platform, **kwargs)  # type: ignore[arg-type]
        digest = api.put_manifest(repository, sha256_digest(body), body, media_type)
        entries.append(
            {"mediaType": media_type, "size": len(body), "digest": digest, "platform": platform.as_dict()}
        )
    index_type = OCI_INDEX if oci else DOCKER_LIST
    index = canonical_json({"schemaVersion": 2, "mediaType": index_type, "manifests": entries})
    return api.put_manifest(repository, tag, index, index_type)


def push_repositories(
    server: RegistryServer, repositories: Iterable[str], tag: str = "latest", *, workers: int = 8
) -> str:
    """Create many repositories fast: one shared config blob (cross-mounted) and a layer-less manifest each.

    Returns the manifest digest (identical in every repository).
    """
    api = ImageApi(server)
    names = list(repositories)
    if not names:
        raise ValueError("no repositories")
    config = canonical_json(
        {"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}
    )
    manifest = canonical_json(
        {
            "schemaVersion": 2,
            "mediaType": DOCKER_MANIFEST,
            "config": {"mediaType": DOCKER_CONFIG, "size": len(config), "digest": sha256_digest(config)},
            "layers": [],
        }
    )
    first = names[0]
    api.push_blob(first, config)
    digest = api.put_manifest(first, tag, manifest, DOCKER_MANIFEST)

    def one(name: str) -> None:
        api.push_blob(name, config, mount_from=first)
        api.put_manifest(name, tag, manifest, DOCKER_MANIFEST)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(one, names[1:]))
    return digest


# -- module-level conveniences ----------------------------------------------------------------
def manifest_digest(server: RegistryServer, repository: str, reference: str) -> str | None:
    """Digest from a HEAD with the full Accept list; None when the manifest does not exist."""
    return ImageApi(server).head_manifest(repository, reference)


def get_manifest(server: RegistryServer, repository: str, reference: str) -> tuple[bytes, str, str]:
    """(body, media type, sha256 of body)."""
    return ImageApi(server).get_manifest(repository, reference)


def list_tags(server: RegistryServer, repository: str) -> list[str]:
    return ImageApi(server).list_tags(repository)


def catalog(server: RegistryServer, page_size: int = 1000) -> list[str]:
    return ImageApi(server).catalog(page_size)


def lose_layer(server: RegistryServer, repository: str, tag: str) -> None:
    """Delete the first layer's data from the registry's storage: the manifest still answers HEAD, but
    a copy cannot fetch the layer (skopeo fails with a 404)."""
    manifest = json.loads(get_manifest(server, repository, tag)[0])
    hex_digest = manifest["layers"][0]["digest"].split(":")[1]
    blob = next(Path(server.storage_dir).rglob(f"blobs/sha256/{hex_digest[:2]}/{hex_digest}"))
    (blob / "data").unlink()


def delete_manifest(server: RegistryServer, repository: str, reference: str) -> None:
    """Delete by digest (a tag is resolved first; distribution 2.8 cannot delete tags alone)."""
    ImageApi(server).delete_manifest(repository, reference)
