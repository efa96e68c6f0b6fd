"""SkopeoRelay argv, auth files, cert dirs, environment, redaction and error classification."""

from __future__ import annotations

import base64
import json
import os
import socket
import stat
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from regmirror.model import CopyResult, ImageRef, SyncItem
from regmirror.redact import MASK, redact, redact_argv, secret_forms, tail
from regmirror.registries.credentials import Credentials
from regmirror.registries.endpoint import Endpoint
from regmirror.sync import skopeo as relay_module
from regmirror.sync.skopeo import SkopeoRelay, SkopeoRun
from regmirror.sync.skopeo_args import InvalidReference
from regmirror.sync.skopeo_errors import classify_error, count_attempts

DIGEST = "sha256:" + "ab" * 32
TARGET_DIGEST = "sha256:" + "cd" * 32
STDERR_SAMPLES = Path(__file__).parent / "data" / "skopeo-1.9.3-stderr.txt"
PASSWORD = "s3cr3t-P@ss/with+chars"
SRC = Endpoint("127.0.0.1:5000", insecure=True, verify_tls=False, plain_http=True)
DST = Endpoint("mirror.example:5443")
SRC_CREDS = Credentials("alice", PASSWORD)
DST_CREDS = Credentials("bob", "other-Pa55")


def make_item(
    *,
    repo: str = "team/app",
    tag: str | None = "1.0",
    digest: str | None = DIGEST,
    platform: str = "all",
    target_repo: str = "mirror/team/app",
    target_tag: str | None = "1.0",
    target_digest: str | None = None,
) -> SyncItem:
    return SyncItem(
        task="t",
        source=ImageRef("127.0.0.1:5000", repo, tag, None),
        target=ImageRef("mirror.example:5443", target_repo, target_tag, target_digest),
        platform=platform,
        source_digest=digest,
    )


@pytest.fixture
def relay(tmp_path: Path) -> SkopeoRelay:
    work = tmp_path / "work"
    work.mkdir()
    return SkopeoRelay(tmpdir=str(work), policy_file="/etc/containers/policy.json")


@pytest.fixture
def run(relay: SkopeoRelay) -> Iterator[SkopeoRun]:
    with relay.prepare(make_item(), SRC, DST, SRC_CREDS, DST_CREDS) as prepared:
        yield prepared


def value_after(argv: list[str], option: str) -> str:
    return argv[argv.index(option) + 1]


def copy_section(argv: list[str]) -> list[str]:
    return argv[argv.index("copy") + 1 :]


# --- references and copy mode -------------------------------------------------------------------


def test_all_platforms_copies_index_by_digest_and_pushes_by_tag(run: SkopeoRun) -> None:
    argv = run.argv
    assert argv[-2:] == [
        f"docker://127.0.0.1:5000/team/app@{DIGEST}",
        "docker://mirror.example:5443/mirror/team/app:1.0",
    ]
    assert argv[-3] == "--"  # end of options: references are positional whatever they hold
    assert "--all" in copy_section(argv)
    assert "--preserve-digests" in copy_section(argv)
    assert not any(a.startswith("--override-") for a in argv)
    assert value_after(argv, "--retry-times") == "2"
    assert value_after(argv, "--digestfile") == str(run.digest_file)
    assert run.digest_file.parent == run.workdir


def test_source_without_digest_is_pulled_by_tag(relay: SkopeoRelay) -> None:
    with relay.prepare(make_item(digest=None), SRC, DST, None, None) as run:
        assert run.argv[-2] == "docker://127.0.0.1:5000/team/app:1.0"


def test_source_digest_from_image_ref_is_used(relay: SkopeoRelay) -> None:
    item = make_item(digest=None)
    item = SyncItem(item.task, item.source.with_digest(DIGEST), item.target, source_digest=None)
    with relay.prepare(item, SRC, DST, None, None) as run:
        assert run.argv[-2] == f"docker://127.0.0.1:5000/team/app@{DIGEST}"


@pytest.mark.parametrize(
    ("platform", "expected"),
    [
        ("linux/arm64", ["--override-os=linux", "--override-arch=arm64"]),
        ("linux/arm/v7", ["--override-os=linux", "--override-arch=arm", "--override-variant=v7"]),
        ("windows/amd64", ["--override-os=windows", "--override-arch=amd64"]),
        ("linux", ["--override-os=linux"]),  # dregsy accepts the OS alone
    ],
)
def test_one_platform_uses_global_overrides_without_all(
    relay: SkopeoRelay, platform: str, expected: list[str]
) -> None:
    with relay.prepare(make_item(platform=platform), SRC, DST, None, None) as run:
        argv = run.argv
        copy_at = argv.index("copy")
        overrides = [a for a in argv if a.startswith("--override-")]
        assert overrides == expected
        assert all(argv.index(a) < copy_at for a in overrides)  # global options go before `copy`
        assert "--all" not in argv
        assert "--preserve-digests" in copy_section(argv)


def test_tagless_target_is_pushed_by_digest(relay: SkopeoRelay) -> None:
    item = make_item(target_tag=None)
    with relay.prepare(item, SRC, DST, None, None) as run:
        assert run.argv[-1] == f"docker://mirror.example:5443/mirror/team/app@{DIGEST}"
    item = make_item(target_tag=None, platform="linux/amd64", target_digest=TARGET_DIGEST)
    with relay.prepare(item, SRC, DST, None, None) as run:
        assert run.argv[-1] == f"docker://mirror.example:5443/mirror/team/app@{TARGET_DIGEST}"


def test_docker_hub_names_and_authfile_key(relay: SkopeoRelay) -> None:
    hub = Endpoint("registry.hub.docker.com")
    item = make_item(repo="nginx", digest=None, tag="1.25")
    with relay.prepare(item, hub, DST, SRC_CREDS, None) as run:
        assert run.argv[-2] == "docker://docker.io/library/nginx:1.25"
        auth = json.loads(Path(value_after(run.argv, "--src-authfile")).read_text())
        assert list(auth["auths"]) == ["docker.io"]


@pytest.mark.parametrize(
    "changes",
    [
        {"repo": "Team/App"},
        {"repo": "-rm"},
        {"repo": "team//app"},
        {"repo": "team/app --all"},
        {"digest": None, "tag": "--insecure-policy"},
        {"digest": None, "tag": "-x"},
        {"digest": None, "tag": "a" * 129},
        {"digest": None, "tag": None},
        {"digest": "sha256:xyz"},
        {"digest": "--all"},
        {"target_tag": "bad tag"},
        {"target_repo": "mirror/../x"},
        {"target_tag": None, "platform": "linux/amd64"},  # no digest to push by
        {"platform": "linux/arm/v7/x"},
        {"platform": "linux/amd64/v8/extra"},
        {"platform": "--all/amd64"},
        {"platform": "linux/AMD64"},
    ],
)
def test_invalid_parts_never_reach_skopeo(tmp_path: Path, changes: dict[str, str | None]) -> None:
    work = tmp_path / "work"
    work.mkdir()
    relay = SkopeoRelay(tmpdir=str(work), binary=str(tmp_path / "must-not-run"))
    item = make_item(**changes)  # type: ignore[arg-type]
    with pytest.raises(InvalidReference), relay.prepare(item, SRC, DST, SRC_CREDS, None):
        pass
    result = relay.copy(item, SRC, DST, SRC_CREDS, None)
    assert (result.status, result.reason, result.attempts) == ("failed", "invalid-reference", 0)
    assert list(work.iterdir()) == []  # nothing written: validation comes first


def test_invalid_host_is_rejected(relay: SkopeoRelay) -> None:
    with pytest.raises(InvalidReference), relay.prepare(make_item(), Endpoint("--x"), DST, None, None):
        pass


# --- TLS --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("endpoint", "verify"),
    [
        (Endpoint("r.example"), "true"),
        (Endpoint("r.example", verify_tls=False), "false"),
        (Endpoint("r.example", insecure=True), "false"),
        (Endpoint("r.example", plain_http=True), "false"),
        (Endpoint("r.example", insecure=True, verify_tls=False, plain_http=True), "false"),
    ],
)
def test_tls_verify_flags(relay: SkopeoRelay, endpoint: Endpoint, verify: str) -> None:
    with relay.prepare(make_item(), endpoint, endpoint, None, None) as run:
        assert f"--src-tls-verify={verify}" in run.argv
        assert f"--dest-tls-verify={verify}" in run.argv
        assert "--src-cert-dir" not in run.argv
        assert "--dest-cert-dir" not in run.argv


def test_ca_file_becomes_private_cert_dir(relay: SkopeoRelay, tmp_path: Path) -> None:
    ca = tmp_path / "my-ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    target = Endpoint("mirror.example:5443", ca_file=str(ca))
    with relay.prepare(make_item(), SRC, target, None, None) as run:
        cert_dir = Path(value_after(run.argv, "--dest-cert-dir"))
        assert cert_dir.parent == run.workdir
        assert [p.name for p in cert_dir.iterdir()] == ["ca.crt"]  # skopeo reads only *.crt
        assert (cert_dir / "ca.crt").read_text() == ca.read_text()
        assert "--src-cert-dir" not in run.argv
    assert not cert_dir.exists()


def test_ca_file_is_ignored_when_not_verifying(relay: SkopeoRelay, tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("x")
    source = Endpoint("r.example", verify_tls=False, ca_file=str(ca))
    with relay.prepare(make_item(), source, DST, None, None) as run:
        assert "--src-cert-dir" not in run.argv
        assert "--src-tls-verify=false" in run.argv


def test_the_hosts_certs_folder_goes_to_skopeo(tmp_path: Path) -> None:
    folder = tmp_path / "certs.d" / "mirror.example"
    folder.mkdir(parents=True)
    work = tmp_path / "work"
    work.mkdir()
    relay = SkopeoRelay(tmpdir=str(work))
    target = Endpoint("mirror.example:5443", cert_dir=str(folder))
    with relay.prepare(make_item(), SRC, target, None, None) as run:
        assert value_after(run.argv, "--dest-cert-dir") == str(folder)
        assert "--src-cert-dir" not in run.argv  # no folder for the source


def test_own_ca_file_wins_and_keeps_the_folders_client_certificates(tmp_path: Path) -> None:
    folder = tmp_path / "certs.d" / "mirror.example"
    folder.mkdir(parents=True)
    (folder / "ca.crt").write_text("folder ca")
    (folder / "client.cert").write_text("cert")
    (folder / "client.key").write_text("key")
    ca = tmp_path / "ca.pem"
    ca.write_text("pem")
    work = tmp_path / "work"
    work.mkdir()
    relay = SkopeoRelay(tmpdir=str(work))
    target = Endpoint("mirror.example:5443", ca_file=str(ca), cert_dir=str(folder))
    with relay.prepare(make_item(), SRC, target, None, None) as run:
        private = Path(value_after(run.argv, "--dest-cert-dir"))
        assert private.parent == run.workdir
        assert sorted(p.name for p in private.iterdir()) == ["ca.crt", "client.cert", "client.key"]
        assert (private / "ca.crt").read_text() == "pem"


def test_missing_ca_file_is_a_failed_result_not_an_exception(relay: SkopeoRelay, tmp_path: Path) -> None:
    target = Endpoint("mirror.example:5443", ca_file=str(tmp_path / "absent.pem"))
    result = relay.copy(make_item(), SRC, target, SRC_CREDS, None)
    assert (result.status, result.reason) == ("failed", "other")
    assert "absent.pem" in (result.error or "")
    assert list(Path(relay.tmpdir).iterdir()) == []


# --- credentials ------------------------------------------------------------------------------------


def test_authfiles_hold_credentials_0600_in_private_dir(run: SkopeoRun) -> None:
    src_file = Path(value_after(run.argv, "--src-authfile"))
    dst_file = Path(value_after(run.argv, "--dest-authfile"))
    assert stat.S_IMODE(run.workdir.stat().st_mode) == 0o700
    for path in (src_file, dst_file):
        assert path.parent == run.workdir
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(src_file.read_text()) == {
        "auths": {"127.0.0.1:5000": {"auth": base64.b64encode(f"alice:{PASSWORD}".encode()).decode()}}
    }
    assert json.loads(dst_file.read_text()) == {
        "auths": {"mirror.example:5443": {"auth": base64.b64encode(b"bob:other-Pa55").decode()}}
    }


def test_no_credential_ever_in_argv(run: SkopeoRun) -> None:
    joined = "\n".join(run.argv)
    for secret in [*secret_forms("alice", PASSWORD), *secret_forms("bob", "other-Pa55")]:
        assert secret not in joined
    assert not any("creds" in a or "password" in a or "username" in a for a in run.argv)
    assert "--authfile" not in run.argv  # separate files, so one host may have two identities


def test_anonymous_side_uses_no_creds(relay: SkopeoRelay) -> None:
    with relay.prepare(make_item(), SRC, DST, None, DST_CREDS) as run:
        assert "--src-no-creds" in run.argv
        assert "--src-authfile" not in run.argv
        assert "--dest-authfile" in run.argv
        assert "--dest-no-creds" not in run.argv


def test_workdir_removed_after_use(relay: SkopeoRelay) -> None:
    with relay.prepare(make_item(), SRC, DST, SRC_CREDS, DST_CREDS) as run:
        assert run.workdir.is_dir()
    assert not run.workdir.exists()
    assert list(Path(relay.tmpdir).iterdir()) == []


def test_workdir_removed_when_the_run_raises(relay: SkopeoRelay) -> None:
    seen: list[Path] = []

    def use_and_fail(run: SkopeoRun) -> None:
        seen.extend([run.workdir, Path(value_after(run.argv, "--src-authfile"))])
        assert seen[1].exists()
        raise RuntimeError("boom")

    with relay.prepare(make_item(), SRC, DST, SRC_CREDS, DST_CREDS) as run, pytest.raises(RuntimeError):
        use_and_fail(run)
    workdir, authfile = seen
    assert not authfile.exists()
    assert not workdir.exists()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_failed_skopeo_run_removes_authfiles_and_redacts(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    relay = SkopeoRelay(tmpdir=str(work), retry_times=0, timeout=60)
    source = Endpoint(f"127.0.0.1:{closed_port()}", insecure=True, verify_tls=False, plain_http=True)
    result = relay.copy(make_item(), source, source, SRC_CREDS, SRC_CREDS)
    assert (result.status, result.reason, result.attempts) == ("failed", "network", 1)
    assert "connection refused" in (result.error or "")
    assert PASSWORD not in (result.error or "")
    assert list(work.iterdir()) == []


# --- environment and policy -------------------------------------------------------------------------


def test_env_is_minimal_and_points_into_workdir(relay: SkopeoRelay, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "leak-me")
    monkeypatch.setenv("REGISTRY_AUTH", "leak-me-too")
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:3128")
    with relay.prepare(make_item(), SRC, DST, None, None) as run:
        assert run.env["HOME"] == str(run.workdir)
        assert run.env["TMPDIR"] == str(run.workdir)
        assert value_after(run.argv, "--tmpdir") == str(run.workdir)
        assert run.env["HTTPS_PROXY"] == "http://127.0.0.1:3128"
        assert "leak-me" not in json.dumps(run.env)
        assert set(run.env) <= {*relay_module._INHERITED_ENV, "HOME", "TMPDIR", "XDG_DATA_HOME"}
        assert run.workdir.parent == Path(relay.tmpdir)


def test_skopeos_blob_info_cache_is_shared_by_every_copy_and_this_users_own(
    relay: SkopeoRelay, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A non-root skopeo keeps its blob-info cache (which blob it pushed where: what lets it mount a
    blob into another repository) under $XDG_DATA_HOME: one folder for all copies, kept after them."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    with relay.prepare(make_item(), SRC, DST, None, None) as first:
        pass
    with relay.prepare(make_item(), SRC, DST, None, None) as second:
        assert (
            second.env["XDG_DATA_HOME"]
            == first.env["XDG_DATA_HOME"]
            == str(tmp_path / "cache/regmirror/skopeo")
        )
    data = Path(first.env["XDG_DATA_HOME"])
    assert data.is_dir() and data.stat().st_mode & 0o777 == 0o700
    assert not data.is_relative_to(first.workdir)


def test_a_read_only_home_puts_the_cache_under_the_tmpdir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    monkeypatch.setenv("XDG_CACHE_HOME", str(locked / "cache"))
    work = tmp_path / "work"
    work.mkdir()
    relay = SkopeoRelay(tmpdir=str(work))
    if os.access(locked, os.W_OK):  # root ignores the mode: make the folder unusable another way
        (locked / "cache").write_text("a file, not a folder")
    with relay.prepare(make_item(), SRC, DST, None, None) as run:
        assert run.env["XDG_DATA_HOME"] == str(work / f"regmirror-skopeo-{os.getuid()}")


def test_a_planted_symlink_is_never_used_as_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "cache" / "regmirror").mkdir(parents=True)
    (tmp_path / "cache" / "regmirror" / "skopeo").symlink_to(elsewhere)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    work = tmp_path / "work"
    work.mkdir()
    with SkopeoRelay(tmpdir=str(work)).prepare(make_item(), SRC, DST, None, None) as run:
        assert run.env["XDG_DATA_HOME"] == str(work / f"regmirror-skopeo-{os.getuid()}")


def test_default_tmpdir_is_tmp() -> None:
    assert SkopeoRelay().tmpdir == "/tmp"


def test_policy_options(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    work = str(tmp_path)
    with SkopeoRelay(tmpdir=work, policy_file="/p.json").prepare(make_item(), SRC, DST, None, None) as run:
        assert run.argv[:5] == ["skopeo", "--tmpdir", str(run.workdir), "--policy", "/p.json"]
    monkeypatch.setattr(relay_module, "DEFAULT_POLICY_FILE", str(tmp_path / "absent.json"))
    with SkopeoRelay(tmpdir=work).prepare(make_item(), SRC, DST, None, None) as run:
        assert "--insecure-policy" in run.argv[: run.argv.index("copy")]
    policy = tmp_path / "policy.json"
    policy.write_text("{}")
    monkeypatch.setattr(relay_module, "DEFAULT_POLICY_FILE", str(policy))
    with SkopeoRelay(tmpdir=work).prepare(make_item(), SRC, DST, None, None) as run:
        assert "--insecure-policy" not in run.argv
        assert "--policy" not in run.argv


def test_binary_and_retry_times(tmp_path: Path) -> None:
    relay = SkopeoRelay(binary="/opt/skopeo/bin/skopeo", retry_times=5, tmpdir=str(tmp_path))
    with relay.prepare(make_item(), SRC, DST, None, None) as run:
        assert run.argv[0] == "/opt/skopeo/bin/skopeo"
        assert value_after(run.argv, "--retry-times") == "5"


def test_missing_binary_is_a_failed_result(tmp_path: Path) -> None:
    relay = SkopeoRelay(binary=str(tmp_path / "no-skopeo"), tmpdir=str(tmp_path))
    result = relay.copy(make_item(), SRC, DST, SRC_CREDS, None)
    assert (result.status, result.reason) == ("failed", "other")
    assert "no-skopeo" in (result.error or "")
    assert [p for p in tmp_path.iterdir() if p.name.startswith("regmirror-relay-")] == []


# --- results ----------------------------------------------------------------------------------------


def test_failure_result_from_exception_is_redacted() -> None:
    item = make_item()
    result = CopyResult.failure(item, RuntimeError('answer {"auth": "YWxpY2U6cHc="} from server'))
    assert result.status == "failed"
    assert result.reason == "other"
    assert result.source_digest == DIGEST
    assert "YWxpY2U6cHc=" not in (result.error or "")
    assert (result.error or "").startswith("RuntimeError: ")
    assert not result.ok


# --- error classification (stderr captured from skopeo 1.9.3 against distribution 2.8.2) ------------


def _load_stderr_samples() -> dict[str, list[str]]:
    """`tests/unit/sync/data/skopeo-1.9.3-stderr.txt`: real skopeo stderr, grouped by expected reason."""
    samples: dict[str, list[str]] = {}
    for block in STDERR_SAMPLES.read_text().split("\n## ")[1:]:
        reason, _, body = block.partition("\n")
        samples[reason] = [sample.strip("\n") for sample in body.split("\n--\n")]
    return samples


REAL_STDERR = _load_stderr_samples()


@pytest.mark.parametrize(
    ("reason", "stderr"), [(reason, text) for reason, texts in REAL_STDERR.items() for text in texts]
)
def test_classify_real_skopeo_stderr(reason: str, stderr: str) -> None:
    assert classify_error(stderr) == reason


def test_classification_uses_the_fatal_line_not_earlier_warnings() -> None:
    stderr = (
        'time="t" level=warning msg="Failed, retrying in 1s ... (1/1). Error: dial tcp: connection refused"\n'
        'time="t" level=fatal msg="reading manifest v1 in r/app: manifest unknown: manifest unknown"'
    )
    assert classify_error(stderr) == "not-found"


def test_empty_stderr_is_other() -> None:
    assert classify_error("") == "other"


def test_count_attempts_from_retry_warnings() -> None:
    assert count_attempts(REAL_STDERR["network"][0]) == 3
    assert count_attempts(REAL_STDERR["not-found"][0]) == 1


# --- redaction --------------------------------------------------------------------------------------


def test_known_secret_forms_are_redacted() -> None:
    pair = f"alice:{PASSWORD}"
    forms = {
        "password": PASSWORD,
        "pair": pair,
        "base64": base64.b64encode(pair.encode()).decode(),
        "base64url": base64.urlsafe_b64encode(pair.encode()).decode(),
        "json": json.dumps(PASSWORD)[1:-1],
        "urlencoded": quote(PASSWORD, safe=""),
    }
    text = " ".join(f"{name}=<{value}>" for name, value in forms.items())
    out = redact(text, secret_forms("alice", PASSWORD))
    assert out == " ".join(f"{name}=<{MASK}>" for name in forms)


@pytest.mark.parametrize(
    ("text", "leak"),
    [
        ("Authorization: Basic YWxpY2U6c2VjcmV0cGFzcw==", "YWxpY2U6c2VjcmV0cGFzcw=="),
        ("header map[Authorization:[Bearer eyJhbGciOiJSUzI1NiJ9.abc.def]]", "eyJhbGciOiJSUzI1NiJ9"),
        ('{"auths": {"r": {"auth": "YWxpY2U6c2VjcmV0"}}}', "YWxpY2U6c2VjcmV0"),
        ('{"username": "u", "password": "hunter2-long"}', "hunter2-long"),
        ('{"token": "tok-123456789", "access_token": "acc-123456789"}', "123456789"),
        ("Get https://alice:hunter2-long@reg.example/v2/", "hunter2-long"),
        ("skopeo copy --src-creds alice:hunter2-long docker://a docker://b", "hunter2-long"),
        ("--dest-password=hunter2-long", "hunter2-long"),
        (
            "GET https://bucket.s3.amazonaws.com/blob?X-Amz-Credential=AKIAX%2F2024&X-Amz-Security-Token=FQoG"
            "ZXIvYXdz&X-Amz-Signature=0badc0ffee",
            "0badc0ffee",
        ),
    ],
)
def test_generic_credential_patterns_are_redacted(text: str, leak: str) -> None:
    out = redact(text)
    assert leak not in out
    assert MASK in out


def test_redaction_leaves_ordinary_errors_alone() -> None:
    for texts in REAL_STDERR.values():
        for text in texts:
            assert redact(text, secret_forms("alice", PASSWORD)) == text


def test_redact_argv_and_tail() -> None:
    assert redact_argv(["skopeo", f"--x={PASSWORD}"], [PASSWORD]) == ["skopeo", f"--x={MASK}"]
    long_text = "\n".join(f"line {n}" for n in range(1000))
    cut = tail(long_text, 100)
    assert len(cut) <= 100
    assert cut.startswith("line ")
    assert cut.endswith("line 999")
    assert tail("short") == "short"


def test_empty_password_has_no_forms() -> None:
    assert secret_forms("alice", "") == []
    assert redact("alice: nothing", []) == "alice: nothing"


def test_environment_never_carries_another_auth_file(
    relay: SkopeoRelay, monkeypatch: pytest.MonkeyPatch
) -> None:
    # REGISTRY_AUTH_FILE / DOCKER_CONFIG would make skopeo read credentials we did not put there.
    monkeypatch.setenv("REGISTRY_AUTH_FILE", "/root/auth.json")
    monkeypatch.setenv("DOCKER_CONFIG", "/root/.docker")
    with relay.prepare(make_item(), SRC, DST, None, None) as run:
        assert "REGISTRY_AUTH_FILE" not in run.env
        assert "DOCKER_CONFIG" not in run.env


def no_home() -> Path:
    raise RuntimeError("Could not determine home directory.")  # Path.home() without HOME nor a passwd entry


@pytest.mark.parametrize("cache_home", ["relative/cache", None])
def test_a_relative_or_missing_cache_home_never_lands_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cache_home: str | None
) -> None:
    monkeypatch.chdir(tmp_path)
    if cache_home is None:
        monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
        monkeypatch.delenv("HOME", raising=False)
        monkeypatch.setattr(Path, "home", no_home)
    else:
        monkeypatch.setenv("XDG_CACHE_HOME", cache_home)
    work = tmp_path / "work"
    work.mkdir()
    with SkopeoRelay(tmpdir=str(work)).prepare(make_item(), SRC, DST, None, None) as run:
        assert run.env["XDG_DATA_HOME"] == str(work / f"regmirror-skopeo-{os.getuid()}")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["work"]
