"""Auth specs → credentials: every accepted form, and no secret in any repr or error."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import pytest
from regmirror.errors import AuthError
from regmirror.registries import credentials
from regmirror.registries.credentials import (
    Credentials,
    check_auth_spec,
    register_resolver,
    resolve_credentials,
    unregister_resolver,
)

SECRET = "Pa55-w0rd-XYZZY"  # distinctive, so a leak shows up in any message


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.fixture(autouse=True)
def own_resolvers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts with no resolvers and leaves those of other modules (the AWS side) alone."""
    monkeypatch.setattr(credentials, "_resolvers", {})


@pytest.fixture
def secrets_store() -> Iterator[dict[str, str]]:
    """A Secrets Manager stand-in registered like the AWS side registers the real one."""
    store: dict[str, str] = {}

    def read(secret_id: str) -> str:
        if secret_id not in store:
            raise LookupError(f"ResourceNotFoundException: secret {secret_id} not found")
        return store[secret_id]

    register_resolver("secretsmanager", read)
    yield store
    unregister_resolver("secretsmanager")


# ---------------------------------------------------------------------------- accepted forms


@pytest.mark.parametrize("spec", [None, "", "   ", "none"])
def test_no_auth(spec: str | None) -> None:
    assert resolve_credentials(spec) is None
    check_auth_spec(spec)


def test_dregsy_readme_value_is_base64_json_with_trailing_newline() -> None:
    readme = "eyJ1c2VybmFtZSI6ICJhbGV4IiwgInBhc3N3b3JkIjogInNlY3JldCJ9Cg=="
    assert resolve_credentials(readme) == Credentials("alex", "secret")


def test_base64_user_pass() -> None:
    assert resolve_credentials(b64(f"alex:{SECRET}")) == Credentials("alex", SECRET)


def test_password_may_contain_colons() -> None:
    assert resolve_credentials(b64("alex:a:b:c")) == Credentials("alex", "a:b:c")


def test_base64_without_padding_and_folded_over_lines() -> None:
    encoded = b64(json.dumps({"username": "u", "password": SECRET})).rstrip("=")
    folded = encoded[:10] + "\n  " + encoded[10:]
    assert resolve_credentials(folded) == Credentials("u", SECRET)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (b64(json.dumps({"username": "e", "password": SECRET})), Credentials("e", SECRET)),
        (b64(f"e:{SECRET}"), Credentials("e", SECRET)),
        (f"e:{SECRET}", Credentials("e", SECRET)),  # plain user:pass: accepted from env only
        (json.dumps({"username": "e", "password": SECRET}), Credentials("e", SECRET)),
        (f"  e:{SECRET}\n", Credentials("e", SECRET)),
    ],
)
def test_env_reference(monkeypatch: pytest.MonkeyPatch, value: str, expected: Credentials) -> None:
    monkeypatch.setenv("REGMIRROR_TEST_AUTH", value)
    check_auth_spec("env:REGMIRROR_TEST_AUTH")  # syntax only: the variable is read at use
    assert resolve_credentials("env:REGMIRROR_TEST_AUTH") == expected


def test_env_value_none_disables_auth(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REGMIRROR_TEST_AUTH", "none")
    assert resolve_credentials("env:REGMIRROR_TEST_AUTH") is None


def test_env_is_read_at_use_not_at_check(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REGMIRROR_LATER", raising=False)
    check_auth_spec("env:REGMIRROR_LATER")
    monkeypatch.setenv("REGMIRROR_LATER", "late:comer")
    assert resolve_credentials("env:REGMIRROR_LATER") == Credentials("late", "comer")


def test_secrets_manager_reference(secrets_store: dict[str, str]) -> None:
    secrets_store["registry/source"] = json.dumps({"username": "svc", "password": SECRET})
    check_auth_spec("secretsmanager:registry/source")
    assert resolve_credentials("secretsmanager:registry/source") == Credentials("svc", SECRET)


def test_secrets_manager_value_may_be_dregsy_base64(secrets_store: dict[str, str]) -> None:
    secrets_store["b64"] = b64(f"svc:{SECRET}")
    assert resolve_credentials("secretsmanager:b64") == Credentials("svc", SECRET)


def test_custom_scheme(monkeypatch: pytest.MonkeyPatch) -> None:
    register_resolver("vault", lambda ref: f"{ref}:{SECRET}")
    try:
        check_auth_spec("vault:robot")
        assert resolve_credentials("vault:robot") == Credentials("robot", SECRET)
    finally:
        unregister_resolver("vault")


# ---------------------------------------------------------------------------- errors


def test_missing_env_variable_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REGMIRROR_NOT_SET", raising=False)
    with pytest.raises(AuthError, match="environment variable REGMIRROR_NOT_SET is not set"):
        resolve_credentials("env:REGMIRROR_NOT_SET", field="tasks[0].source.auth")


def test_field_name_leads_the_message(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REGMIRROR_NOT_SET", raising=False)
    with pytest.raises(AuthError) as caught:
        resolve_credentials("env:REGMIRROR_NOT_SET", field="tasks[3].target.auth")
    assert str(caught.value).startswith("tasks[3].target.auth: ")


def test_empty_env_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REGMIRROR_EMPTY", "")
    with pytest.raises(AuthError, match="empty"):
        resolve_credentials("env:REGMIRROR_EMPTY")


def test_secrets_manager_without_resolver() -> None:
    check_auth_spec("secretsmanager:x")  # the syntax is fine; the AWS side registers the resolver
    with pytest.raises(AuthError, match="no resolver is registered for 'secretsmanager:'"):
        resolve_credentials("secretsmanager:x")


def test_resolver_failure_names_the_secret_id(secrets_store: dict[str, str]) -> None:
    with pytest.raises(AuthError, match="could not read secretsmanager:missing/id"):
        resolve_credentials("secretsmanager:missing/id")


def test_references_cannot_nest(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REGMIRROR_OUTER", "env:REGMIRROR_INNER")
    with pytest.raises(AuthError, match="cannot itself be a reference"):
        resolve_credentials("env:REGMIRROR_OUTER")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("env:", "needs a variable name"),
        ("env:1BAD", "needs a variable name"),
        ("secretsmanager:", "needs a secret id"),
        ("secretmanager:abc", "did you mean 'secretsmanager:'?"),
        ("ENV:ABC", "did you mean 'env:'?"),
    ],
)
def test_reference_syntax(spec: str, message: str) -> None:
    with pytest.raises(AuthError, match=message.replace("?", r"\?")):
        check_auth_spec(spec)


def test_register_resolver_refuses_bad_names() -> None:
    for name in ("env", "Bad", "", "a b"):
        with pytest.raises(ValueError, match="invalid auth scheme name"):
            register_resolver(name, str)


# Each spec carries SECRET somewhere; none of the messages may show it.
BAD_STATIC = [
    (f"admin:{SECRET}", "plain user:pass is accepted only from env:VARNAME"),
    (b64(f"{SECRET}-no-colon"), "decodes to neither credentials JSON nor user:pass"),
    (b64(json.dumps({"user": "x", "pass": SECRET})), "decodes to neither"),
    (b64(json.dumps({"username": "", "password": SECRET})), "decodes to neither"),
    (SECRET + "*", "not valid base64"),
    (base64.b64encode(b"\xff\xfe" + SECRET.encode()).decode(), "does not decode to text"),
]


@pytest.mark.parametrize(("spec", "message"), BAD_STATIC)
def test_bad_static_auth_never_shows_the_secret(spec: str, message: str) -> None:
    for call in (check_auth_spec, resolve_credentials):
        with pytest.raises(AuthError) as caught:
            call(spec, field="auth")
        assert message in str(caught.value)
        assert SECRET not in str(caught.value)
        assert SECRET not in repr(caught.value)


@pytest.mark.parametrize(
    "value",
    [f"{SECRET}-no-colon", json.dumps({"username": "u"}) + SECRET, "{" + SECRET, f"line1\n{SECRET}:x\n:y"],
)
def test_bad_env_value_never_shows_the_secret(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("REGMIRROR_BAD_VALUE", value)
    with pytest.raises(AuthError) as caught:
        resolve_credentials("env:REGMIRROR_BAD_VALUE")
    assert "env:REGMIRROR_BAD_VALUE" in str(caught.value)
    assert SECRET not in str(caught.value)


def test_repr_and_str_hide_the_password() -> None:
    creds = Credentials("alex", SECRET)
    for shown in (repr(creds), str(creds), f"{creds}", f"{creds!r}", str([creds]), str({"c": creds})):
        assert SECRET not in shown
        assert "alex" in shown


def test_credentials_are_frozen_values() -> None:
    creds = Credentials("a", "b")
    assert creds == Credentials("a", "b")
    assert hash(creds) == hash(Credentials("a", "b"))
    with pytest.raises(AttributeError):
        creds.password = "c"  # type: ignore[misc]
