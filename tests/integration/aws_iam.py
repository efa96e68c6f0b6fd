"""moto with IAM enforced: each Lambda handler's AWS calls are made as a role holding exactly the
policies synthesized for that function, so a call without a grant is `AccessDenied`, as in an account.

Set-up runs with moto's authentication off: an administrator user for the tests' own calls (its key
becomes the environment's), and per function (lister, relay, push) a role whose inline policy is the
function's synthesized Allow statements, assumed once for temporary credentials. Then moto enforces
(`/moto-api/reset-auth 0`) until the test ends. While a handler runs (`CallRecorder.invoking`), a call
from a client holding the environment's key is re-sent through a twin client holding the function's
role credentials; clients built on other credentials (an ECR role the config names) stay as they are.

What moto checks, and so what this proves: the action of every call, by signature and policy. moto
matches `Resource` only for S3 (other services ask for "*") and evaluates no request conditions, so
the statements are loaded with `Resource: "*"` and without `Condition`; their scoping is asserted on
the template (tests/infrastructure/test_stack.py).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
import requests

from tests.infrastructure.test_stack import as_list
from tests.integration.aws_grants import ACTION_OF, RECORDER, granted_statements

ADMIN_USER = "regmirror-tests"
_ADMIN_POLICY = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
_LAMBDA_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}


# AWS authorizes SQS's batch calls by the single action (the SQS developer guide's API permissions
# table); moto asks for the batch operation's own name.
_MOTO_ALIASES = {single: batch for batch, single in ACTION_OF.items() if batch.startswith("sqs:")}


def moto_policy(statements: tuple[dict[str, Any], ...]) -> dict[str, Any]:
    """The synthesized statements as moto can evaluate them: actions kept (with moto's names for the
    batch calls they allow), resources and conditions not."""

    def actions(st: dict[str, Any]) -> list[str]:
        granted = as_list(st["Action"])
        return granted + [_MOTO_ALIASES[a] for a in granted if a in _MOTO_ALIASES]

    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": actions(st), "Resource": "*"} for st in statements],
    }


@dataclass(frozen=True)
class Keys:
    access_key: str
    secret_key: str
    token: str | None = None

    def session(self, region: str | None) -> boto3.Session:
        return boto3.Session(
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            aws_session_token=self.token,
            region_name=region,
        )


class Principals:
    """The administrator's and each function's credentials, and the function twins of clients."""

    def __init__(self, admin: Keys, functions: dict[str, Keys]) -> None:
        self.admin = admin
        self.functions = functions
        self._twins: dict[tuple[str, str, str | None, str], Any] = {}
        self._lock = threading.Lock()

    def client_for(self, function: str, client: Any) -> Any:
        """`client`, or its twin signing as `function` when it signs with the administrator's key."""
        credentials = client._request_signer._credentials
        if credentials is None or credentials.access_key != self.admin.access_key:
            return client
        meta = client.meta
        key = (function, meta.service_model.service_name, meta.region_name, meta.endpoint_url)
        with self._lock:
            twin = self._twins.get(key)
            if twin is None:
                twin = (
                    self.functions[function]
                    .session(meta.region_name)
                    .client(
                        meta.service_model.service_name, endpoint_url=meta.endpoint_url, config=meta.config
                    )
                )
                self._twins[key] = twin
        return twin


def _create_admin() -> Keys:
    iam = boto3.client("iam")
    iam.create_user(UserName=ADMIN_USER)
    iam.put_user_policy(UserName=ADMIN_USER, PolicyName="all", PolicyDocument=json.dumps(_ADMIN_POLICY))
    key = iam.create_access_key(UserName=ADMIN_USER)["AccessKey"]
    return Keys(key["AccessKeyId"], key["SecretAccessKey"])


def _create_function_role(function: str, statements: tuple[dict[str, Any], ...]) -> Keys:
    iam, sts = boto3.client("iam"), boto3.client("sts")
    role = iam.create_role(
        RoleName=f"regmirror-{function}", AssumeRolePolicyDocument=json.dumps(_LAMBDA_TRUST)
    )
    iam.put_role_policy(
        RoleName=f"regmirror-{function}",
        PolicyName="synthesized",
        PolicyDocument=json.dumps(moto_policy(statements)),
    )
    answer = sts.assume_role(RoleArn=role["Role"]["Arn"], RoleSessionName=function)["Credentials"]
    return Keys(answer["AccessKeyId"], answer["SecretAccessKey"], answer["SessionToken"])


def revoke(function: str, action: str) -> None:
    """Take one action out of a function's role, as a stack missing that grant would deploy it."""
    iam = boto3.client("iam")
    role = f"regmirror-{function}"
    policy = iam.get_role_policy(RoleName=role, PolicyName="synthesized")["PolicyDocument"]
    for st in policy["Statement"]:
        st["Action"] = [a for a in as_list(st["Action"]) if a not in (action, _MOTO_ALIASES.get(action))]
    policy["Statement"] = [st for st in policy["Statement"] if st["Action"]]
    iam.put_role_policy(RoleName=role, PolicyName="synthesized", PolicyDocument=json.dumps(policy))


def set_enforcement(moto_url: str, enforced: bool) -> None:
    """moto's switch: the number of requests let through unauthenticated (0 = none, inf = all)."""
    count = "0" if enforced else "inf"
    requests.post(f"{moto_url}/moto-api/reset-auth", data=count, timeout=30).raise_for_status()


def enforce_iam(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> Principals:
    """Create the principals (moto's authentication still off), then turn enforcement on."""
    admin = _create_admin()
    functions = {name: _create_function_role(name, st) for name, st in granted_statements().items()}
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", admin.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", admin.secret_key)
    boto3.DEFAULT_SESSION = None  # it keeps the credentials it resolved first
    principals = Principals(admin, functions)
    RECORDER.route = principals.client_for
    set_enforcement(moto_url, True)
    return principals


def release_iam(moto_url: str) -> None:
    """Enforcement off (it is one setting for every moto server of this process) and no more twins."""
    RECORDER.route = None
    boto3.DEFAULT_SESSION = None
    set_enforcement(moto_url, False)
