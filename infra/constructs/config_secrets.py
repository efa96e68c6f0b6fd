"""Config delivery and credential grants.

The environment's regmirror config file (zipped with the files it names, e.g. a `ca-file`) becomes an
S3 asset in the CDK bootstrap bucket; every function gets its bucket and key in its environment and
reads it once per container (unpacked to /tmp and cached). Why an S3 asset rather than copying the
file into each code asset: one object serves the zip functions and the relay image alike, a config
change neither rebuilds the relay image nor republishes the layer, and the key is the content hash,
so a deploy that changes the config changes the functions' environment and every new container reads
the new file. The config is also validated at synth time, with the same messages as the CLI.

Credentials: `auth: secretsmanager:<name or ARN>` in the config is read at run time through
Powertools Parameters (cached); each function that talks to registries may read exactly the secrets
the config names, nothing else. ECR registries use the function role (plus `role-arn` if given).
"""

from __future__ import annotations

import shutil

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3_assets as s3_assets
from constructs import Construct
from regmirror.aws import names

from infra.common import acknowledge
from infra.config_bundle import stage_config_bundle
from infra.config_facts import ConfigFacts, EcrRegistryAccess, secret_arn_patterns
from infra.settings import EnvironmentSettings

ECR_AUTH_REASON = (
    "ecr:GetAuthorizationToken has no resource-level permissions (AWS docs require 'Resource: *'); the "
    "token it returns only works together with the repository-scoped ecr:* permissions in this policy."
)
ECR_WILDCARD_REASON = (
    "Repository names here come from regex `from`/`to` mappings, known only when the lister runs; the "
    "grant is limited to the account, region and the literal name prefix the config fixes."
)

# What each side does on a private ECR registry (the registry API's requests map to these actions:
# manifest GET/HEAD BatchGetImage, blob GET GetDownloadUrlForLayer, blob HEAD BatchCheckLayerAvailability,
# tags/list ListImages). The planner reads manifests and listings only, never a blob.
ECR_PLAN_ACTIONS = [
    "ecr:BatchGetImage",
    "ecr:DescribeImages",
    "ecr:ListImages",
    "ecr:DescribeRepositories",
]
# The relay: skopeo pulls manifests and blobs; the checks read digests (and list tags of a missing image).
ECR_PULL_ACTIONS = [
    "ecr:BatchGetImage",
    "ecr:GetDownloadUrlForLayer",
    "ecr:DescribeImages",
    "ecr:ListImages",
]
PUBLIC_ECR_AUTH_ACTIONS = ["ecr-public:GetAuthorizationToken", "sts:GetServiceBearerToken"]
PUBLIC_ECR_PUSH_ACTIONS = [
    "ecr-public:BatchCheckLayerAvailability",
    "ecr-public:InitiateLayerUpload",
    "ecr-public:UploadLayerPart",
    "ecr-public:CompleteLayerUpload",
    "ecr-public:PutImage",
    "ecr-public:DescribeRepositories",
    "ecr-public:DescribeImages",
    "ecr-public:CreateRepository",
    "ecr-public:TagResource",
]
PUBLIC_ECR_AUTH_REASON = (
    "ecr-public:GetAuthorizationToken and sts:GetServiceBearerToken have no resource type (AWS docs "
    "require 'Resource: *'); the bearer token only works with the repository-scoped grants here."
)
ECR_KMS_ACTIONS = ["kms:CreateGrant", "kms:RetireGrant", "kms:DescribeKey"]
ECR_KMS_REASON = (
    "The target's `ecr.kms-key` is given as an alias; IAM evaluates KMS permissions on key ARNs, so the "
    "grant covers the account's keys but only through ECR (kms:ViaService) for repository creation."
)
ECR_PUSH_ACTIONS = [
    *ECR_PULL_ACTIONS,
    "ecr:BatchCheckLayerAvailability",  # skopeo asks for each blob before uploading it
    "ecr:InitiateLayerUpload",
    "ecr:UploadLayerPart",
    "ecr:CompleteLayerUpload",
    "ecr:PutImage",
    # dregsy creates missing target repositories; tags/scanning/mutability come from the config.
    "ecr:DescribeRepositories",
    "ecr:CreateRepository",
    "ecr:TagResource",
    "ecr:PutLifecyclePolicy",
]


def _statement(
    sid: str, actions: list[str], resources: list[str], via_ecr: EcrRegistryAccess | None
) -> iam.PolicyStatement:
    """A statement; KMS grants (`via_ecr`) only through ECR in that registry's region."""
    conditions = (
        {"StringEquals": {"kms:ViaService": f"ecr.{via_ecr.region}.amazonaws.com"}} if via_ecr else None
    )
    return iam.PolicyStatement(sid=sid, actions=actions, resources=resources, conditions=conditions)


# (sid, actions, resources, the registry whose ECR a KMS grant must go through)
StatementParts = tuple[str, list[str], set[str], EcrRegistryAccess | None]


def _sid(access: EcrRegistryAccess) -> str:
    return f"Ecr{access.account}{access.region.replace('-', '')}"


def _relay_parts(access: EcrRegistryAccess) -> list[StatementParts]:
    return [
        (f"{_sid(access)}Read", ECR_PULL_ACTIONS, {access.repository_arn(p) for p in access.pull}, None),
        (f"{_sid(access)}Push", ECR_PUSH_ACTIONS, {access.repository_arn(p) for p in access.push}, None),
        (
            f"{_sid(access)}RepositoryKey",
            ECR_KMS_ACTIONS,
            {access.kms_key_arn(k) for k in access.kms_keys},
            access,
        ),
    ]


def _lister_parts(access: EcrRegistryAccess) -> list[StatementParts]:
    """Digest checks on targets too, and DescribeRepositories over the whole source registry when a
    regex `from` needs the repository list."""
    read = access.pull | access.push | ({"*"} if access.list_all else set())
    return [(f"{_sid(access)}Read", ECR_PLAN_ACTIONS, {access.repository_arn(p) for p in read}, None)]


class ConfigAndSecrets(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, settings: EnvironmentSettings, facts: ConfigFacts
    ):
        super().__init__(scope, construct_id)
        self.settings = settings
        self.facts = facts
        bundle = stage_config_bundle(settings.config_path)
        self.asset = s3_assets.Asset(self, "ConfigBundle", path=str(bundle))
        if not self.node.try_get_context("aws:cdk:disable-asset-staging"):
            shutil.rmtree(bundle, ignore_errors=True)  # CDK copied it into the cloud assembly already
        stack = Stack.of(self)
        self.secret_resources = [
            arn
            for secret in facts.secret_ids
            for arn in secret_arn_patterns(
                secret, partition=stack.partition, region=settings.region, account=settings.account
            )
        ]

    def environment(self) -> dict[str, str]:
        return {
            names.ENV_CONFIG_BUCKET: self.asset.s3_bucket_name,
            names.ENV_CONFIG_KEY: self.asset.s3_object_key,
            names.ENV_CONFIG_NAME: self.settings.config_path.name,
        }

    def grant_config_read(self, role: iam.IRole, name: str) -> None:
        """s3:GetObject on the one config object (no bucket listing, no other keys)."""
        iam.Policy(
            self,
            f"{name}ConfigRead",
            roles=[role],
            statements=[
                iam.PolicyStatement(
                    sid="ReadRegmirrorConfig",
                    actions=["s3:GetObject"],
                    resources=[self.asset.bucket.arn_for_objects(self.asset.s3_object_key)],
                )
            ],
        )

    def grant_registry_access(self, role: iam.IRole, name: str, *, write_targets: bool) -> None:
        """Secrets the config names, ECR repositories it names, roles it names (`role-arn`)."""
        statements = self._secret_statements() + self._role_statements()
        wildcards: list[str] = []
        if self.facts.ecr:
            statements.append(
                iam.PolicyStatement(
                    sid="EcrAuthToken", actions=["ecr:GetAuthorizationToken"], resources=["*"]
                )
            )
            for access in self.facts.ecr.values():
                statements.extend(self._ecr_statements(access, write_targets, wildcards))
        statements.extend(self._public_ecr_statements(write_targets, wildcards))
        if not statements:
            return
        policy = iam.Policy(self, f"{name}RegistryAccess", roles=[role], statements=statements)
        self._suppress(policy, wildcards)

    def _secret_statements(self) -> list[iam.PolicyStatement]:
        if not self.secret_resources:
            return []
        statements = [
            iam.PolicyStatement(
                sid="ReadNamedSecrets",
                actions=["secretsmanager:GetSecretValue"],
                resources=self.secret_resources,
            )
        ]
        if self.settings.secret_kms_key_arns:
            statements.append(
                iam.PolicyStatement(
                    sid="DecryptNamedSecrets",
                    actions=["kms:Decrypt"],
                    resources=list(self.settings.secret_kms_key_arns),
                    conditions={
                        "StringEquals": {
                            "kms:ViaService": f"secretsmanager.{self.settings.region}.amazonaws.com"
                        }
                    },
                )
            )
        return statements

    def _role_statements(self) -> list[iam.PolicyStatement]:
        if not self.facts.role_arns:
            return []
        return [
            iam.PolicyStatement(
                sid="AssumeNamedRoles", actions=["sts:AssumeRole"], resources=self.facts.role_arns
            )
        ]

    @staticmethod
    def _ecr_statements(
        access: EcrRegistryAccess, write_targets: bool, wildcards: list[str]
    ) -> list[iam.PolicyStatement]:
        """Read (lister: sources and targets; relay: sources), push (relay: targets), repository keys."""
        statements = []
        for sid, actions, resources, via_ecr in (
            _relay_parts(access) if write_targets else _lister_parts(access)
        ):
            if resources:
                statements.append(_statement(sid, actions, sorted(resources), via_ecr))
                wildcards.extend(r for r in resources if "*" in r)
        return statements

    def _public_ecr_statements(self, write_targets: bool, wildcards: list[str]) -> list[iam.PolicyStatement]:
        if not self.facts.public_ecr:
            return []
        statements = [
            iam.PolicyStatement(sid="PublicEcrAuthToken", actions=PUBLIC_ECR_AUTH_ACTIONS, resources=["*"])
        ]
        pushes = {
            f"arn:aws:ecr-public::{account}:repository/{pattern}"
            for account, patterns in self.facts.public_ecr.items()
            for pattern in patterns
        }
        if write_targets and pushes:
            statements.append(
                iam.PolicyStatement(
                    sid="PublicEcrPush", actions=PUBLIC_ECR_PUSH_ACTIONS, resources=sorted(pushes)
                )
            )
            wildcards.extend(p for p in pushes if "*" in p)
        return statements

    def _suppress(self, policy: iam.Policy, wildcards: list[str]) -> None:
        """One acknowledgment per wildcard finding, each with its own reason."""
        if self.facts.ecr or self.facts.public_ecr:
            reasons = [ECR_AUTH_REASON] if self.facts.ecr else []
            reasons += [PUBLIC_ECR_AUTH_REASON] if self.facts.public_ecr else []
            acknowledge(policy, "AwsSolutions-IAM5[Resource::*]", " ".join(reasons))
        for resource in sorted(set(wildcards)):
            reason = ECR_KMS_REASON if ":kms:" in resource else ECR_WILDCARD_REASON
            acknowledge(policy, f"AwsSolutions-IAM5[Resource::{resource}]", reason)
