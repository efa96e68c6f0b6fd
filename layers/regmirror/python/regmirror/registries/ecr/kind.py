"""The ECR kind (private and public): without `auth`, the AWS credential chain (as dregsy does), tags
and digests from `DescribeImages`, target repositories created before the first push."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from regmirror.extras import load
from regmirror.registries.distribution.kind import Distribution

if TYPE_CHECKING:
    from collections.abc import Callable

    from regmirror.registries.credentials import Credentials
    from regmirror.registries.distribution.client import RegistryClient
    from regmirror.registries.manifests import ManifestSource
    from regmirror.registries.spec import RegistrySpec


AWS_API = "an ECR registry without `auth` (reached through the AWS API)"


def uses_aws_api(spec: RegistrySpec) -> bool:
    """An explicit `auth` makes an ECR registry a plain distribution registry for credentials and
    digests (dregsy's behaviour); without it, the AWS APIs answer."""
    return not spec.auth


class Ecr(Distribution):
    name = "ecr"
    default_lister = "ecr"  # dregsy switches ECR registries to the ECR API without being told

    def claims(self, spec: RegistrySpec) -> bool:
        return spec.is_ecr or spec.is_public_ecr

    def auth_from_config(self, spec: RegistrySpec) -> bool:
        return not uses_aws_api(spec)

    def credentials(self, spec: RegistrySpec) -> Credentials | None:
        if not uses_aws_api(spec):
            return super().credentials(spec)
        tokens = load("regmirror.registries.ecr.tokens", AWS_API)  # boto3 loads only for ECR
        credentials: Credentials | None = tokens.credentials_for(spec)  # cached, renewed by the module
        return credentials

    def manifests(self, spec: RegistrySpec, client: Callable[[], RegistryClient]) -> ManifestSource:
        if not uses_aws_api(spec):
            return client()
        digests = load("regmirror.registries.ecr.digests", AWS_API)
        return cast("ManifestSource", digests.EcrTagDigests(spec))

    def prepare_target(
        self, spec: RegistrySpec, repository: str, tag: str | None, digest: str | None
    ) -> bool:
        """The repository is created before the first push (as dregsy does). With immutable tags, a tag
        that already holds the source digest is in sync (a push would be refused, not needed)."""
        repositories = load("regmirror.registries.ecr.repositories", AWS_API)
        created = repositories.ensure_repository(spec, repository)
        return bool(
            created.immutable
            and tag
            and digest
            and repositories.immutable_tag_in_sync(spec, repository, tag, digest)
        )


KIND = Ecr()
