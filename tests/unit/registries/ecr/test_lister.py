"""ecr lister: DescribeRepositories paging (`nextToken`), registryId scoping and errors, against moto
in server mode behind the paging front (tests/testbed/ecr_pager.py: moto itself never pages)."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from regmirror.config import RegistryConfig, parse_config
from regmirror.errors import ListerError
from regmirror.registries.ecr import lister as ecr_lister
from regmirror.registries.ecr.aws import api_repository_name
from regmirror.registries.ecr.caches import reset_caches
from regmirror.registries.ecr.lister import EcrLister
from regmirror.registries.ecr.repositories import create_arguments
from regmirror.registries.listers.base import resolve_settings

from tests.testbed.moto_env import DEFAULT_ACCOUNT, REGION, MotoStack

ECR_HOST = f"{DEFAULT_ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com"


@pytest.fixture(scope="module")
def moto() -> Iterator[MotoStack]:
    with MotoStack() as stack:
        yield stack


@pytest.fixture
def aws(moto: MotoStack, monkeypatch: pytest.MonkeyPatch) -> MotoStack:
    moto.apply_env(monkeypatch)
    moto.reset()
    reset_caches()
    return moto


def source_config(text: str) -> RegistryConfig:
    config = parse_config(
        "tasks:\n- name: t\n  source: " + text + "\n  target: {registry: '127.0.0.1:5000'}\n"
        "  mappings: [{from: 'regex:.*'}]\n"
    )
    return config.tasks[0].source


def create_repositories(names: list[str]) -> None:
    client = boto3.client("ecr", region_name=REGION)
    for name in names:
        client.create_repository(repositoryName=name)


def test_pages_with_next_token_to_the_end(aws: MotoStack) -> None:
    names = [f"team/app-{i:03d}" for i in range(230)]
    create_repositories(names)
    lister = EcrLister(
        lambda: boto3.client("ecr", region_name=REGION), ECR_HOST, DEFAULT_ACCOUNT, page_size=100
    )
    assert sorted(lister.list_repositories()) == names
    calls = aws.pager.paged_calls("DescribeRepositories")
    assert [(c.max_results, c.next_token is not None, c.returned) for c in calls] == [
        (100, False, 100),
        (100, True, 100),
        (100, True, 30),
    ]
    assert lister.pages_fetched == 3


def test_page_size_is_clamped_to_the_api_limit(aws: MotoStack) -> None:
    create_repositories(["a/b"])
    lister = EcrLister(lambda: boto3.client("ecr", region_name=REGION), ECR_HOST, None, page_size=5000)
    assert list(lister.list_repositories()) == ["a/b"]
    assert [c.max_results for c in aws.pager.paged_calls("DescribeRepositories")] == [1000]


def test_created_from_config_for_an_ecr_host(aws: MotoStack) -> None:
    create_repositories(["team/web", "team/api"])
    source = source_config(f"{{registry: {ECR_HOST}, lister: {{type: ecr, pageSize: 1}}}}")
    settings = resolve_settings(source, None)
    lister = ecr_lister.create(source, settings, lambda s: None)  # type: ignore[arg-type,return-value]
    assert sorted(lister.list_repositories()) == ["team/api", "team/web"]
    assert len(aws.pager.paged_calls("DescribeRepositories")) == 2


def test_other_accounts_repositories_are_not_listed(aws: MotoStack) -> None:
    create_repositories(["mine/app"])
    sts = boto3.client("sts", region_name=REGION)
    creds = sts.assume_role(RoleArn="arn:aws:iam::111111111111:role/seed", RoleSessionName="seed")[
        "Credentials"
    ]
    other = boto3.client(
        "ecr",
        region_name=REGION,
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )
    other.create_repository(repositoryName="theirs/app")
    lister = EcrLister(lambda: boto3.client("ecr", region_name=REGION), ECR_HOST, DEFAULT_ACCOUNT)
    assert list(lister.list_repositories()) == ["mine/app"]


def test_api_error_names_the_registry_and_the_code(aws: MotoStack) -> None:
    aws.pager.fail_next("DescribeRepositories", "AccessDeniedException", "not authorized")
    lister = EcrLister(lambda: boto3.client("ecr", region_name=REGION), ECR_HOST, DEFAULT_ACCOUNT)
    with pytest.raises(ListerError) as caught:
        list(lister.list_repositories())
    assert str(caught.value) == (
        f"{ECR_HOST}: DescribeRepositories failed: AccessDeniedException: not authorized"
    )


def test_error_on_a_later_page_is_raised_too(aws: MotoStack) -> None:
    create_repositories([f"r/{i}" for i in range(3)])
    lister = EcrLister(lambda: boto3.client("ecr", region_name=REGION), ECR_HOST, None, page_size=1)
    names = lister.list_repositories()
    assert next(names) == "r/0"
    aws.pager.fail_next("DescribeRepositories", "InvalidParameterException", "bad token")
    with pytest.raises(ListerError, match="InvalidParameterException: bad token"):
        list(names)


def test_missing_aws_credentials_get_a_hint(aws: MotoStack, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    lister = EcrLister(lambda: boto3.Session().client("ecr", region_name=REGION), ECR_HOST, DEFAULT_ACCOUNT)
    with pytest.raises(ListerError, match="no AWS credentials"):
        list(lister.list_repositories())


# -- public ECR paths (moto has no ecr-public: the mapping between paths and API names) ---------
def test_public_ecr_image_paths_carry_the_registry_alias() -> None:
    entry = {"repositoryName": "library/alpine", "repositoryUri": "public.ecr.aws/docker/library/alpine"}
    assert ecr_lister.image_path(entry) == "docker/library/alpine"
    private = {"repositoryName": "team/app", "repositoryUri": f"{ECR_HOST}/team/app"}
    assert ecr_lister.image_path(private) == "team/app"
    assert ecr_lister.image_path({"repositoryName": "bare"}) == "bare"


def test_public_ecr_api_names_drop_the_alias() -> None:
    public = source_config(f"{{registry: '{DEFAULT_ACCOUNT}@public.ecr.aws'}}")
    private = source_config(f"{{registry: {ECR_HOST}}}")
    assert api_repository_name(public, "docker/library/alpine") == "library/alpine"
    assert api_repository_name(private, "team/app") == "team/app"
    # public ECR repositories take no mutability/scan/KMS settings
    assert create_arguments(public, "library/alpine", None) == {
        "repositoryName": "library/alpine",
        "registryId": DEFAULT_ACCOUNT,
    }
