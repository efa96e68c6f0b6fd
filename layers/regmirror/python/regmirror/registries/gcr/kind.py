"""The GCR / Artifact Registry kind: without `auth`, a token from Google application default
credentials (as dregsy); with none configured, the user's logins (e.g. gcloud's credential helper),
else anonymous (public images). Tags and digests over the registry API; GCR serves `_catalog`."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from regmirror.registries.distribution.kind import Distribution
from regmirror.registries.gcr.hosts import is_google_registry

if TYPE_CHECKING:
    from regmirror.registries.credentials import Credentials
    from regmirror.registries.spec import RegistrySpec

log = logging.getLogger("regmirror.credentials")


class Gcr(Distribution):
    name = "gcr"
    default_lister = "catalog"

    def claims(self, spec: RegistrySpec) -> bool:
        return is_google_registry(spec.registry)

    def credentials(self, spec: RegistrySpec) -> Credentials | None:
        if spec.auth is not None:
            return super().credentials(spec)
        from regmirror.registries.gcr.tokens import NoGoogleCredentials, google_credentials

        try:
            return google_credentials()
        except NoGoogleCredentials as exc:
            log.info("%s: no Google application default credentials (%s); trying logins", spec.registry, exc)
            return super().credentials(spec)


KIND = Gcr()
