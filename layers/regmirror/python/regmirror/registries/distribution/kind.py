"""The distribution kind: any registry speaking the OCI distribution API, credentials from `auth`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from regmirror.logs import remember_secret
from regmirror.registries.logins import credentials_for

if TYPE_CHECKING:
    from collections.abc import Callable

    from regmirror.registries.credentials import Credentials
    from regmirror.registries.distribution.client import RegistryClient
    from regmirror.registries.manifests import ManifestSource
    from regmirror.registries.spec import RegistrySpec


class Distribution:
    name = "distribution"
    default_lister = "catalog"
    counts_manifest_gets = False

    def claims(self, spec: RegistrySpec) -> bool:
        return True

    def auth_from_config(self, spec: RegistrySpec) -> bool:
        return True

    def credentials(self, spec: RegistrySpec) -> Credentials | None:
        """`auth`, else the user's existing login for the host (see `registries.logins`)."""
        creds = credentials_for(spec)
        if creds is not None:
            remember_secret(creds.username, creds.password)
        return creds

    def manifests(self, spec: RegistrySpec, client: Callable[[], RegistryClient]) -> ManifestSource:
        return client()

    def prepare_target(
        self, spec: RegistrySpec, repository: str, tag: str | None, digest: str | None
    ) -> bool:
        return False  # a push creates the repository


KIND = Distribution()
