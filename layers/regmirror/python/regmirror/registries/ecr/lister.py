"""`ecr` lister: `DescribeRepositories` of private ECR (`ecr`) or public ECR (`ecr-public`), every page.

ECR hosts (`<acct>.dkr.ecr.<region>.amazonaws.com[.cn]`, `<acct>[:<region>]@public.ecr.aws`) use it
automatically, as in dregsy. AWS credentials come from the default chain, or from assuming the
registry's `role-arn` (cross-account); `region` overrides the host's region. `registryId` is the
account of the host. `lister.baseUrl` sets the ECR API endpoint (otherwise boto3 decides, honouring
`AWS_ENDPOINT_URL`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any, TypeVar, cast

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from regmirror.errors import ListerError
from regmirror.registries.distribution.client import RegistryClient
from regmirror.registries.ecr.aws import MAX_PAGE_SIZE, api_client, aws_error_text
from regmirror.registries.listers.base import Lister, ListerSettings, SourceSpec
from regmirror.registries.spec import RegistrySpec
from regmirror.rules import refs

log = logging.getLogger("regmirror.listers")

S = TypeVar("S", bound=SourceSpec)


def image_path(entry: Any) -> str | None:
    """The repository's path on its registry host: the part of `repositoryUri` after the host.

    For private ECR that is `repositoryName`; for public ECR it is `<registry alias>/<name>`, which is
    what image references on public.ecr.aws (and so `from` patterns) use.
    """
    if not isinstance(entry, dict):
        return None
    uri, name = entry.get("repositoryUri"), entry.get("repositoryName")
    if isinstance(uri, str) and "/" in uri:
        return uri.split("/", 1)[1]
    return name if isinstance(name, str) else None


class EcrLister:
    def __init__(
        self,
        client: Callable[[], Any],  # gives a boto3 client (asked per listing: sessions get renewed)
        registry: str,
        registry_id: str | None = None,
        page_size: int = MAX_PAGE_SIZE,
    ) -> None:
        self.client = client
        self.registry = registry
        self.registry_id = registry_id
        self.page_size = max(1, min(page_size, MAX_PAGE_SIZE))
        self.pages_fetched = 0

    def __repr__(self) -> str:
        return f"EcrLister({self.registry!r}, registry_id={self.registry_id!r})"

    def list_repositories(self) -> Iterator[str]:
        try:
            yield from self._names()
        except NoCredentialsError:
            raise ListerError(
                f"{self.registry}: no AWS credentials for DescribeRepositories "
                "(set up the default credential chain, or `role-arn`)"
            ) from None
        except (BotoCoreError, ClientError) as exc:
            raise ListerError(
                f"{self.registry}: DescribeRepositories failed: {aws_error_text(exc)}"
            ) from None

    def _names(self) -> Iterator[str]:
        kwargs: dict[str, Any] = {"registryId": self.registry_id} if self.registry_id else {}
        paginator = self.client().get_paginator("describe_repositories")
        for page in paginator.paginate(**kwargs, PaginationConfig={"PageSize": self.page_size}):
            self.pages_fetched += 1
            for entry in page.get("repositories") or []:
                name = image_path(entry)
                if name is not None and refs.valid_repository(name):
                    yield name
                else:
                    log.warning("%s: skipping invalid repository %r", self.registry, str(entry)[:300])


def create(source: S, settings: ListerSettings, client_factory: Callable[[S], RegistryClient]) -> Lister:
    base_url = source.lister.base_url if source.lister else None
    spec = cast(RegistrySpec, source)
    account = source.ecr_account
    return EcrLister(
        lambda: api_client(spec, endpoint_url=base_url), source.registry, account, settings.page_size
    )
