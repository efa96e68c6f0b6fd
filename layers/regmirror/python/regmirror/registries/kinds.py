"""Registry kinds: one folder each, one line each in `KINDS`, chosen once per configured registry.

A kind says how to get credentials for a registry, what answers the planner's tag and digest questions,
what a target needs before a push, and which lister lists it by default (see `RegistryKind`). The first
kind in `KINDS` that claims a registry is its kind; `distribution` (the OCI distribution API, any
registry) claims every one, so it comes last. Kind modules import their heavy dependencies (boto3) only
when a method runs, so choosing a kind costs nothing.
"""

from __future__ import annotations

import importlib
from functools import cache
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from collections.abc import Callable

    from regmirror.registries.credentials import Credentials
    from regmirror.registries.distribution.client import RegistryClient
    from regmirror.registries.manifests import ManifestSource
    from regmirror.registries.spec import RegistrySpec

# kind -> module holding its `KIND`; the first that claims a registry wins
KINDS: dict[str, str] = {
    "ecr": "regmirror.registries.ecr.kind",
    "dockerhub": "regmirror.registries.dockerhub.kind",
    "gcr": "regmirror.registries.gcr.kind",
    "distribution": "regmirror.registries.distribution.kind",
}


class RegistryKind(Protocol):
    """One kind of registry (see the module docstring)."""

    name: str
    default_lister: str  # a key of registries.listers.LISTER_KINDS
    counts_manifest_gets: bool  # a manifest GET costs a pull of its rate-limit budget (Docker Hub)

    def claims(self, spec: RegistrySpec) -> bool:
        """Is `spec` a registry of this kind (told by its host and settings)?"""

    def auth_from_config(self, spec: RegistrySpec) -> bool:
        """Are `spec`'s credentials its `auth` value (resolved before a run starts, so an unset `env:`
        variable is a config error), rather than the kind's own source (the AWS chain)?"""

    def credentials(self, spec: RegistrySpec) -> Credentials | None:
        """The credentials to reach `spec` with (None: anonymous), resolved now."""

    def manifests(self, spec: RegistrySpec, client: Callable[[], RegistryClient]) -> ManifestSource:
        """What answers the planner's questions (tags, digests) about `spec`; `client()` gives its
        registry API client, the default answer (asked only when used: it resolves credentials)."""

    def prepare_target(
        self, spec: RegistrySpec, repository: str, tag: str | None, digest: str | None
    ) -> bool:
        """Get `repository` ready for a push of `digest` as `tag`; True when the target already
        holds exactly that (the push can be skipped)."""


@cache
def _kind(module_name: str) -> RegistryKind:
    kind: RegistryKind = importlib.import_module(module_name).KIND
    return kind


def kind_of(spec: RegistrySpec) -> RegistryKind:
    """The kind of a configured registry: the one its `kind` names, else the first in `KINDS` that
    claims it."""
    if spec.kind is not None:
        return _kind(KINDS[spec.kind])
    for module_name in KINDS.values():
        kind = _kind(module_name)
        if kind.claims(spec):
            return kind
    raise LookupError(f"no registry kind claims {spec.registry}")  # distribution claims all
