"""Credentials never leave their box: not in skopeo's argv or environment (read from /proc while it
runs), not in any log line of a verbose run (text and JSON), not in plan output or queue messages, not
in error messages; temporary auth files are 0600 and gone afterwards, also when a copy fails."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from regmirror.cli.main import main
from regmirror.config import load_config
from regmirror.redact import secret_forms
from regmirror.sync.run import plan_config, sync_config
from regmirror.sync.skopeo import SkopeoRelay

from tests.testbed import RegistryServer, catalog, get_manifest, manifest_digest, push_image, write_config
from tests.testbed.faultproxy import FaultProxy, Rule

REGMIRROR = str(Path(sys.executable).with_name("regmirror"))
BLOBS = r"/v2/.+/blobs/sha256:[0-9a-f]+"


def b64_json_auth(server: RegistryServer) -> str:
    body = json.dumps({"username": server.username, "password": server.password})
    return base64.b64encode(body.encode()).decode()


def all_secret_forms(*servers: RegistryServer) -> list[str]:
    forms: list[str] = []
    for server in servers:
        forms += secret_forms(server.username, server.password)
        forms.append(b64_json_auth(server))  # dregsy's config form carries the password too
    return forms


def leaks(text: str | bytes, secrets: list[str]) -> list[str]:
    data = text.encode() if isinstance(text, str) else text
    return [s for s in secrets if s.encode() in data]


@dataclass
class SkopeoWatch:
    """Polls /proc for skopeo processes whose argv names `marker` (our proxy's port: no other test's)."""

    marker: str
    seen: dict[int, tuple[list[str], bytes]] = field(default_factory=dict)
    authfiles: dict[str, tuple[int, int]] = field(default_factory=dict)  # path -> (file mode, dir mode)
    _stop: threading.Event = field(default_factory=threading.Event)

    def _scan(self) -> None:
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) in self.seen:
                continue
            try:
                argv = [
                    a.decode(errors="replace") for a in (entry / "cmdline").read_bytes().split(b"\0") if a
                ]
                if (
                    not argv
                    or os.path.basename(argv[0]) != "skopeo"
                    or not any(self.marker in a for a in argv)
                ):
                    continue
                environ = (entry / "environ").read_bytes()
            except OSError:
                continue
            self.seen[int(entry.name)] = (argv, environ)
            self._note_authfiles(argv)

    def _note_authfiles(self, argv: list[str]) -> None:
        for flag in ("--src-authfile", "--dest-authfile"):
            if flag in argv:
                path = Path(argv[argv.index(flag) + 1])
                try:
                    modes = (stat.S_IMODE(path.stat().st_mode), stat.S_IMODE(path.parent.stat().st_mode))
                except OSError:
                    continue
                self.authfiles[str(path)] = modes

    def run(self) -> None:
        while not self._stop.is_set():
            self._scan()
            time.sleep(0.005)

    def __enter__(self) -> SkopeoWatch:
        self._thread = threading.Thread(target=self.run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)


@pytest.fixture
def slow_auth_source(
    auth_registry: RegistryServer,
) -> Iterator[tuple[RegistryServer, FaultProxy, dict[str, str]]]:
    """An htpasswd registry with two images, behind a proxy that makes blob reads take a second
    (so each skopeo process lives long enough to be read from /proc)."""
    digests = {
        "team/app": push_image(auth_registry, "team/app", "1.0", platforms=["linux/amd64", "linux/arm64"]),
        "team/api": push_image(auth_registry, "team/api", "2.0"),
    }
    proxy = FaultProxy(auth_registry.host, rules=[Rule("slow", method="GET", path=BLOBS)], slow_seconds=1.0)
    yield auth_registry, proxy, digests
    proxy.stop()


def auth_config(tmp_path: Path, source_host: str, source: RegistryServer, target: RegistryServer) -> Path:
    return write_config(
        tmp_path,
        f"""
        tasks:
          - name: secure
            verbose: true
            source:
              registry: "{source_host}"
              insecure: true
              auth: {b64_json_auth(source)}
            target:
              registry: "{target.host}"
              auth: env:REGMIRROR_TEST_TARGET_AUTH
              ca-file: {target.ca_file}
            mappings:
              - from: regex:team/.*
        """,
    )


@pytest.mark.parametrize("log_format", ["json", "text"])
def test_sync_with_auth_leaks_nothing_to_argv_environment_or_logs(
    log_format: str,
    slow_auth_source: tuple[RegistryServer, FaultProxy, dict[str, str]],
    tls_registry: RegistryServer,
    tmp_path: Path,
) -> None:
    source, proxy, digests = slow_auth_source
    config = auth_config(tmp_path, proxy.host, source, tls_registry)
    secrets = all_secret_forms(source, tls_registry)
    env = {
        **os.environ,
        "REGMIRROR_TEST_TARGET_AUTH": f"{tls_registry.username}:{tls_registry.password}",
        "LOG_LEVEL": "DEBUG",
    }
    with SkopeoWatch(proxy.host) as watch:
        done = subprocess.run(
            [REGMIRROR, "sync", str(config), "-v", "--log-format", log_format, "--concurrency", "2"],
            capture_output=True,
            timeout=240,
            env=env,
            check=False,
        )
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    assert {
        repo: manifest_digest(tls_registry, repo, tag)
        for repo, tag in [("team/app", "1.0"), ("team/api", "2.0")]
    } == digests
    # skopeo ran, and we read it while it did: its argv and environment hold no credential
    assert len(watch.seen) >= 2
    for pid, (argv, environ) in watch.seen.items():
        assert leaks("\0".join(argv), secrets) == [], pid
        assert leaks(environ, secrets) == [], pid
        assert not any(a.startswith(("--creds", "--src-creds", "--dest-creds")) for a in argv)
        assert "--src-authfile" in argv and "--dest-authfile" in argv
    # auth files: private while in use, gone afterwards
    assert watch.authfiles and set(watch.authfiles.values()) == {(0o600, 0o700)}
    assert not any(Path(p).exists() for p in watch.authfiles)
    # every byte the run printed, debug logging on
    output = done.stdout + done.stderr
    assert leaks(output, secrets) == []
    lines = [line for line in done.stderr.decode().splitlines() if line.strip()]
    if log_format == "json":
        records = [json.loads(line) for line in lines]
        assert {"debug", "info"} <= {r["level"] for r in records}
    else:
        assert any(" DEBUG " in line for line in lines)
    assert sum("skopeo argv" in line for line in lines) == 2  # the argv is logged, redacted


def test_refused_credentials_error_names_the_user_never_the_password(
    auth_registry: RegistryServer,
    second_plain_registry: RegistryServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    push_image(auth_registry, "team/app", "1.0")
    wrong = json.dumps({"username": auth_registry.username, "password": "Wrong-Secret-Pa55"})
    config = write_config(
        tmp_path,
        f"""
        tasks:
          - name: t
            source:
              registry: "{auth_registry.host}"
              insecure: true
              auth: {base64.b64encode(wrong.encode()).decode()}
            target: {{registry: "{second_plain_registry.host}", insecure: true}}
            mappings:
              - from: team/app
                tags: ["1.0"]
        """,
    )
    code = main(["sync", str(config), "--json", "-v"])
    out, err = capsys.readouterr()
    assert code == 1
    assert "refused" in out + err and str(auth_registry.username) in out + err
    assert leaks(out + err, secret_forms(auth_registry.username, "Wrong-Secret-Pa55")) == []
    assert catalog(second_plain_registry) == []


def test_plan_output_and_queue_messages_hold_no_credentials(
    auth_registry: RegistryServer,
    tls_registry: RegistryServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    push_image(auth_registry, "team/app", "1.0")
    push_image(auth_registry, "team/api", "2.0")
    monkeypatch.setenv("REGMIRROR_TEST_TARGET_AUTH", f"{tls_registry.username}:{tls_registry.password}")
    path = auth_config(tmp_path, auth_registry.host, auth_registry, tls_registry)
    secrets = all_secret_forms(auth_registry, tls_registry)
    for args in (["plan", str(path)], ["plan", str(path), "--json"], ["sync", str(path), "--dry-run", "-v"]):
        assert main(args) == 0
        out, err = capsys.readouterr()
        assert "team/app" in out
        assert leaks(out + err, secrets) == [], args
    plan = plan_config(load_config(path))
    messages = [planned.item.to_message() for planned in plan.items]
    assert len(messages) == 2
    assert leaks("\n".join(messages), secrets) == []
    assert all(json.loads(m)["source"]["registry"] == auth_registry.host for m in messages)
    assert catalog(tls_registry) == []


def test_auth_files_private_and_removed_when_copies_fail(
    auth_registry: RegistryServer,
    tls_registry: RegistryServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One copy succeeds, one fails after skopeo started (a layer is gone at the source): no auth
    file outlives its copy, none was ever readable by others. Then the target refuses the
    credentials: the failure names no password."""
    push_image(auth_registry, "team/ok", "1.0", seed="ok")
    push_image(auth_registry, "team/broken", "1.0", seed="broken", layer_size=4096)
    layer = json.loads(get_manifest(auth_registry, "team/broken", "1.0")[0])["layers"][0]["digest"]
    hex_digest = layer.split(":")[1]
    next(Path(auth_registry.storage_dir).rglob(f"blobs/sha256/{hex_digest[:2]}/{hex_digest}/data")).unlink()
    monkeypatch.setenv("REGMIRROR_TEST_TARGET_AUTH", f"{tls_registry.username}:{tls_registry.password}")
    config = load_config(auth_config(tmp_path, auth_registry.host, auth_registry, tls_registry))
    work = tmp_path / "relay-tmp"
    work.mkdir()
    seen: dict[str, tuple[int, int]] = {}
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            paths = []
            with contextlib.suppress(OSError):  # a work dir removed while glob lists it
                paths = list(work.glob("regmirror-relay-*/*-auth.json"))
            for path in paths:
                with contextlib.suppress(OSError):  # removed between glob and stat
                    seen[str(path)] = (
                        stat.S_IMODE(path.stat().st_mode),
                        stat.S_IMODE(path.parent.stat().st_mode),
                    )
            time.sleep(0.002)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        report = sync_config(config, concurrency=2, relay=SkopeoRelay(tmpdir=str(work), retry_times=0))
    finally:
        stop.set()
        watcher.join(5)
    reasons = sorted(r.reason for r in report.results)
    assert reasons == ["copied", "not-found"]
    assert seen and set(seen.values()) == {(0o600, 0o700)}
    assert list(work.iterdir()) == []

    # the target refuses the credentials: the digest check fails already, and says so without them
    monkeypatch.setenv("REGMIRROR_TEST_TARGET_AUTH", f"{tls_registry.username}:Refused-Pa55")
    config = load_config(auth_config(tmp_path, auth_registry.host, auth_registry, tls_registry))
    seen.clear()
    report = sync_config(config, concurrency=1, relay=SkopeoRelay(tmpdir=str(work), retry_times=0))
    assert report.counts()["failed"] >= 1
    assert list(work.iterdir()) == []
    assert all("Refused-Pa55" not in (r.error or "") for r in report.results)
    assert all("Refused-Pa55" not in (p.note or "") for p in report.plan.items)
