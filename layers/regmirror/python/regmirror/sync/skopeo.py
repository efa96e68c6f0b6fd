"""Copy one image with skopeo: argv built from validated parts, credentials only in a 0600 auth file.

Every run gets a private 0700 work directory (auth files, CA dirs, digest file, skopeo's temp files)
that is removed afterwards, whatever happened: success, failure, timeout, a stall or an exception
(`workdirs`: also on an abort, and at the next start after a SIGKILL).

skopeo 1.9 behaviour this relies on (checked against real registries, see tests/integration):
- `--all --preserve-digests` keeps a multi-arch index byte for byte, so its digest is unchanged.
- One platform (`--override-os/--override-arch/--override-variant`, no `--all`) copies just that
  platform's manifest; `--preserve-digests` is passed here too: it keeps that manifest byte for byte
  (skopeo would otherwise convert formats, e.g. with `--format`, and change the digest), so the target
  holds the manifest whose digest the source index lists, and the planner can compare digests.
- `--src-tls-verify=false` lets skopeo fall back to plain HTTP; there is no HTTP-only switch.
- Positional references follow `--` and start with `docker://`, and every part is validated
  beforehand, so a name can never become an option.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from regmirror.config.base import DEFAULT_COPY_TIMEOUT, DEFAULT_STALL_TIMEOUT
from regmirror.model import CopiedBy, CopyResult, FailureReason, SyncItem
from regmirror.redact import redact, redact_argv, secret_forms, tail
from regmirror.registries.credentials import Credentials
from regmirror.registries.endpoint import Endpoint
from regmirror.registries.http.auth import ANONYMOUS_HINT
from regmirror.registries.http.session import host_tls
from regmirror.rules.refs import valid_digest
from regmirror.sync.skopeo_args import (
    InvalidReference,
    authfile_content,
    platform_args,
    source_reference,
    target_reference,
    verifies_tls,
    write_private,
)
from regmirror.sync.skopeo_errors import classify_error, count_attempts
from regmirror.sync.stalls import Ended, wait_watched
from regmirror.sync.workdirs import LIVE, WORKDIR_PREFIX, kill_group, remove_leftovers, skopeo_data_home

log = logging.getLogger("regmirror.relay")

DEFAULT_POLICY_FILE = "/etc/containers/policy.json"

# Environment skopeo may inherit: how to reach the network and which roots to trust, nothing else.
_INHERITED_ENV = (
    "PATH",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "CONTAINERS_REGISTRIES_CONF",
)


@dataclass(frozen=True, slots=True)
class SkopeoRun:
    """A prepared invocation: argv and environment, plus the files it uses inside `workdir`."""

    argv: list[str]
    env: dict[str, str]
    workdir: Path
    digest_file: Path
    secrets: tuple[str, ...]  # forms of every credential in the auth files, for redaction


class SkopeoRelay:
    """Runs `skopeo copy` for one item at a time; safe to share between threads."""

    def __init__(
        self,
        *,
        binary: str = "skopeo",
        retry_times: int = 2,
        timeout: float = DEFAULT_COPY_TIMEOUT,
        stall_timeout: float = DEFAULT_STALL_TIMEOUT,
        tmpdir: str | None = None,
        policy_file: str | None = None,
    ) -> None:
        self.binary = binary
        self.retry_times = retry_times
        self.timeout = timeout
        self.stall_timeout = stall_timeout  # no byte moved for this long: killed as stalled (0: never)
        # $TMPDIR as every tool honours it; /tmp otherwise (on Lambda nothing else is writable)
        self.tmpdir = tmpdir or os.environ.get("TMPDIR") or "/tmp"  # noqa: S108
        self.policy_file = policy_file
        self._data_home: Path | None = None
        remove_leftovers(self.tmpdir)

    def copy(
        self,
        item: SyncItem,
        source: Endpoint,
        target: Endpoint,
        source_creds: Credentials | None,
        target_creds: Credentials | None,
        *,
        size_hint: int | None = None,
    ) -> CopyResult:
        """Copy `item` unconditionally (deciding whether to copy is the planner's job)."""
        start = time.monotonic()
        try:
            with self.prepare(item, source, target, source_creds, target_creds) as run:
                result = self._execute(item, run, start, size_hint)
            return _with_auth_hint(result, (source, source_creds), (target, target_creds))
        except InvalidReference as exc:
            return CopyResult.failure(item, str(exc), reason=FailureReason.INVALID_REFERENCE)
        except OSError as exc:
            # Work dir, CA file or binary trouble: paths only, no secrets in these messages.
            return CopyResult.failure(item, exc, duration=time.monotonic() - start)

    @contextmanager
    def prepare(
        self,
        item: SyncItem,
        source: Endpoint,
        target: Endpoint,
        source_creds: Credentials | None,
        target_creds: Credentials | None,
    ) -> Iterator[SkopeoRun]:
        """Build argv and the private work dir it refers to; the dir is removed on exit."""
        refs = (source_reference(item, source), target_reference(item, target))
        global_args = platform_args(item.platform)  # validated before anything touches the disk
        workdir = Path(tempfile.mkdtemp(prefix=f"{WORKDIR_PREFIX}{os.getpid()}-", dir=self.tmpdir))
        LIVE.add(workdir)
        try:
            side_args = self._side_args("src", source, source_creds, workdir)
            side_args += self._side_args("dest", target, target_creds, workdir)
            digest_file = workdir / "digest"
            argv = [self.binary, "--tmpdir", str(workdir), *self._policy_args(), *global_args, "copy"]
            argv += [*self._copy_mode_args(item), "--retry-times", str(self.retry_times), *side_args]
            # `--` ends option parsing (skopeo 1.9 honours it): defence in depth behind validation.
            argv += ["--digestfile", str(digest_file), "--", *refs]
            secrets = [*_secrets_of(source_creds), *_secrets_of(target_creds)]
            yield SkopeoRun(argv, self._env(workdir), workdir, digest_file, tuple(secrets))
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
            LIVE.discard(workdir)

    def _side_args(
        self, side: str, endpoint: Endpoint, creds: Credentials | None, workdir: Path
    ) -> list[str]:
        verify = verifies_tls(endpoint)
        args = [f"--{side}-tls-verify={'true' if verify else 'false'}"]
        cert_dir = self._cert_dir(side, endpoint, workdir, verify)
        if cert_dir is not None:
            args += [f"--{side}-cert-dir", cert_dir]
        if creds is None:
            return [*args, f"--{side}-no-creds"]
        authfile = workdir / f"{side}-auth.json"
        write_private(authfile, authfile_content(endpoint, creds))
        return [*args, f"--{side}-authfile", str(authfile)]

    def _cert_dir(self, side: str, endpoint: Endpoint, workdir: Path, verify: bool) -> str | None:
        """The host's certs.d folder (CAs, client certificates); with the endpoint's own `ca-file`, a
        private folder holding that CA (as `ca.crt`: skopeo loads `*.crt` only) and the folder's
        client certificates."""
        if not endpoint.ca_file or not verify:
            return endpoint.cert_dir
        cert_dir = workdir / f"{side}-certs"
        cert_dir.mkdir(mode=0o700)
        shutil.copyfile(endpoint.ca_file, cert_dir / "ca.crt")
        folder = host_tls(endpoint)
        for cert, key in folder.client_pairs if folder else ():
            shutil.copyfile(cert, cert_dir / cert.name)
            shutil.copyfile(key, cert_dir / key.name)
        return str(cert_dir)

    @staticmethod
    def _copy_mode_args(item: SyncItem) -> list[str]:
        return ["--all", "--preserve-digests"] if item.platform == "all" else ["--preserve-digests"]

    def _policy_args(self) -> list[str]:
        if self.policy_file:
            return ["--policy", self.policy_file]
        # Without any policy file skopeo refuses to run (e.g. on Lambda); its stock default accepts all.
        return [] if os.path.exists(DEFAULT_POLICY_FILE) else ["--insecure-policy"]

    def _env(self, workdir: Path) -> dict[str, str]:
        env = {name: os.environ[name] for name in _INHERITED_ENV if name in os.environ}
        env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
        # HOME and TMPDIR inside the work dir: no ambient ~/.docker/config.json credentials are
        # picked up, and anything skopeo leaves behind is removed with the dir.
        env["HOME"] = str(workdir)
        env["TMPDIR"] = str(workdir)
        # Except skopeo's blob-info cache (which blob it saw where: digests and repository names, no
        # credential), shared by every copy: with it skopeo mounts a blob it pushed to one repository
        # into another instead of uploading it again. Root's is /var/lib/containers/cache already;
        # anyone else's lives under $XDG_DATA_HOME, else $HOME, which is the work dir here.
        env["XDG_DATA_HOME"] = str(self.shared_data_dir())
        return env

    def shared_data_dir(self) -> Path:
        """skopeo's data home, kept across copies and runs (`sync.workdirs.skopeo_data_home`)."""
        if self._data_home is None:
            self._data_home = skopeo_data_home(self.tmpdir)
        return self._data_home

    def _execute(self, item: SyncItem, run: SkopeoRun, start: float, size_hint: int | None) -> CopyResult:
        fields = copy_fields(item)
        log.info("copy %s -> %s (%s)", item.source, item.target, item.platform, extra=fields)
        log.debug("skopeo argv: %s", redact_argv(run.argv, run.secrets))
        returncode, stderr = self._run_process(run, what=str(item.target))
        duration = time.monotonic() - start
        stderr = redact(stderr, run.secrets)
        source_digest = item.source_digest or item.source.digest
        if returncode != 0:
            reason, message = self._failure(returncode, stderr)
            attempts = count_attempts(stderr)
            log.warning(
                "copy %s failed (%s): %s",
                item.target,
                reason,
                tail(message, 500),
                extra={**fields, "reason": str(reason), "attempts": attempts, "seconds": round(duration, 3)},
            )
            return CopyResult.failure(item, message, reason=reason, duration=duration, attempts=attempts)
        return CopyResult(
            item=item,
            status="copied",
            reason=CopiedBy.SKOPEO,
            duration=duration,
            bytes=size_hint,
            source_digest=source_digest,
            target_digest=_read_digest(run.digest_file),
            error=None,
            attempts=count_attempts(stderr),
        )

    def _failure(self, returncode: int | Ended, stderr: str) -> tuple[FailureReason, str]:
        """(reason, message) of a run that did not succeed."""
        if returncode is Ended.TIMEOUT:
            return (
                FailureReason.TIMEOUT,
                f"skopeo did not finish within {self.timeout:g}s and was killed\n{stderr}".strip(),
            )
        if returncode is Ended.STALLED:
            return (
                FailureReason.STALLED,
                f"skopeo moved no data for {self.stall_timeout:g}s (a registry stopped answering) and "
                f"was killed\n{stderr}".strip(),
            )
        if returncode < 0:
            return FailureReason.KILLED, f"skopeo was killed by signal {-returncode}\n{stderr}"
        return classify_error(stderr), stderr.strip()

    def _run_process(self, run: SkopeoRun, what: str = "") -> tuple[int | Ended, str]:
        """(exit code, or why it was ended, and stderr). The process gets its own process group so
        a timeout or a stall kills skopeo and anything it started; so does an interruption."""
        with (run.workdir / "stderr").open("w+", encoding="utf-8", errors="replace") as err:
            proc = subprocess.Popen(
                run.argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=err,
                env=run.env,
                start_new_session=True,
            )
            LIVE.add(proc)
            try:
                returncode = wait_watched(proc, what or run.argv[-1], self.timeout, self.stall_timeout)
            finally:
                kill_group(proc)
                LIVE.discard(proc)
            return returncode, _read_all(err)


def copy_fields(item: SyncItem) -> dict[str, Any]:
    """A copy's structured log fields (the JSON log format writes them as keys)."""
    return {
        "task": item.task,
        "source": str(item.source),
        "target": str(item.target),
        "digest": item.source_digest or item.source.digest,
        "platform": item.platform,
    }


def _read_all(handle: IO[str]) -> str:
    handle.flush()
    handle.seek(0)
    return handle.read()


def _read_digest(path: Path) -> str | None:
    try:
        digest = path.read_text(encoding="utf-8").strip()
    except OSError:
        return None
    return digest if valid_digest(digest) else None


def _secrets_of(creds: Credentials | None) -> list[str]:
    if creds is None:
        return []
    return secret_forms(creds.username, creds.password) + secret_forms(None, creds.identity_token)


def _with_auth_hint(result: CopyResult, *sides: tuple[Endpoint, Credentials | None]) -> CopyResult:
    """A refused copy that went anonymous to a registry says which settings give credentials."""
    if result.reason != FailureReason.AUTH:
        return result
    source_refused = "initializing source" in (result.error or "")  # skopeo names the side it failed on
    refused = sides[:1] if source_refused else sides[1:]
    hosts = [endpoint.host for endpoint, credentials in refused if credentials is None]
    if not hosts:
        return result
    hint = f"{' and '.join(hosts)} used anonymously: {ANONYMOUS_HINT}"
    return dataclasses.replace(result, error=f"{result.error}\n{hint}" if result.error else hint)
