"""The Docker Hub kind: the registry API of Docker Hub (written under any of its aliases).

It behaves as distribution does; what is Docker Hub's own lives here and beside it: its aliases and API
host (`hosts`), its web API lister (`lister`) and the index search (`index`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from regmirror.registries.distribution.kind import Distribution
from regmirror.registries.dockerhub.hosts import is_docker_hub

if TYPE_CHECKING:
    from regmirror.registries.spec import RegistrySpec


class DockerHub(Distribution):
    name = "dockerhub"
    default_lister = "catalog"  # Docker Hub refuses it, with a hint naming `dockerhub` and `index`
    counts_manifest_gets = True  # a GET is a pull; HEADs are free

    def claims(self, spec: RegistrySpec) -> bool:
        return is_docker_hub(spec.registry)


KIND = DockerHub()
