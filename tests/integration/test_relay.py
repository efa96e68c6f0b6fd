"""SkopeoRelay with real skopeo 1.9 against real distribution registries from tests/testbed."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import stat
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from regmirror.model import CopyResult, ImageRef, SyncItem
from regmirror.redact import secret_forms
from regmirror.registries.credentials import Credentials
from regmirror.registries.endpoint import Endpoint
from regmirror.sync.pool import run_items
from regmirror.sync.skopeo import SkopeoRelay
from regmirror.sync.workdirs import abort_running

from tests.testbed import RegistryServer, get_manifest, manifest_digest, push_image

PLATFORMS = ["linux/amd64", "linux/arm64", "linux/arm/v7"]


def endpoint_for(server: RegistryServer, *, with_ca: bool = True) -> Endpoint:
    if server.tls:
        return Endpoint(server.host, ca_file=server.ca_file if with_ca else None)
    return Endpoint(server.host, insecure=True, verify_tls=False, plain_http=True)


def creds_for(server: RegistryServer) -> Credentials | None:
    auth = server.basic_auth
    return Credentials(*auth) if auth else None


def make_item(
    source: RegistryServer | str,
    target: RegistryServer | str,
    repo: str,
    tag: str,
    *,
    digest: str | None = None,
    platform: str = "all",
    target_repo: str | None = None,
) -> SyncItem:
    source_host = source if isinstance(source, str) else source.host
    target_host = target if isinstance(target, str) else target.host
    return SyncItem(
        task="relay-test",
        source=ImageRef(source_host, repo, tag),
        target=ImageRef(target_host, target_repo or f"mirror/{repo}", tag),
        platform=platform,
        source_digest=digest,
    )


@pytest.fixture
def relay(tmp_path: Path) -> SkopeoRelay:
    work = tmp_path / "relay-tmp"
    work.mkdir()
    return SkopeoRelay(tmpdir=str(work), timeout=120)


def copy(
    relay: SkopeoRelay, item: SyncItem, source: RegistryServer, target: RegistryServer, **kw: int
) -> CopyResult:
    return relay.copy(
        item, endpoint_for(source), endpoint_for(target), creds_for(source), creds_for(target), **kw
    )


def assert_no_leftovers(relay: SkopeoRelay) -> None:
    assert list(Path(relay.tmpdir).iterdir()) == []


# --- copies -----------------------------------------------------------------------------------------


def test_single_arch_copy_keeps_digest(
    relay: SkopeoRelay, plain_registry: RegistryServer, second_plain_registry: RegistryServer
) -> None:
    digest = push_image(plain_registry, "team/app", "1.0", layers=2)
    item = make_item(plain_registry, second_plain_registry, "team/app", "1.0", digest=digest)
    result = copy(relay, item, plain_registry, second_plain_registry, size_hint=1234)
    assert (result.status, result.reason, result.error) == ("copied", "copied", None)
    assert result.source_digest == digest
    assert result.target_digest == digest
    assert manifest_digest(second_plain_registry, "mirror/team/app", "1.0") == digest
    assert result.bytes == 1234
    assert result.attempts == 1
    assert result.duration > 0
    assert_no_leftovers(relay)


def test_source_is_pulled_by_digest_and_pushed_by_tag(
    relay: SkopeoRelay, plain_registry: RegistryServer, second_plain_registry: RegistryServer
) -> None:
    digest = push_image(plain_registry, "team/app", "2.0")
    mark = plain_registry.mark()
    result = copy(
        relay,
        make_item(plain_registry, second_plain_registry, "team/app", "2.0", digest=digest),
        plain_registry,
        second_plain_registry,
    )
    assert result.status == "copied"
    manifest_reads = plain_registry.requests("GET", r"/v2/team/app/manifests/.+", since=mark)
    assert {r.path.rsplit("/", 1)[1] for r in manifest_reads} == {digest}
    pushes = second_plain_registry.requests("PUT", r"/v2/mirror/team/app/manifests/.+")
    assert [r.path.rsplit("/", 1)[1] for r in pushes] == ["2.0"]


def test_source_without_digest_is_pulled_by_tag(
    relay: SkopeoRelay, plain_registry: RegistryServer, second_plain_registry: RegistryServer
) -> None:
    digest = push_image(plain_registry, "team/app", "3.0")
    mark = plain_registry.mark()
    item = make_item(plain_registry, second_plain_registry, "team/app", "3.0")
    result = copy(relay, item, plain_registry, second_plain_registry)
    assert (result.status, result.target_digest, result.source_digest) == ("copied", digest, None)
    manifest_reads = plain_registry.requests("GET", r"/v2/team/app/manifests/.+", since=mark)
    assert {r.path.rsplit("/", 1)[1] for r in manifest_reads} == {"3.0"}


@pytest.mark.parametrize("oci", [False, True], ids=["docker-list", "oci-index"])
def test_all_platforms_keep_the_index_digest(
    relay: SkopeoRelay, plain_registry: RegistryServer, second_plain_registry: RegistryServer, oci: bool
) -> None:
    index_digest = push_image(plain_registry, "multi/app", "1.0", platforms=PLATFORMS, oci=oci)
    item = make_item(plain_registry, second_plain_registry, "multi/app", "1.0", digest=index_digest)
    result = copy(relay, item, plain_registry, second_plain_registry)
    assert result.status == "copied", result.error
    assert result.target_digest == index_digest
    assert manifest_digest(second_plain_registry, "mirror/multi/app", "1.0") == index_digest
    body, _, _ = get_manifest(plain_registry, "multi/app", index_digest)
    for entry in json.loads(body)["manifests"]:
        assert manifest_digest(second_plain_registry, "mirror/multi/app", entry["digest"]) == entry["digest"]


@pytest.mark.parametrize(
    ("platform", "oci"),
    [("linux/arm64", False), ("linux/arm/v7", False), ("linux/amd64", True), ("linux/arm/v7", True)],
)
def test_one_platform_yields_that_platforms_manifest(
    relay: SkopeoRelay,
    plain_registry: RegistryServer,
    second_plain_registry: RegistryServer,
    platform: str,
    oci: bool,
) -> None:
    index_digest = push_image(plain_registry, "multi/app", "1.0", platforms=PLATFORMS, oci=oci)
    body, _, _ = get_manifest(plain_registry, "multi/app", index_digest)
    wanted = next(
        entry["digest"]
        for entry in json.loads(body)["manifests"]
        if "/".join(
            filter(
                None,
                [
                    entry["platform"]["os"],
                    entry["platform"]["architecture"],
                    entry["platform"].get("variant"),
                ],
            )
        )
        == platform
    )
    item = make_item(
        plain_registry, second_plain_registry, "multi/app", "1.0", digest=index_digest, platform=platform
    )
    result = copy(relay, item, plain_registry, second_plain_registry)
    assert result.status == "copied", result.error
    assert result.source_digest == index_digest
    assert result.target_digest == wanted
    assert manifest_digest(second_plain_registry, "mirror/multi/app", "1.0") == wanted
    _, media_type, _ = get_manifest(second_plain_registry, "mirror/multi/app", "1.0")
    assert "index" not in media_type
    assert "list" not in media_type


def test_missing_platform_is_not_found(
    relay: SkopeoRelay, plain_registry: RegistryServer, second_plain_registry: RegistryServer
) -> None:
    digest = push_image(plain_registry, "multi/app", "1.0", platforms=PLATFORMS)
    item = make_item(
        plain_registry, second_plain_registry, "multi/app", "1.0", digest=digest, platform="linux/s390x"
    )
    result = copy(relay, item, plain_registry, second_plain_registry)
    assert (result.status, result.reason) == ("failed", "not-found")
    assert "s390x" in (result.error or "")


def test_tagless_item_is_pushed_by_digest(
    relay: SkopeoRelay, plain_registry: RegistryServer, second_plain_registry: RegistryServer
) -> None:
    digest = push_image(plain_registry, "multi/app", "1.0", platforms=PLATFORMS)
    item = SyncItem(
        task="relay-test",
        source=ImageRef(plain_registry.host, "multi/app", None, digest),
        target=ImageRef(second_plain_registry.host, "mirror/pinned", None, None),
    )
    result = copy(relay, item, plain_registry, second_plain_registry)
    assert (result.status, result.target_digest) == ("copied", digest)
    assert manifest_digest(second_plain_registry, "mirror/pinned", digest) == digest


# --- authentication and TLS -------------------------------------------------------------------------


def test_htpasswd_source_to_tls_target_with_ca_file(
    relay: SkopeoRelay, auth_registry: RegistryServer, tls_registry: RegistryServer
) -> None:
    digest = push_image(auth_registry, "secure/app", "1.0", platforms=PLATFORMS[:2])
    item = make_item(auth_registry, tls_registry, "secure/app", "1.0", digest=digest)
    result = copy(relay, item, auth_registry, tls_registry)
    assert result.status == "copied", result.error
    assert manifest_digest(tls_registry, "mirror/secure/app", "1.0") == digest
    assert_no_leftovers(relay)


def test_token_auth_source(
    relay: SkopeoRelay, token_registry: RegistryServer, plain_registry: RegistryServer
) -> None:
    digest = push_image(token_registry, "tok/app", "1.0")
    item = make_item(token_registry, plain_registry, "tok/app", "1.0", digest=digest)
    result = copy(relay, item, token_registry, plain_registry)
    assert result.status == "copied", result.error
    assert manifest_digest(plain_registry, "mirror/tok/app", "1.0") == digest
    assert token_registry.token_server is not None
    assert token_registry.token_server.token_requests()


def test_the_hosts_certs_folder_is_used(
    tmp_path: Path, tls_registry: RegistryServer, plain_registry: RegistryServer
) -> None:
    assert tls_registry.ca_file is not None
    certs_root = tmp_path / "certs.d"
    (certs_root / "127.0.0.1").mkdir(parents=True)  # dregsy: port dropped from the folder name
    shutil.copyfile(tls_registry.ca_file, certs_root / "127.0.0.1" / "ca.crt")
    work = tmp_path / "work"
    work.mkdir()
    relay = SkopeoRelay(tmpdir=str(work), timeout=120)
    digest = push_image(plain_registry, "team/app", "1.0")
    item = make_item(plain_registry, tls_registry, "team/app", "1.0", digest=digest)
    target = Endpoint(tls_registry.host, cert_dir=str(certs_root / "127.0.0.1"))
    result = relay.copy(item, endpoint_for(plain_registry), target, None, creds_for(tls_registry))
    assert result.status == "copied", result.error
    assert manifest_digest(tls_registry, "mirror/team/app", "1.0") == digest


def test_unknown_ca_is_a_tls_failure(
    relay: SkopeoRelay, plain_registry: RegistryServer, tls_registry: RegistryServer
) -> None:
    digest = push_image(plain_registry, "team/app", "1.0")
    item = make_item(plain_registry, tls_registry, "team/app", "1.0", digest=digest)
    result = relay.copy(
        item,
        endpoint_for(plain_registry),
        endpoint_for(tls_registry, with_ca=False),
        None,
        creds_for(tls_registry),
    )
    assert (result.status, result.reason) == ("failed", "tls")
    assert "x509" in (result.error or "")
    assert tls_registry.password is not None
    assert tls_registry.password not in (result.error or "")


def test_skip_tls_verify_reaches_a_tls_registry(
    relay: SkopeoRelay, plain_registry: RegistryServer, tls_registry: RegistryServer
) -> None:
    digest = push_image(plain_registry, "team/app", "1.0")
    item = make_item(plain_registry, tls_registry, "team/app", "1.0", digest=digest)
    target = Endpoint(tls_registry.host, verify_tls=False)
    result = relay.copy(item, endpoint_for(plain_registry), target, None, creds_for(tls_registry))
    assert result.status == "copied", result.error


def test_wrong_password_is_an_auth_failure_without_the_password(
    relay: SkopeoRelay, auth_registry: RegistryServer, plain_registry: RegistryServer
) -> None:
    digest = push_image(auth_registry, "secure/app", "1.0")
    wrong = Credentials(auth_registry.username or "", "Wrong-Password-123")
    item = make_item(auth_registry, plain_registry, "secure/app", "1.0", digest=digest)
    result = relay.copy(item, endpoint_for(auth_registry), endpoint_for(plain_registry), wrong, None)
    assert (result.status, result.reason) == ("failed", "auth")
    for secret in secret_forms(wrong.username, wrong.password):
        assert secret not in (result.error or "")
    assert_no_leftovers(relay)


def test_missing_source_is_not_found_without_the_password(
    relay: SkopeoRelay, auth_registry: RegistryServer, plain_registry: RegistryServer
) -> None:
    push_image(auth_registry, "secure/app", "1.0")
    item = make_item(auth_registry, plain_registry, "secure/absent", "1.0")
    result = copy(relay, item, auth_registry, plain_registry)
    assert (result.status, result.reason) == ("failed", "not-found")
    assert "manifest unknown" in (result.error or "")
    creds = creds_for(auth_registry)
    assert creds is not None
    for secret in secret_forms(creds.username, creds.password):
        assert secret not in (result.error or "")
    assert manifest_digest(plain_registry, "mirror/secure/absent", "1.0") is None
    assert_no_leftovers(relay)


def test_pool_of_relays_copies_many_items(
    relay: SkopeoRelay, plain_registry: RegistryServer, second_plain_registry: RegistryServer
) -> None:
    digests = {f"r{n}": push_image(plain_registry, f"pool/r{n}", "1.0") for n in range(6)}
    items = [
        make_item(plain_registry, second_plain_registry, f"pool/{name}", "1.0", digest=digest)
        for name, digest in digests.items()
    ]
    items.append(make_item(plain_registry, second_plain_registry, "pool/absent", "1.0"))
    results = run_items(
        items,
        lambda item: copy(relay, item, plain_registry, second_plain_registry),
        concurrency=3,
        on_error=CopyResult.failure,
    )
    by_repo = {r.item.source.repository: r for r in results}
    assert by_repo.pop("pool/absent").reason == "not-found"
    assert {repo: r.target_digest for repo, r in by_repo.items()} == {
        f"pool/{name}": digest for name, digest in digests.items()
    }
    assert_no_leftovers(relay)


# --- secrets while skopeo runs, and timeouts ---------------------------------------------------------


class SlowProxy:
    """TCP proxy on 127.0.0.1 that forwards to a registry at a throttled rate: a slow link."""

    def __init__(self, upstream: str, bytes_per_second: int) -> None:
        host, port = upstream.rsplit(":", 1)
        self.upstream = (host, int(port))
        self.chunk = max(1024, bytes_per_second // 20)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.host = f"127.0.0.1:{self.listener.getsockname()[1]}"
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.upstream)
            for src, dst in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(self.chunk):
                dst.sendall(data)
                time.sleep(0.05)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self.closed = True
        self.listener.close()


class BlackHole:
    """Accepts connections and never answers: skopeo waits until killed."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.host = f"127.0.0.1:{self.listener.getsockname()[1]}"
        self.held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.held.append(conn)

    def close(self) -> None:
        self.listener.close()
        for conn in self.held:
            conn.close()


@pytest.fixture
def black_hole() -> Iterator[BlackHole]:
    hole = BlackHole()
    yield hole
    hole.close()


def skopeo_processes_under(workdir_root: str) -> dict[int, list[str]]:
    """Running skopeo processes whose argv mentions `workdir_root` (ours, not another test's)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        args = [a.decode(errors="replace") for a in argv if a]
        if args and os.path.basename(args[0]) == "skopeo" and any(workdir_root in a for a in args):
            found[int(entry.name)] = args
    return found


def watch_skopeo(workdir_root: str, done: threading.Event) -> tuple[int, list[str], bytes]:
    """Wait for our skopeo process; return its pid, argv and environment as read from /proc."""
    while not done.is_set():
        for pid, argv in skopeo_processes_under(workdir_root).items():
            try:
                environ = Path(f"/proc/{pid}/environ").read_bytes()
            except OSError:
                continue
            return pid, argv, environ
        time.sleep(0.005)
    raise AssertionError("skopeo finished before it could be observed")


def run_in_thread(fn: Callable[[], CopyResult]) -> tuple[threading.Thread, list[CopyResult], threading.Event]:
    results: list[CopyResult] = []
    done = threading.Event()

    def target() -> None:
        try:
            results.append(fn())
        finally:
            done.set()

    thread = threading.Thread(target=target)
    thread.start()
    return thread, results, done


def test_password_never_in_cmdline_or_environment_and_authfile_private(
    relay: SkopeoRelay, auth_registry: RegistryServer, plain_registry: RegistryServer
) -> None:
    digest = push_image(auth_registry, "big/app", "1.0", layer_size=3 * 1024 * 1024)
    proxy = SlowProxy(auth_registry.host, bytes_per_second=2 * 1024 * 1024)
    try:
        creds = creds_for(auth_registry)
        assert creds is not None
        source = Endpoint(proxy.host, insecure=True, verify_tls=False, plain_http=True)
        item = make_item(proxy.host, plain_registry, "big/app", "1.0", digest=digest)
        thread, results, done = run_in_thread(
            lambda: relay.copy(item, source, endpoint_for(plain_registry), creds, None)
        )
        pid, argv, environ = watch_skopeo(relay.tmpdir, done)
        authfile = Path(argv[argv.index("--src-authfile") + 1])
        mode = stat.S_IMODE(authfile.stat().st_mode)
        dir_mode = stat.S_IMODE(authfile.parent.stat().st_mode)
        stored = json.loads(authfile.read_text())
        still_running = Path(f"/proc/{pid}").exists() and not done.is_set()
        thread.join(120)
    finally:
        proxy.close()
    assert still_running  # the checks above happened while skopeo was copying
    cmdline = "\0".join(argv)
    for secret in secret_forms(creds.username, creds.password):
        assert secret not in cmdline
        assert secret.encode() not in environ
    assert not any(a.split("=")[0] in ("--creds", "--src-creds", "--dest-creds") for a in argv)
    assert (mode, dir_mode) == (0o600, 0o700)
    assert list(stored["auths"]) == [proxy.host]
    assert results[0].status == "copied", results[0].error
    assert results[0].target_digest == digest
    assert not authfile.exists()
    assert not authfile.parent.exists()
    assert_no_leftovers(relay)


def test_timeout_kills_skopeo_and_cleans_up(
    tmp_path: Path, black_hole: BlackHole, plain_registry: RegistryServer
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    relay = SkopeoRelay(tmpdir=str(work), timeout=1.5, retry_times=0)
    creds = Credentials("someone", "Timeout-Secret-42")
    source = Endpoint(black_hole.host, insecure=True, verify_tls=False, plain_http=True)
    item = make_item(black_hole.host, plain_registry, "team/app", "1.0")
    thread, results, done = run_in_thread(
        lambda: relay.copy(item, source, endpoint_for(plain_registry), creds, None)
    )
    pid, argv, _ = watch_skopeo(str(work), done)
    authfile = Path(argv[argv.index("--src-authfile") + 1])
    assert authfile.exists()
    thread.join(60)
    result = results[0]
    assert (result.status, result.reason) == ("failed", "timeout")
    assert 1.5 <= result.duration < 10
    assert "killed" in (result.error or "")
    assert "Timeout-Secret-42" not in (result.error or "")
    assert not Path(f"/proc/{pid}").exists()  # killed and reaped
    assert not authfile.exists()
    assert list(work.iterdir()) == []


def test_abort_running_kills_skopeo_and_removes_auth_files(
    tmp_path: Path, black_hole: BlackHole, plain_registry: RegistryServer
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    relay = SkopeoRelay(tmpdir=str(work), timeout=120, retry_times=0)
    source = Endpoint(black_hole.host, insecure=True, verify_tls=False, plain_http=True)
    item = make_item(black_hole.host, plain_registry, "team/app", "1.0")
    creds = Credentials("someone", "Abort-Secret-42")
    thread, results, done = run_in_thread(
        lambda: relay.copy(item, source, endpoint_for(plain_registry), creds, None)
    )
    pid, argv, _ = watch_skopeo(str(work), done)
    authfile = Path(argv[argv.index("--src-authfile") + 1])
    started = time.monotonic()
    # The process shows in /proc a moment before the relay has registered it: give it that moment.
    killed = abort_running()
    while killed == 0 and time.monotonic() - started < 5:
        time.sleep(0.02)
        killed = abort_running()
    assert killed == 1
    thread.join(30)
    result = results[0]
    assert (result.status, result.reason) == ("failed", "killed")
    assert time.monotonic() - started < 10
    assert "signal 9" in (result.error or "")
    assert not Path(f"/proc/{pid}").exists()
    assert not authfile.exists()
    assert list(work.iterdir()) == []


def test_a_long_copy_is_never_silent_and_ends_at_its_timeout(
    tmp_path: Path,
    plain_registry: RegistryServer,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A copy that never finishes (stall detection off): heartbeat lines while it runs, killed at the
    timeout."""
    from regmirror.sync import stalls

    slow = tmp_path / "stalled-skopeo"
    slow.write_text("#!/bin/sh\nexec sleep 300\n")
    slow.chmod(0o755)
    monkeypatch.setattr(stalls, "HEARTBEAT_SECONDS", 0.3)
    work = tmp_path / "work"
    work.mkdir()
    relay = SkopeoRelay(binary=str(slow), tmpdir=str(work), timeout=1.3, stall_timeout=0)
    item = make_item(plain_registry, plain_registry, "team/app", "1.0")
    with caplog.at_level("INFO", "regmirror.relay"):
        result = relay.copy(item, endpoint_for(plain_registry), endpoint_for(plain_registry), None, None)
    beats = [r.getMessage() for r in caplog.records if "still running after" in r.getMessage()]
    assert len(beats) >= 3
    assert beats[0].startswith(f"copy {item.target} still running after 0 s (")
    assert beats[0].endswith("moved, timeout 1.3 s)")
    assert (result.status, result.reason) == ("failed", "timeout")
    assert list(work.iterdir()) == []


def _script(tmp_path: Path, name: str, body: str) -> str:
    path = tmp_path / name
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)
    return str(path)


def test_a_copy_that_moves_no_data_is_killed_as_stalled_long_before_its_timeout(
    tmp_path: Path, plain_registry: RegistryServer, caplog: pytest.LogCaptureFixture
) -> None:
    waiting = _script(tmp_path, "waiting-skopeo", "exec sleep 300")  # waits on nothing, moves nothing
    work = tmp_path / "work"
    work.mkdir()
    relay = SkopeoRelay(binary=waiting, tmpdir=str(work), timeout=120, stall_timeout=1.0)
    item = make_item(plain_registry, plain_registry, "team/app", "1.0")
    with caplog.at_level("INFO", "regmirror.relay"):
        result = relay.copy(item, endpoint_for(plain_registry), endpoint_for(plain_registry), None, None)
    assert (result.status, result.reason) == ("failed", "stalled")
    assert result.error is not None and "moved no data for 1s" in result.error
    assert result.duration < 60  # the timeout (120 s) did not end it
    assert any("killing it as stalled" in r.getMessage() for r in caplog.records)
    assert list(work.iterdir()) == []


def test_a_copy_that_keeps_moving_data_is_not_stalled(tmp_path: Path, plain_registry: RegistryServer) -> None:
    """Bytes moving (read from /dev/zero, written to /dev/null) are progress: only the timeout ends it."""
    busy = _script(tmp_path, "busy-skopeo", "exec dd if=/dev/zero of=/dev/null bs=64k")
    relay = SkopeoRelay(binary=busy, tmpdir=str(tmp_path), timeout=3.0, stall_timeout=1.0)
    item = make_item(plain_registry, plain_registry, "team/app", "1.0")
    result = relay.copy(item, endpoint_for(plain_registry), endpoint_for(plain_registry), None, None)
    assert (result.status, result.reason) == ("failed", "timeout")
