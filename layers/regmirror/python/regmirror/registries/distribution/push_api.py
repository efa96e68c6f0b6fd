"""The push side of a registry client, one API area of `client.RegistryClient`: a manifest PUT and a
cross-repository blob mount (`POST /v2/<name>/blobs/uploads/?mount=<digest>&from=<other>`).

A registry that does not mount (it lacks the blob in `from`, or mounts are off) answers 202 with an
upload session instead of 201; the session is cancelled at once, so nothing is left half-done.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING
from urllib.parse import urlencode, urlsplit

from regmirror.errors import RegistryError
from regmirror.registries.distribution.media import sha256_digest
from regmirror.registries.distribution.operations import repository_scope, retried
from regmirror.registries.endpoint import Endpoint
from regmirror.registries.http.breaker import Breakers
from regmirror.retry import RetryPolicy

if TYPE_CHECKING:
    from collections.abc import Callable

    from regmirror.registries.distribution.session import RegistrySession

log = logging.getLogger("regmirror.registry")


class PushApi:
    """Mixed into RegistryClient, whose attributes these are."""

    endpoint: Endpoint
    registry: str
    breakers: Breakers
    _retry: RetryPolicy
    _session: RegistrySession
    _note_retry: Callable[[int, str, float], None]

    @retried
    def put_manifest(self, repository: str, reference: str, body: bytes, media_type: str) -> str:
        """PUT a manifest (by tag or digest); returns its digest. Idempotent, so retried as a whole."""
        repo = self.endpoint.repository_path(repository)
        answer = self._session.request(
            "PUT",
            f"/v2/{repo}/manifests/{reference}",
            kind="manifest_put",
            scope=repository_scope(repo, "pull,push"),
            body=body,
            content_type=media_type,
        )
        if answer.status_code not in (200, 201):
            raise self._session.error(answer, f"PUT manifest {repo}:{reference}")
        answer.close()
        return sha256_digest(body)

    @retried
    def mount_blob(self, repository: str, digest: str, from_repository: str) -> bool:
        """Mount blob `digest` of `from_repository` into `repository`; False when the registry did not
        (its upload session cancelled). Idempotent, so retried as a whole."""
        repo = self.endpoint.repository_path(repository)
        other = self.endpoint.repository_path(from_repository)
        query = urlencode({"mount": digest, "from": other})
        scope = f"{repository_scope(repo, 'pull,push')} {repository_scope(other)}"
        answer = self._session.request(
            "POST", f"/v2/{repo}/blobs/uploads/?{query}", kind="blob_mount", scope=scope
        )
        if answer.status_code not in (201, 202):  # the body is read for the error's codes
            raise self._session.error(answer, f"mount {digest} from {other} into {repo}")
        answer.close()
        if answer.status_code == 202:
            self._cancel_upload(answer.headers.get("Location"), scope)
        return answer.status_code == 201

    def _cancel_upload(self, location: str | None, scope: str) -> None:
        """DELETE an upload session the registry opened instead of mounting (best effort: a session
        left behind expires on the registry's own schedule)."""
        if not location or ("://" in location and urlsplit(location).netloc != self.endpoint.api_host):
            return  # credentials go to the registry's own host only
        try:
            answer = self._session.request("DELETE", location, kind="blob_mount", scope=scope)
            answer.close()
        except RegistryError as exc:
            log.debug("%s: could not cancel upload %s: %s", self.registry, location, exc)
