"""ECR target repositories: a missing one is created before the copy, with the settings of `target.ecr`
(tag mutability, scan on push, KMS key, lifecycle policy); immutable tags already in sync are told apart.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from regmirror.errors import RegistryError
from regmirror.registries.ecr.aws import (
    api_client,
    api_repository_name,
    aws_error_text,
    error_code,
    registry_kwargs,
)
from regmirror.registries.ecr.digests import EcrTagDigests
from regmirror.registries.spec import RegistrySpec

log = logging.getLogger("regmirror.ecr")

# What ECR answers when a push would overwrite a tag of an IMMUTABLE repository.
IMMUTABLE_TAG_ERROR = re.compile(
    r"tag invalid.*already exists.*cannot be overwritten", re.IGNORECASE | re.DOTALL
)


class RepositorySettings(Protocol):
    """`target.ecr` of the config (`EcrRepositorySettings`)."""

    @property
    def tag_mutability(self) -> str: ...

    @property
    def scan_on_push(self) -> bool: ...

    @property
    def kms_key(self) -> str | None: ...

    @property
    def lifecycle_policy(self) -> str | None: ...


@dataclass(frozen=True)
class EcrRepository:
    name: str
    uri: str
    tag_mutability: str  # "MUTABLE" or "IMMUTABLE" ("MUTABLE" for public ECR)
    created: bool  # created by this call

    @property
    def immutable(self) -> bool:
        return self.tag_mutability.upper().startswith("IMMUTABLE")


def _from_description(entry: dict[str, Any], created: bool) -> EcrRepository:
    return EcrRepository(
        name=str(entry.get("repositoryName", "")),
        uri=str(entry.get("repositoryUri", "")),
        tag_mutability=str(entry.get("imageTagMutability", "MUTABLE")),
        created=created,
    )


def create_arguments(
    rc: RegistrySpec, repository: str, settings: RepositorySettings | None
) -> dict[str, Any]:
    """`CreateRepository` arguments for a private ECR repository with the configured settings."""
    kwargs: dict[str, Any] = {"repositoryName": repository, **registry_kwargs(rc)}
    if rc.is_public_ecr or settings is None:
        return kwargs
    kwargs["imageTagMutability"] = settings.tag_mutability
    kwargs["imageScanningConfiguration"] = {"scanOnPush": settings.scan_on_push}
    if settings.kms_key:
        kwargs["encryptionConfiguration"] = {"encryptionType": "KMS", "kmsKey": settings.kms_key}
    return kwargs


class RepositoryEnsurer:
    """Creates missing target repositories once; remembers the ones known to exist."""

    def __init__(self, client_for: Callable[[RegistrySpec], Any] = api_client) -> None:
        self._client_for = client_for
        self._lock = threading.Lock()
        self._known: dict[tuple[str, str | None, str], EcrRepository] = {}

    def ensure(self, rc: RegistrySpec, repository: str) -> EcrRepository:
        """`repository` is the image path on the registry (for public ECR: `<alias>/<name>`)."""
        key = (rc.registry, rc.ecr_account, repository)
        with self._lock:
            known = self._known.get(key)
        if known is not None:
            return known
        client = self._client_for(rc)
        name = api_repository_name(rc, repository)
        try:
            found = self._describe(client, rc, name) or self._create(client, rc, name)
        except (BotoCoreError, ClientError) as exc:
            raise RegistryError(
                f"{rc.registry}: cannot create ECR repository {repository}: {aws_error_text(exc)}",
                registry=rc.registry,
            ) from None
        with self._lock:
            self._known[key] = found
        return found

    @staticmethod
    def _describe(client: Any, rc: RegistrySpec, repository: str) -> EcrRepository | None:
        try:
            answer = client.describe_repositories(repositoryNames=[repository], **registry_kwargs(rc))
        except ClientError as exc:
            if error_code(exc) == "RepositoryNotFoundException":
                return None
            raise
        entries = answer.get("repositories") or []
        return _from_description(entries[0], created=False) if entries else None

    def _create(self, client: Any, rc: RegistrySpec, repository: str) -> EcrRepository:
        settings: RepositorySettings | None = getattr(rc, "ecr", None)
        try:
            answer = client.create_repository(**create_arguments(rc, repository, settings))
        except ClientError as exc:
            if error_code(exc) != "RepositoryAlreadyExistsException":
                raise
            return self._describe(client, rc, repository) or EcrRepository(repository, "", "MUTABLE", False)
        created = _from_description(answer["repository"], created=True)
        if settings is not None and settings.lifecycle_policy and not rc.is_public_ecr:
            client.put_lifecycle_policy(
                repositoryName=repository,
                lifecyclePolicyText=settings.lifecycle_policy,
                **registry_kwargs(rc),
            )
        log.info(
            "%s: created ECR repository %s (tags %s)", rc.registry, repository, created.tag_mutability.lower()
        )
        return created

    def forget(self, rc: RegistrySpec, repository: str) -> None:
        with self._lock:
            self._known.pop((rc.registry, rc.ecr_account, repository), None)

    def clear(self) -> None:
        with self._lock:
            self._known.clear()


_repositories = RepositoryEnsurer()


def reset() -> None:
    """Forget known repositories."""
    _repositories.clear()


def ensure_repository(rc: RegistrySpec, repository: str) -> EcrRepository:
    """The target repository, created with the settings of `target.ecr` when it does not exist."""
    return _repositories.ensure(rc, repository)


def immutable_tag_in_sync(rc: RegistrySpec, repository: str, tag: str, digest: str) -> bool:
    """True when `repository` has immutable tags and `tag` already points at `digest`: a refused push
    of the same image then means "in sync", not "failed"."""
    if not ensure_repository(rc, repository).immutable:
        return False
    digests = EcrTagDigests(rc, ttl=0).tag_digests(repository) or {}
    return digests.get(tag) == digest
