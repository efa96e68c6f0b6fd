"""The token request of a bearer challenge."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from regmirror.registries.http.auth import Authenticator
from regmirror.registries.http.challenge import Challenge


def unused_send(*_args: object, **_kwargs: object) -> None:
    raise AssertionError("no request is sent to build a URL")


def token_query(scope: str | None, realm: str = "https://auth.example/token") -> dict[str, list[str]]:
    auth = Authenticator("r.example", None, unused_send)  # type: ignore[arg-type]
    challenge = Challenge("bearer", {"realm": realm, "service": "r.example"})
    return parse_qs(urlsplit(auth._token_url(challenge, scope)).query)


def test_each_scope_of_a_mount_is_its_own_parameter() -> None:
    # Docker's token spec: push here and pull there are two `scope` parameters of one request
    query = token_query("repository:mirror/b:pull,push repository:mirror/a:pull")
    assert query == {
        "service": ["r.example"],
        "scope": ["repository:mirror/b:pull,push", "repository:mirror/a:pull"],
    }


def test_one_scope_or_none() -> None:
    assert token_query("repository:a:pull")["scope"] == ["repository:a:pull"]
    assert "scope" not in token_query(None)
    assert token_query(None, realm="https://auth.example/token?x=1")["x"] == ["1"]
