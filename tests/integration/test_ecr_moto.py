"""ECR support against moto in server mode on 127.0.0.1 (AWS_ENDPOINT_URL), behind the paging front:
listing over several pages, role assumption (cross-account), registry credentials and their renewal,
target repository creation with its settings, and tag digests from DescribeImages.

moto's ECR is not a registry: the copy path itself is tested on local registries
(test_listers_e2e.py)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from regmirror.config import Task, parse_config
from regmirror.config.models import GlobalListerConfig
from regmirror.errors import AuthError, RegistryError
from regmirror.registries.ecr import aws as ecr_aws
from regmirror.registries.ecr.aws import ROLE_SESSION_NAME, SessionCache, api_client, aws_session
from regmirror.registries.ecr.caches import reset_caches
from regmirror.registries.ecr.digests import EcrTagDigests
from regmirror.registries.ecr.repositories import (
    IMMUTABLE_TAG_ERROR,
    ensure_repository,
    immutable_tag_in_sync,
)
from regmirror.registries.ecr.tokens import (
    FALLBACK_TOKEN_LIFETIME,
    TOKEN_RENEW_MARGIN,
    EcrTokenCache,
    credentials_for,
)
from regmirror.registries.listers import clear_lister_cache, make_lister

from tests.testbed.moto_env import DEFAULT_ACCOUNT, REGION, MotoStack

OTHER_ACCOUNT = "111111111111"
ECR_HOST = f"{DEFAULT_ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com"
OTHER_HOST = f"{OTHER_ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com"
ROLE_ARN = f"arn:aws:iam::{OTHER_ACCOUNT}:role/regmirror-mirror"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
LIFECYCLE = json.dumps(
    {
        "rules": [
            {
                "rulePriority": 1,
                "selection": {"tagStatus": "untagged", "countType": "imageCountMoreThan", "countNumber": 5},
                "action": {"type": "expire"},
            }
        ]
    }
)


@pytest.fixture(scope="module")
def moto() -> Iterator[MotoStack]:
    with MotoStack() as stack:
        yield stack


@pytest.fixture
def aws(moto: MotoStack, monkeypatch: pytest.MonkeyPatch) -> Iterator[MotoStack]:
    moto.apply_env(monkeypatch)
    moto.reset()
    reset_caches()
    clear_lister_cache()
    yield moto
    reset_caches()


def task(source: str, target: str = "{registry: '127.0.0.1:5000'}") -> Task:
    config = parse_config(
        f"tasks:\n- name: t\n  source: {source}\n  target: {target}\n  mappings: [{{from: 'regex:.*'}}]\n"
    )
    return config.tasks[0]


def assumed_ecr_client(account: str = OTHER_ACCOUNT) -> Any:
    """An ECR client acting in `account` (moto maps assumed-role keys to the role's account)."""
    creds = boto3.client("sts", region_name=REGION).assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/seed", RoleSessionName="seed"
    )["Credentials"]
    return boto3.client(
        "ecr",
        region_name=REGION,
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )


def manifest(seed: str) -> str:
    config_digest = "sha256:" + hashlib.sha256(seed.encode()).hexdigest()
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": DOCKER_MANIFEST,
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "size": 1,
                "digest": config_digest,
            },
            "layers": [],
        }
    )


def put_image(client: Any, repository: str, tag: str, seed: str) -> str:
    """Push a manifest; its digest is given explicitly (ECR checks it; moto would derive another)."""
    body = manifest(seed)
    digest = "sha256:" + hashlib.sha256(body.encode()).hexdigest()
    client.put_image(
        repositoryName=repository,
        imageManifest=body,
        imageTag=tag,
        imageManifestMediaType=DOCKER_MANIFEST,
        imageDigest=digest,
    )
    return digest


# -- listing ----------------------------------------------------------------------------------
def test_ecr_host_lists_every_page_through_make_lister(aws: MotoStack) -> None:
    client = boto3.client("ecr", region_name=REGION)
    names = [f"mirror/image-{i:03d}" for i in range(150)]
    for name in names:
        client.create_repository(repositoryName=name)
    source = task(f"{{registry: {ECR_HOST}}}").source  # no lister section: ECR hosts switch by themselves
    pages_of_100 = GlobalListerConfig.model_validate({"pageSize": 100})
    listed = list(make_lister(source, pages_of_100, lambda s: None).list_repositories())  # type: ignore[arg-type,return-value]
    assert sorted(listed) == names  # dregsy stops at 100
    calls = aws.pager.paged_calls("DescribeRepositories")
    assert [c.returned for c in calls] == [100, 50]
    assert calls[1].next_token is not None


def test_role_arn_lists_another_accounts_repositories(aws: MotoStack) -> None:
    boto3.client("ecr", region_name=REGION).create_repository(repositoryName="own/app")
    other = assumed_ecr_client()
    for name in ("cross/app", "cross/api"):
        other.create_repository(repositoryName=name)
    source = task(f"{{registry: {OTHER_HOST}, role-arn: '{ROLE_ARN}'}}").source
    listed = sorted(make_lister(source, None, lambda s: None).list_repositories())  # type: ignore[arg-type,return-value]
    assert listed == ["cross/api", "cross/app"]
    identity = aws_session(source).client("sts").get_caller_identity()
    assert (
        identity["Arn"] == f"arn:aws:sts::{OTHER_ACCOUNT}:assumed-role/regmirror-mirror/{ROLE_SESSION_NAME}"
    )


def test_assumed_role_is_renewed_before_it_expires(aws: MotoStack) -> None:
    now = [1_000_000.0]
    sessions = SessionCache(clock=lambda: now[0])
    first = sessions.session(ROLE_ARN, REGION)
    assert sessions.session(ROLE_ARN, REGION) is first  # reused while valid
    key_1 = first.get_credentials().access_key
    now[0] = 10_000_000_000.0  # far past the credentials' expiry
    second = sessions.session(ROLE_ARN, REGION)
    assert second is not first
    assert second.get_credentials().access_key != key_1
    assert second.client("sts").get_caller_identity()["Account"] == OTHER_ACCOUNT


def test_clients_are_reused_until_the_role_is_renewed(
    aws: MotoStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [1_000_000.0]
    monkeypatch.setattr(ecr_aws, "_sessions", SessionCache(clock=lambda: now[0]))
    source = task(f"{{registry: {OTHER_HOST}, role-arn: '{ROLE_ARN}'}}").source
    first = api_client(source)
    assert api_client(source) is first
    now[0] = 10_000_000_000.0  # the assumed credentials have expired: new session, new client
    second = api_client(source)
    assert second is not first
    assert second.describe_repositories()["repositories"] == []


def test_region_override_is_used_for_the_api(aws: MotoStack) -> None:
    boto3.client("ecr", region_name="us-west-2").create_repository(repositoryName="west/app")
    source = task(f"{{registry: {ECR_HOST}, region: us-west-2}}").source
    assert api_client(source).meta.region_name == "us-west-2"
    assert list(make_lister(source, None, lambda s: None).list_repositories()) == ["west/app"]  # type: ignore[arg-type,return-value]


def test_role_that_cannot_be_assumed_is_an_auth_error(
    aws: MotoStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    source = task(f"{{registry: {OTHER_HOST}, role-arn: '{ROLE_ARN}'}}").source
    with pytest.raises(AuthError, match=f"cannot assume role {ROLE_ARN}"):
        aws_session(source)


# -- registry credentials ---------------------------------------------------------------------
def test_credentials_come_from_get_authorization_token_and_are_cached(aws: MotoStack) -> None:
    source = task(f"{{registry: {ECR_HOST}}}").source
    tokens = EcrTokenCache()
    creds = tokens.credentials(source)
    assert creds.username == "AWS"
    assert creds.password == f"{DEFAULT_ACCOUNT}-auth-token"  # moto's token for the account
    assert tokens.credentials(source) is creds
    assert tokens.fetches == 1
    assert "auth-token" not in repr(creds)


def test_auth_refresh_renews_the_token(aws: MotoStack) -> None:
    now = [1_000_000.0]
    source = task(f"{{registry: {ECR_HOST}, auth-refresh: 2h}}").source
    tokens = EcrTokenCache(clock=lambda: now[0])
    first = tokens.credentials(source)
    now[0] += 7199
    assert tokens.credentials(source) is first
    now[0] += 2
    assert tokens.credentials(source) is not first
    assert tokens.fetches == 2


def test_renewal_time_follows_expiry_and_auth_refresh() -> None:
    private = task(f"{{registry: {ECR_HOST}}}").source
    refreshed = task(f"{{registry: {ECR_HOST}, auth-refresh: 1h}}").source
    cache = EcrTokenCache()
    now, twelve_hours = 1_000_000.0, 12 * 3600.0
    assert cache._renew_at(private, now, now + twelve_hours) == now + twelve_hours - TOKEN_RENEW_MARGIN
    assert cache._renew_at(refreshed, now, now + twelve_hours) == now + 3600.0
    # an expiry already past (moto answers 2015-01-01; or a skewed clock) → a bounded fallback
    assert cache._renew_at(private, now, now - 5) == now + FALLBACK_TOKEN_LIFETIME


def test_credentials_through_an_assumed_role(aws: MotoStack) -> None:
    source = task(f"{{registry: {OTHER_HOST}, role-arn: '{ROLE_ARN}'}}").source
    assert credentials_for(source).password == f"{OTHER_ACCOUNT}-auth-token"


def test_token_failure_is_an_auth_error(aws: MotoStack) -> None:
    aws.pager.fail_next("GetAuthorizationToken", "AccessDeniedException", "no ecr:GetAuthorizationToken")
    source = task(f"{{registry: {ECR_HOST}}}").source
    with pytest.raises(AuthError, match="cannot get an ECR authorization token: AccessDeniedException"):
        EcrTokenCache().credentials(source)


# -- target repositories ----------------------------------------------------------------------
def target_task(settings: str = "") -> Task:
    ecr_section = f", ecr: {{{settings}}}" if settings else ""
    return task("{registry: '127.0.0.1:5000'}", f"{{registry: {ECR_HOST}{ecr_section}}}")


def test_missing_repository_is_created_with_its_settings(aws: MotoStack) -> None:
    settings = "tag-mutability: IMMUTABLE, scan-on-push: true, kms-key: 'alias/mirror'"
    target = target_task(f"{settings}, lifecycle-policy: '{LIFECYCLE}'").target
    repo = ensure_repository(target, "mirror/app")
    assert repo.created
    assert repo.immutable
    assert repo.uri == f"{ECR_HOST}/mirror/app"
    client = boto3.client("ecr", region_name=REGION)
    described = client.describe_repositories(repositoryNames=["mirror/app"])["repositories"][0]
    assert described["imageTagMutability"] == "IMMUTABLE"
    assert described["imageScanningConfiguration"] == {"scanOnPush": True}
    assert described["encryptionConfiguration"]["encryptionType"] == "KMS"
    assert described["encryptionConfiguration"]["kmsKey"] == "alias/mirror"
    policy = client.get_lifecycle_policy(repositoryName="mirror/app")["lifecyclePolicyText"]
    assert json.loads(policy) == json.loads(LIFECYCLE)


def test_default_settings_without_an_ecr_section(aws: MotoStack) -> None:
    repo = ensure_repository(target_task().target, "plain/app")
    assert repo.created
    assert not repo.immutable
    described = boto3.client("ecr", region_name=REGION).describe_repositories(repositoryNames=["plain/app"])
    assert described["repositories"][0]["imageTagMutability"] == "MUTABLE"


def test_existing_repository_is_left_as_it_is_and_remembered(aws: MotoStack) -> None:
    client = boto3.client("ecr", region_name=REGION)
    client.create_repository(repositoryName="kept/app", imageTagMutability="MUTABLE")
    target = target_task("tag-mutability: IMMUTABLE").target
    repo = ensure_repository(target, "kept/app")
    assert not repo.created
    assert not repo.immutable  # existing settings are not rewritten
    before = len(aws.pager.paged_calls("DescribeRepositories"))
    assert ensure_repository(target, "kept/app") == repo
    assert len(aws.pager.paged_calls("DescribeRepositories")) == before  # cached: no second call


def test_repository_in_another_account_through_the_role(aws: MotoStack) -> None:
    target = task(
        "{registry: '127.0.0.1:5000'}", f"{{registry: {OTHER_HOST}, role-arn: '{ROLE_ARN}'}}"
    ).target
    assert ensure_repository(target, "cross/target").created
    listed = assumed_ecr_client().describe_repositories()["repositories"]
    assert [r["repositoryName"] for r in listed] == ["cross/target"]
    assert not boto3.client("ecr", region_name=REGION).describe_repositories()["repositories"]


def test_creation_failure_is_a_registry_error(aws: MotoStack) -> None:
    aws.pager.fail_next("CreateRepository", "AccessDeniedException", "no ecr:CreateRepository")
    with pytest.raises(RegistryError, match="cannot create ECR repository denied/app: AccessDeniedException"):
        ensure_repository(target_task().target, "denied/app")


# -- tag digests ------------------------------------------------------------------------------
def test_tag_digests_from_describe_images_over_several_pages(aws: MotoStack) -> None:
    client = boto3.client("ecr", region_name=REGION)
    client.create_repository(repositoryName="team/app")
    expected = {f"1.{i}": put_image(client, "team/app", f"1.{i}", f"seed-{i}") for i in range(120)}
    source = task(f"{{registry: {ECR_HOST}}}").source
    digests = EcrTagDigests(source, page_size=50)
    assert digests.tag_digests("team/app") == expected
    assert [c.returned for c in aws.pager.paged_calls("DescribeImages")] == [50, 50, 20]
    info = digests.head_manifest("team/app", "1.7")
    assert info is not None
    assert info.digest == expected["1.7"]
    assert info.media_type == DOCKER_MANIFEST
    assert digests.head_manifest("team/app", expected["1.8"]) is not None  # by digest
    assert digests.head_manifest("team/app", "9.9") is None
    assert digests.list_tags("team/app") == sorted(expected)
    assert digests.describe_calls == 1  # one listing served every question


def test_tag_digests_of_a_missing_repository(aws: MotoStack) -> None:
    digests = EcrTagDigests(task(f"{{registry: {ECR_HOST}}}").source)
    assert digests.tag_digests("nope/app") is None
    assert digests.head_manifest("nope/app", "latest") is None
    with pytest.raises(RegistryError, match="does not exist"):
        digests.list_tags("nope/app")


def test_forget_and_ttl_refresh_a_listing(aws: MotoStack) -> None:
    client = boto3.client("ecr", region_name=REGION)
    client.create_repository(repositoryName="team/app")
    put_image(client, "team/app", "1.0", "a")
    now = [0.0]
    digests = EcrTagDigests(task(f"{{registry: {ECR_HOST}}}").source, ttl=60, clock=lambda: now[0])
    assert list(digests.tag_digests("team/app") or {}) == ["1.0"]
    put_image(client, "team/app", "2.0", "b")
    assert list(digests.tag_digests("team/app") or {}) == ["1.0"]  # cached
    digests.forget("team/app")
    assert sorted(digests.tag_digests("team/app") or {}) == ["1.0", "2.0"]
    put_image(client, "team/app", "3.0", "c")
    now[0] = 61.0
    assert sorted(digests.tag_digests("team/app") or {}) == ["1.0", "2.0", "3.0"]
    assert digests.describe_calls == 3


def test_immutable_tag_with_the_same_digest_counts_as_in_sync(aws: MotoStack) -> None:
    client = boto3.client("ecr", region_name=REGION)
    client.create_repository(repositoryName="frozen/app", imageTagMutability="IMMUTABLE")
    client.create_repository(repositoryName="open/app", imageTagMutability="MUTABLE")
    frozen = put_image(client, "frozen/app", "1.0", "x")
    opened = put_image(client, "open/app", "1.0", "x")
    target = target_task().target
    assert immutable_tag_in_sync(target, "frozen/app", "1.0", frozen)
    assert not immutable_tag_in_sync(target, "frozen/app", "1.0", "sha256:" + "0" * 64)
    assert not immutable_tag_in_sync(target, "open/app", "1.0", opened)  # mutable: a real failure
    assert IMMUTABLE_TAG_ERROR.search(
        "writing manifest: uploading manifest 1.0 to 1234.dkr.ecr.eu-central-1.amazonaws.com/frozen/app: "
        "tag invalid: The image tag '1.0' already exists in the 'frozen/app' repository and cannot be "
        "overwritten because the repository is immutable."
    )


# -- service wiring: ECR target digests and repository preparation ------------------------------
def ecr_target_config(source_host: str) -> Any:
    return parse_config(
        f"""
tasks:
- name: to-ecr
  source: {{registry: "{source_host}", insecure: true}}
  target:
    registry: {ECR_HOST}
    ecr: {{tag-mutability: IMMUTABLE, scan-on-push: true}}
  mappings: [{{from: team/app, to: mirror/app, tags: ["1.0"]}}]
"""
    )


def test_plan_reads_ecr_target_digests_from_describe_images(aws: MotoStack, plain_registry: Any) -> None:
    from regmirror.sync.registries import Registries
    from regmirror.sync.run import plan_config

    from tests.testbed import get_manifest, push_image

    push_image(plain_registry, "team/app", "1.0")
    config = ecr_target_config(plain_registry.host)
    registries = Registries(config)
    assert isinstance(registries.manifests(config.tasks[0].target), EcrTagDigests)
    plan = plan_config(config, registries=registries)
    assert [p.state for p in plan.items] == ["copy"]  # the repository does not exist yet

    body, media_type, digest = get_manifest(plain_registry, "team/app", "1.0")
    client = boto3.client("ecr", region_name=REGION)
    client.create_repository(repositoryName="mirror/app")
    client.put_image(
        repositoryName="mirror/app",
        imageManifest=body.decode(),
        imageTag="1.0",
        imageManifestMediaType=media_type,
        imageDigest=digest,
    )
    plan = plan_config(config, registries=Registries(config))
    assert [(p.state, p.target_digest) for p in plan.items] == [("in-sync", digest)]


def test_copy_to_ecr_creates_the_repository_and_respects_immutable_tags(aws: MotoStack) -> None:
    from regmirror.model import ImageRef, SyncItem
    from regmirror.sync.prepare import prepare_target
    from regmirror.sync.registries import Registries

    config = ecr_target_config("127.0.0.1:5000")
    item = SyncItem(
        task="to-ecr",
        source=ImageRef("127.0.0.1:5000", "team/app", "1.0"),
        target=ImageRef(ECR_HOST, "mirror/app", "1.0"),
        source_digest="sha256:" + "0" * 64,
    )
    assert prepare_target(Registries(config), item) is None  # created, nothing there yet
    described = boto3.client("ecr", region_name=REGION).describe_repositories(repositoryNames=["mirror/app"])
    repo = described["repositories"][0]
    assert repo["imageTagMutability"] == "IMMUTABLE"
    assert repo["imageScanningConfiguration"]["scanOnPush"] is True

    digest = put_image(boto3.client("ecr", region_name=REGION), "mirror/app", "1.0", "seed")
    same = SyncItem(task=item.task, source=item.source, target=item.target, source_digest=digest)
    result = prepare_target(Registries(config), same)
    assert result is not None
    assert (result.status, result.reason, result.target_digest) == ("skipped", "in-sync", digest)
    # another digest under an immutable tag is not "in sync": the copy goes ahead (and ECR refuses it)
    assert prepare_target(Registries(config), item) is None
