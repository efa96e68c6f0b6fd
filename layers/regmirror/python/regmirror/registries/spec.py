"""What the registry layer needs to know of one configured registry (config.RegistryConfig has it)."""

from __future__ import annotations

from typing import Protocol

from regmirror.registries.endpoint import Endpoint


class RegistrySpec(Protocol):
    """A registry as configured: host, auth spec, and the ECR facts read from its host name."""

    @property
    def registry(self) -> str: ...

    @property
    def auth(self) -> str | None: ...

    @property
    def kind(self) -> str | None:
        """A kind named in the config (`kind: gcr` for a Google registry behind another host name)."""
        ...

    @property
    def discover_logins(self) -> bool:
        """Without `auth`, use the user's existing logins (`credentials-from-environment`)."""
        ...

    @property
    def is_ecr(self) -> bool: ...

    @property
    def is_public_ecr(self) -> bool: ...

    @property
    def role_arn(self) -> str | None: ...

    @property
    def region(self) -> str | None: ...

    @property
    def auth_refresh(self) -> float | None: ...

    @property
    def ecr_account(self) -> str | None: ...

    @property
    def ecr_region(self) -> str | None: ...

    def endpoint(self) -> Endpoint: ...
