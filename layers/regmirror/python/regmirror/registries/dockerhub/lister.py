"""`dockerhub` lister: repositories of Docker Hub namespaces through the Hub API.

Logs in with `POST /v2/users/login` (username + password or personal access token) for a JWT, then
lists `GET /v2/repositories/<namespace>/?page_size=100`, following `next` to the end, for the
logged-in user's namespace plus every namespace in `lister.namespaces` (organisations). Without
`auth` it lists anonymously: public repositories only. Private repositories appear when the account
can see them. Only `repository_type` "image" (or none given) is kept; names are `<namespace>/<name>`.

dregsy lists the user's own namespace only; the base URL is configurable (`lister.baseUrl`) for
mirrors of the API and for tests.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar
from urllib.parse import quote, urlencode

import requests

from regmirror.errors import AuthError, ListerError
from regmirror.logs import remember_secret
from regmirror.registries.credentials import Credentials
from regmirror.registries.distribution.client import RegistryClient
from regmirror.registries.http.body import error_body
from regmirror.registries.http.jsonapi import JsonApi, api_verify
from regmirror.registries.listers.base import Lister, ListerSettings, SourceSpec
from regmirror.registries.logins import credentials_for
from regmirror.rules import refs

log = logging.getLogger("regmirror.listers")

S = TypeVar("S", bound=SourceSpec)

DEFAULT_BASE_URL = "https://hub.docker.com"
MAX_PAGE_SIZE = 100  # the Hub API's limit
LOGIN_PATH = "/v2/users/login"
KEPT_TYPES = frozenset({"image"})


def repository_name(entry: Any, namespace: str) -> str | None:
    """`<namespace>/<name>` of one `results[]` entry; None for non-images and malformed entries."""
    if not isinstance(entry, dict):
        return None
    kind = entry.get("repository_type")
    if kind is not None and kind not in KEPT_TYPES:
        log.debug("Docker Hub: skipping %s/%s (repository_type %r)", namespace, entry.get("name"), kind)
        return None
    name, owner = entry.get("name"), entry.get("namespace") or namespace
    full = f"{owner}/{name}" if isinstance(name, str) and isinstance(owner, str) else ""
    if not refs.valid_repository(full):
        log.warning("Docker Hub: skipping invalid repository name %r", str(full or entry.get("name"))[:300])
        return None
    return full


class HubNotFound(ListerError):
    """The Hub API answered 404 (unknown namespace or repository, or not visible to this account)."""


class HubSession:
    """Docker Hub API calls as one account (or anonymously): login, JWT reuse, one re-login on 401.

    Thread-safe for the planner's parallel checks: logins are serialised.
    """

    def __init__(self, api: JsonApi, credentials: Credentials | None) -> None:
        self.api = api
        self.credentials = credentials
        self._token: str | None = None
        self._lock = threading.Lock()
        self.logins = 0

    def login(self) -> str:
        """A JWT for the configured account (`POST /v2/users/login`)."""
        creds = self.credentials
        if creds is None:
            raise AuthError(f"{self.api.what}: no credentials to log in with")
        answer = self.api.request(
            "POST", LOGIN_PATH, body={"username": creds.username, "password": creds.password}
        )
        if answer.status_code in (401, 403):
            hint = (
                " (two-factor account: use a personal access token as password)" if _needs_2fa(answer) else ""
            )
            who = f"user {creds.username!r}"
            raise AuthError(
                f"{self.api.what}: login refused for {who} (HTTP {answer.status_code}){hint}",
                status=answer.status_code,
            )
        if answer.status_code != 200:
            raise self.api.status_error(answer, "login")
        token = _token_of(self.api.parse(answer))
        if token is None:
            raise AuthError(f"{self.api.what}: login answer holds no token")
        remember_secret(None, token)
        self.logins += 1
        self._token = token
        return token

    def _headers(self, refresh_from: str | None = None) -> dict[str, str]:
        """Authorization for the next call; logs in first (or again, when `refresh_from` was refused)."""
        if self.credentials is None:
            return {}
        with self._lock:
            if self._token is None or self._token == refresh_from:
                self.login()
            return {"Authorization": f"Bearer {self._token}"}

    def get(self, url: str) -> tuple[requests.Response, Any]:
        """(answer, body) of a GET; a refused token is renewed once."""
        headers = self._headers()
        answer, body = self.api.get_json(url, headers=headers)
        if answer.status_code == 401 and self.credentials is not None:
            log.info("%s: token refused; logging in again", self.api.what)
            answer.close()
            used = headers.get("Authorization", "").removeprefix("Bearer ")
            answer, body = self.api.get_json(url, headers=self._headers(refresh_from=used))
        return answer, body

    def pages(self, url: str, what: str, missing: str) -> Iterator[list[Any]]:
        """`results` of every page from `url` on, following `next`; 404 raises HubNotFound(missing)."""
        next_url: str | None = url
        visited: set[str] = set()
        while next_url:
            answer, body = self.get(next_url)
            if answer.status_code == 404:
                raise HubNotFound(f"{self.api.what}: {missing}")
            if answer.status_code != 200:
                raise self.api.status_error(answer, what)
            if not isinstance(body, dict):
                raise ListerError(f"{self.api.what}: {what}: answer is not a JSON object")
            yield _results(body, self.api.what)
            next_url = self.api.resolve_next(answer.url or next_url, body.get("next"), visited)


class DockerHubLister:
    def __init__(
        self,
        api: JsonApi,
        credentials: Credentials | None,
        namespaces: list[str],
        page_size: int = MAX_PAGE_SIZE,
    ) -> None:
        self.api = api
        self.session = HubSession(api, credentials)
        self.page_size = max(1, min(page_size, MAX_PAGE_SIZE))
        self.namespaces = self._all_namespaces(credentials, namespaces)

    def __repr__(self) -> str:
        return f"DockerHubLister({self.api.base_url!r}, namespaces={self.namespaces!r})"

    @property
    def logins(self) -> int:
        return self.session.logins

    @staticmethod
    def _all_namespaces(credentials: Credentials | None, configured: list[str]) -> list[str]:
        wanted = ([credentials.username.lower()] if credentials else []) + [
            n.strip().lower() for n in configured
        ]
        namespaces = list(dict.fromkeys(n for n in wanted if n))
        if not namespaces:
            raise ListerError(
                "the dockerhub lister needs `auth` (lists your own namespace) and/or `lister.namespaces`"
            )
        for namespace in namespaces:
            if "/" in namespace or not refs.valid_repository(namespace):
                raise ListerError(f"the dockerhub lister got an invalid namespace {namespace!r}")
        return namespaces

    def list_repositories(self) -> Iterator[str]:
        seen: set[str] = set()
        for namespace in self.namespaces:
            for name in self._namespace(namespace):
                if name not in seen:
                    seen.add(name)
                    yield name

    def _namespace(self, namespace: str) -> Iterator[str]:
        query = urlencode({"page_size": self.page_size})
        url = self.api.url(f"/v2/repositories/{quote(namespace, safe='')}/?{query}")
        anonymous = "" if self.session.credentials else " (or not visible anonymously: give `auth`)"
        missing = f"namespace {namespace!r} not found{anonymous}"
        for results in self.session.pages(url, f"listing namespace {namespace!r}", missing):
            for entry in results:
                name = repository_name(entry, namespace)
                if name is not None:
                    yield name


def _results(body: dict[str, Any], what: str) -> list[Any]:
    results = body.get("results")
    if results is None:
        return []
    if not isinstance(results, list):
        raise ListerError(f"{what}: 'results' is not a list")
    return results


def _token_of(body: Any) -> str | None:
    token = body.get("token") if isinstance(body, dict) else None
    return token if isinstance(token, str) and token else None


def _needs_2fa(answer: requests.Response) -> bool:
    return bool(error_body(answer).get("login_2fa_token"))


def _api_and_credentials(source: Any) -> tuple[JsonApi, Credentials | None]:
    base_url = ((source.lister.base_url if source.lister else None) or DEFAULT_BASE_URL).rstrip("/")
    credentials = _user_password(credentials_for(source))
    if credentials is not None:
        remember_secret(credentials.username, credentials.password)
    return JsonApi(
        base_url, verify=api_verify(source, base_url), what=f"Docker Hub ({base_url})"
    ), credentials


def create(source: S, settings: ListerSettings, client_factory: Callable[[S], RegistryClient]) -> Lister:
    api, credentials = _api_and_credentials(source)
    namespaces = list(source.lister.namespaces if source.lister else [])
    return DockerHubLister(api, credentials, namespaces, settings.page_size)


def _user_password(credentials: Credentials | None) -> Credentials | None:
    """The web API logs in with a username and password; an identity token does not serve it."""
    return credentials if credentials is not None and credentials.username else None
