"""How to reach one registry: host, transport security, CA, and the (unresolved) auth spec."""

from __future__ import annotations

from dataclasses import dataclass

from regmirror.registries.dockerhub.hosts import (
    DOCKER_HUB_API_HOST,
    DOCKER_HUB_SKOPEO_HOST,
    OFFICIAL_NAMESPACE,
    is_docker_hub,
)


@dataclass(frozen=True, slots=True)
class Endpoint:
    host: str  # host[:port] as configured
    insecure: bool = False  # plain HTTP allowed (explicit `insecure`, or dregsy's `skip-tls-verify`)
    verify_tls: bool = True  # False with `skip-tls-verify`
    ca_file: str | None = None  # PEM bundle trusted for this registry only (listers and relays alike)
    auth: str | None = None  # raw auth spec from the config; resolve with credentials.resolve_credentials
    plain_http: bool = False  # True with `insecure: true`: talk HTTP directly, never try HTTPS
    cert_dir: str | None = None  # the host's certs.d folder (CAs, client certificates), if one exists

    @property
    def is_docker_hub(self) -> bool:
        return is_docker_hub(self.host)

    @property
    def api_host(self) -> str:
        """Host[:port] that serves the registry HTTP API v2."""
        return DOCKER_HUB_API_HOST if self.is_docker_hub else self.host

    @property
    def skopeo_host(self) -> str:
        """Host as skopeo's `docker://` transport expects it."""
        return DOCKER_HUB_SKOPEO_HOST if self.is_docker_hub else self.host

    def repository_path(self, repository: str) -> str:
        """Docker Hub's official images live under `library/`; other registries take names as they are."""
        if self.is_docker_hub and "/" not in repository:
            return f"{OFFICIAL_NAMESPACE}/{repository}"
        return repository

    def __repr__(self) -> str:  # never show the auth spec
        return f"Endpoint(host={self.host!r}, insecure={self.insecure}, verify_tls={self.verify_tls})"
