"""Answering a registry's auth challenges: Basic, or Bearer tokens from the challenge's realm.

The challenge learnt from the first 401 is answered up front from then on (no 401 per request);
tokens are cached per scope until shortly before they expire.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlencode, urlsplit

import requests

from regmirror.errors import AuthError, RegistryError, TokenError
from regmirror.registries.http.body import parse_json, read_capped
from regmirror.registries.http.challenge import Challenge, parse_www_authenticate
from regmirror.registries.http.diagnose import transport_problem
from regmirror.registries.http.session import TRANSPORT_ERRORS
from regmirror.registries.http.tokens import TokenCache, token_from_answer

if TYPE_CHECKING:
    from regmirror.registries.credentials import Credentials

MAX_TOKEN_BYTES = 1024 * 1024


class Send(Protocol):
    """The client's own send: (method, url, headers, requests auth, request kind[, form data])."""

    def __call__(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        auth: Any,
        kind: str,
        *,
        data: dict[str, str] | None = None,
    ) -> requests.Response: ...


ANONYMOUS_HINT = (
    'give credentials with `auth:` on this registry: base64 of {"username": ..., "password": ...}, '
    "env:VARNAME or secretsmanager:<secret-id>; or log in (docker/podman/skopeo login, a credential "
    "helper): without `auth`, regmirror reads $REGISTRY_AUTH_FILE, containers auth.json and "
    "~/.docker/config.json (unless credentials-from-environment: false)"
)
CLIENT_ID = "regmirror"  # OAuth2 client id sent with a refresh-token exchange


class Authenticator:
    """One registry's credentials (None: anonymous) and what it learnt about answering challenges."""

    def __init__(self, registry: str, credentials: Credentials | None, send: Send) -> None:
        self.registry = registry
        self.credentials = credentials
        self.challenge: Challenge | None = None  # learnt from the first 401, then used up front
        self._send = send
        self._tokens = TokenCache()

    def basic(self) -> tuple[str, str] | None:
        creds = self.credentials
        return (creds.username, creds.password) if creds is not None and creds.username else None

    def refused_message(self, status: int, where: str) -> str:
        """Who was refused, and which settings give (other) credentials."""
        if self.credentials is None:
            return f"{self.registry}: {where} refused anonymous access ({status}); {ANONYMOUS_HINT}"
        creds = self.credentials
        who = f"user {creds.username!r}" if creds.username else "the identity token"
        origin = creds.origin or "this registry's `auth`"
        return (
            f"{self.registry}: {where} refused {who} ({status}); "
            f"check the password or token in {origin} and the user's rights"
        )

    def usable_challenge(self, answer: requests.Response) -> Challenge | None:
        """The challenge of a 401 we can answer: Bearer, or Basic when we have credentials."""
        for challenge in parse_www_authenticate(answer.headers.get("WWW-Authenticate")):
            if challenge.scheme == "bearer" or (challenge.scheme == "basic" and self.credentials):
                return challenge
        return None

    def learn(self, challenge: Challenge) -> None:
        """Answer `challenge` up front from now on (its scope is per request, so not kept)."""
        self.challenge = Challenge(
            challenge.scheme, {k: v for k, v in challenge.params.items() if k != "scope"}
        )

    def answer(
        self, challenge: Challenge | None, scope: str | None, *, fresh: bool = False
    ) -> tuple[dict[str, str], Any]:
        """(extra headers, requests auth) answering `challenge` for `scope`."""
        if challenge is None:
            return {}, None
        if challenge.scheme == "basic":
            return {}, self.basic()
        if challenge.scheme == "bearer":
            return {"Authorization": f"Bearer {self._bearer(challenge, scope, fresh=fresh)}"}, None
        raise AuthError(
            f"{self.registry}: unsupported auth scheme {challenge.scheme!r}", registry=self.registry
        )

    def _bearer(self, challenge: Challenge, scope: str | None, *, fresh: bool) -> str:
        cached = None if fresh else self._tokens.get(scope or "")
        return cached or self._fetch_token(challenge, scope)

    def _token_url(self, challenge: Challenge, scope: str | None) -> str:
        realm = challenge.params.get("realm", "")
        if urlsplit(realm).scheme not in ("http", "https"):
            raise TokenError(
                f"{self.registry}: bearer challenge without a usable realm", registry=self.registry
            )
        # several scopes (a mount: push here, pull there) are one `scope` parameter each (Docker's
        # token spec); the OAuth2 form below keeps them space-separated in one
        params = [("service", challenge.params.get("service", ""))]
        params += [("scope", part) for part in (scope or "").split()]
        return f"{realm}{'&' if '?' in realm else '?'}{urlencode(params)}"

    def _check_token_status(self, status: int) -> None:
        if status in (401, 403):
            message = self.refused_message(status, "token server")
            raise TokenError(message, status=status, registry=self.registry)
        if status != 200:
            message = f"{self.registry}: token server answered {status}"
            raise TokenError(message, status=status, registry=self.registry)

    def _request_token(self, challenge: Challenge, scope: str | None, url: str) -> requests.Response:
        """GET with basic credentials; with an identity token, the OAuth2 refresh-token POST."""
        creds = self.credentials
        if creds is None or not creds.identity_token:
            return self._send("GET", url, {}, self.basic(), "token")
        form = {
            "grant_type": "refresh_token",
            "refresh_token": creds.identity_token,
            "service": challenge.params.get("service", ""),
            "client_id": CLIENT_ID,
        }
        if scope:
            form["scope"] = scope
        return self._send("POST", challenge.params["realm"], {}, None, "token", data=form)

    def _fetch_token(self, challenge: Challenge, scope: str | None) -> str:
        """A token for `scope` from the challenge's realm (basic credentials if any), cached."""
        url = self._token_url(challenge, scope)
        try:
            answer = self._request_token(challenge, scope, url)
        except TRANSPORT_ERRORS as exc:
            message = f"{self.registry}: token server unreachable: {transport_problem(exc, url)}"
            raise TokenError(message, registry=self.registry) from None
        with answer:
            self._check_token_status(answer.status_code)
            try:
                body = parse_json(read_capped(answer, MAX_TOKEN_BYTES, "token"), "token")
                token, lifetime = token_from_answer(body)
            except (ValueError, RegistryError) as exc:
                message = f"{self.registry}: unusable token answer: {exc}"
                raise TokenError(message, registry=self.registry) from None
        self._tokens.put(scope or "", token, lifetime)
        return token
