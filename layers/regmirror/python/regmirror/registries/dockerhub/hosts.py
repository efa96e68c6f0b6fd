"""Docker Hub's names: it is written many ways in configs; its registry API lives at one host."""

from __future__ import annotations

DOCKER_HUB_ALIASES = frozenset(
    {"docker.io", "index.docker.io", "registry.hub.docker.com", "registry-1.docker.io"}
)
DOCKER_HUB_API_HOST = "registry-1.docker.io"
DOCKER_HUB_SKOPEO_HOST = "docker.io"  # the name skopeo's docker:// transport (and auth files) use
OFFICIAL_NAMESPACE = "library"


def is_docker_hub(host: str) -> bool:
    return host.lower() in DOCKER_HUB_ALIASES
