"""skopeo's command line from validated parts: `docker://` references, platform options, cert folder
names, and the 0600 auth file (credentials never reach argv)."""

from __future__ import annotations

import base64
import json
import os
import re
from pathlib import Path

from regmirror.model import ImageRef, SyncItem
from regmirror.registries.credentials import Credentials
from regmirror.registries.endpoint import Endpoint
from regmirror.rules.refs import valid_digest, valid_registry_host, valid_repository, valid_tag

_PLATFORM_PART = re.compile(r"^[a-z0-9][a-z0-9._-]*$")


class InvalidReference(ValueError):
    """A repository, tag, digest, host or platform that does not match the reference grammar."""


def verifies_tls(endpoint: Endpoint) -> bool:
    """Whether skopeo must require HTTPS with a verified certificate for this endpoint."""
    return endpoint.verify_tls and not endpoint.insecure and not endpoint.plain_http


def platform_args(platform: str) -> list[str]:
    """Global skopeo options selecting one platform, or none for "all"."""
    if platform == "all":
        return []
    parts = platform.split("/")
    if len(parts) > 3 or not all(_PLATFORM_PART.match(p) for p in parts):
        raise InvalidReference(f"platform {platform!r} is not 'all', an OS or os/arch[/variant]")
    names = ("--override-os", "--override-arch", "--override-variant")
    return [f"{name}={value}" for name, value in zip(names, parts, strict=False)]


def docker_reference(endpoint: Endpoint, repository: str, *, tag: str | None, digest: str | None) -> str:
    """`docker://host/repo@digest` (preferred) or `docker://host/repo:tag`, every part validated."""
    host = endpoint.skopeo_host
    path = endpoint.repository_path(repository)
    if not valid_registry_host(host):
        raise InvalidReference(f"registry host {host!r} is not host[:port]")
    if not valid_repository(path):
        raise InvalidReference(f"repository {path!r} does not match the distribution grammar")
    if digest is not None:
        if not valid_digest(digest):
            raise InvalidReference(f"digest {digest!r} is not algorithm:hex")
        return f"docker://{host}/{path}@{digest}"
    if tag is None or not valid_tag(tag):
        raise InvalidReference(f"tag {tag!r} does not match the distribution grammar")
    return f"docker://{host}/{path}:{tag}"


def source_reference(item: SyncItem, endpoint: Endpoint) -> str:
    """Pull by digest when one is known (what dregsy does), else by tag."""
    digest = item.source_digest or item.source.digest
    return docker_reference(endpoint, item.source.repository, tag=item.source.tag, digest=digest)


def target_reference(item: SyncItem, endpoint: Endpoint) -> str:
    """Push by tag; a tag-less item is pushed by digest (the source digest only when the whole index
    is copied, since a single-platform copy has the platform manifest's digest)."""
    target: ImageRef = item.target
    if target.tag:
        return docker_reference(endpoint, target.repository, tag=target.tag, digest=None)
    digest = target.digest
    if digest is None and item.platform == "all":
        digest = item.source_digest or item.source.digest
    if digest is None:
        raise InvalidReference(f"target {target} has no tag, and no digest to push by for {item.platform}")
    return docker_reference(endpoint, target.repository, tag=None, digest=digest)


def authfile_content(endpoint: Endpoint, creds: Credentials) -> str:
    """containers-auth.json with one entry keyed by the host skopeo looks up (`docker.io` for Hub)."""
    if creds.identity_token:
        # containers/image keeps `identitytoken` only beside an `auth` of the form user:password
        marker = base64.b64encode(b"<token>:").decode()
        entry = {"auth": marker, "identitytoken": creds.identity_token}
        return json.dumps({"auths": {endpoint.skopeo_host: entry}})
    token = base64.b64encode(f"{creds.username}:{creds.password}".encode()).decode()
    return json.dumps({"auths": {endpoint.skopeo_host: {"auth": token}}})


def write_private(path: Path, content: str) -> None:
    """Create `path` with mode 0600 from the start (never briefly world-readable)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(content)
