"""End to end through the CLI: dregsy-syntax configs, real registries, real skopeo."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from regmirror.cli.main import main

from tests.testbed import (
    RegistryServer,
    catalog,
    get_manifest,
    list_tags,
    lose_layer,
    manifest_digest,
    push_image,
)

MANIFESTS = r"/v2/.+/manifests/.+"


def b64_auth(server: RegistryServer) -> str:
    body = json.dumps({"username": server.username, "password": server.password})
    return base64.b64encode(body.encode()).decode()


def mirror_config(
    config_file: Callable[[str], Path],
    src: RegistryServer,
    dst: RegistryServer,
    mappings: str,
    name: str = "t",
) -> Path:
    """One task from `src` to `dst` (both plain HTTP, dregsy's `skip-tls-verify`) with these mappings."""
    block = textwrap.indent(textwrap.dedent(mappings).strip("\n"), " " * 6)
    return config_file(
        f"tasks:\n  - name: {name}\n"
        f'    source: {{registry: "{src.host}", skip-tls-verify: true}}\n'
        f'    target: {{registry: "{dst.host}", skip-tls-verify: true}}\n'
        f"    mappings:\n{block}\n"
    )


def run_cli(*args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def sync_json(config: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, dict]:
    code, out, _err = run_cli("sync", str(config), "--json", *extra, capsys=capsys)
    return code, json.loads(out)


@pytest.fixture
def seeded_source(plain_registry: RegistryServer) -> RegistryServer:
    images = [
        ("myproject/webui", "1.0.0", None),
        ("myproject/webui", "1.1.0", ["linux/amd64", "linux/arm64"]),
        ("myproject/webui", "2.0.0-rc.1", None),
        ("myproject/webui", "dev", None),
        ("myproject/api", "0.9.0", None),
        ("myproject/api", "1.5.0", None),
        ("jenkins/jnlp-slave", "latest", None),
        ("jenkins/jnlp-slave", "3.40", None),
        ("jenkins/master", "latest", None),
        ("other/myproject", "1.0.0", None),
    ]
    for repo, tag, platforms in images:
        push_image(plain_registry, repo, tag, platforms=platforms, seed=f"{repo}:{tag}", shared_base=True)
    return plain_registry


def test_regex_from_to_prefix_and_tag_filters(
    seeded_source: RegistryServer,
    second_plain_registry: RegistryServer,
    config_file: Callable[[str], Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    src, dst = seeded_source, second_plain_registry
    config = mirror_config(
        config_file,
        src,
        dst,
        """
        - from: regex:myproject/.*
          to: regex:my(.+)/,from-dh/your$1/
          tags: ["semver: >=1.0.0", "keep: latest 2"]
        - from: regex:jenkins/jnlp-.*
          to: regex:jenkins/,dh/other-jenkins/
          tags: ["latest"]
        - from: regex:jenkins/master
          to: ecr
        - from: myproject/webui
          to: pinned/webui
          tags: ["dev", "regex: 1\\\\..*", "keep: !1\\\\.0\\\\..*"]
        """,
        name="mirror",
    )
    code, report = sync_json(config, capsys)
    assert code == 0, [r["error"] for r in report["results"] if r["error"]]
    assert sorted(catalog(dst)) == [
        "dh/other-jenkins/jnlp-slave",
        "ecr/jenkins/master",
        "from-dh/yourproject/api",
        "from-dh/yourproject/webui",
        "pinned/webui",
    ]
    # semver >=1.0.0 includes the pre-release (dregsy semantics); keep latest 2 of those
    assert sorted(list_tags(dst, "from-dh/yourproject/webui")) == ["1.1.0", "2.0.0-rc.1"]
    assert list_tags(dst, "from-dh/yourproject/api") == ["1.5.0"]
    assert list_tags(dst, "dh/other-jenkins/jnlp-slave") == ["latest"]
    assert list_tags(dst, "ecr/jenkins/master") == ["latest"]
    assert sorted(list_tags(dst, "pinned/webui")) == ["1.1.0", "dev"]
    for repo, tag, target in [
        ("myproject/webui", "1.1.0", "from-dh/yourproject/webui"),
        ("jenkins/jnlp-slave", "latest", "dh/other-jenkins/jnlp-slave"),
    ]:
        assert manifest_digest(dst, target, tag) == manifest_digest(src, repo, tag)
    assert report["counts"]["copied"] == 7
    assert report["counts"]["failed"] == 0
    # bytes = config + layers of the copied manifests, read back from the target
    multi = next(r for r in report["results"] if r["target"].endswith("from-dh/yourproject/webui:1.1.0"))
    index = json.loads(get_manifest(dst, "from-dh/yourproject/webui", "1.1.0")[0])
    blobs: dict[str, int] = {}
    for child in index["manifests"]:
        manifest = json.loads(get_manifest(dst, "from-dh/yourproject/webui", child["digest"])[0])
        for blob in [manifest["config"], *manifest["layers"]]:
            blobs[blob["digest"]] = blob["size"]
    expected = sum(blobs.values())
    assert multi["bytes"] == expected > 0


def test_multi_arch_index_kept_intact_and_single_platform(
    plain_registry: RegistryServer,
    second_plain_registry: RegistryServer,
    config_file: Callable[[str], Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    src, dst = plain_registry, second_plain_registry
    index = push_image(
        src, "base/os", "1", platforms=["linux/amd64", "linux/arm64", "linux/arm/v7"], oci=True
    )
    config = mirror_config(
        config_file,
        src,
        dst,
        """
        - from: base/os
        - from: base/os
          to: arm/os
          platform: linux/arm/v7
        """,
    )
    code, report = sync_json(config, capsys)
    assert code == 0, report
    assert manifest_digest(dst, "base/os", "1") == index
    body, media_type, _ = get_manifest(dst, "base/os", "1")
    assert "index" in media_type and len(json.loads(body)["manifests"]) == 3
    _arm_body, arm_type, arm_digest = get_manifest(dst, "arm/os", "1")
    assert "index" not in arm_type and "list" not in arm_type
    src_index = json.loads(get_manifest(src, "base/os", "1")[0])
    arm_child = next(m for m in src_index["manifests"] if m["platform"].get("variant") == "v7")
    assert arm_digest == arm_child["digest"]


def test_second_run_skips_by_digest_with_heads_only(
    seeded_source: RegistryServer,
    second_plain_registry: RegistryServer,
    config_file: Callable[[str], Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    src, dst = seeded_source, second_plain_registry
    config = mirror_config(
        config_file,
        src,
        dst,
        """
        - from: regex:.*
        """,
    )
    code, first = sync_json(config, capsys)
    assert code == 0 and first["counts"]["copied"] == 10
    mark_src, mark_dst = src.mark(), dst.mark()
    code, second = sync_json(config, capsys)
    assert code == 0
    assert second["counts"] == {**second["counts"], "copied": 0, "in_sync": 10, "failed": 0}
    assert src.requests(method="GET", path_regex=MANIFESTS, since=mark_src) == []
    assert len(src.requests(method="HEAD", path_regex=MANIFESTS, since=mark_src)) == 10
    assert dst.requests(method="PUT", path_regex=r"/v2/.+", since=mark_dst) == []

    # one changed tag among unchanged ones: exactly that one is copied
    new = push_image(src, "myproject/api", "1.5.0", seed="changed")
    code, third = sync_json(config, capsys)
    assert code == 0 and third["counts"]["copied"] == 1
    assert [r["target"] for r in third["results"]] == [f"{dst.host}/myproject/api:1.5.0"]
    assert manifest_digest(dst, "myproject/api", "1.5.0") == new


def test_auth_source_and_tls_target_with_ca_file(
    auth_registry: RegistryServer,
    tls_registry: RegistryServer,
    config_file: Callable[[str], Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    src, dst = auth_registry, tls_registry
    digest = push_image(src, "team/app", "1.0", platforms=["linux/amd64", "linux/arm64"])
    config = config_file(f"""
        tasks:
          - name: secure
            source:
              registry: "{src.host}"
              insecure: true
              auth: {b64_auth(src)}
            target:
              registry: "{dst.host}"
              auth: {b64_auth(dst)}
              ca-file: {dst.ca_file}
            mappings:
              - from: regex:team/.*
        """)
    code, out, err = run_cli("sync", str(config), "--json", "-v", capsys=capsys)
    assert code == 0, err
    assert manifest_digest(dst, "team/app", "1.0") == digest
    assert src.password not in out + err and dst.password not in out + err


def test_failing_image_does_not_stop_the_others(
    plain_registry: RegistryServer,
    second_plain_registry: RegistryServer,
    config_file: Callable[[str], Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    src, dst = plain_registry, second_plain_registry
    for n in range(4):
        push_image(src, f"apps/a{n}", "1", seed=f"a{n}", layer_size=4096)
    lose_layer(src, "apps/a2", "1")  # the manifest still answers HEAD; the copy cannot fetch the layer
    config = mirror_config(
        config_file,
        src,
        dst,
        """
        - from: regex:apps/.*
        """,
    )
    code, report = sync_json(config, capsys, "--concurrency", "2")
    assert code == 1
    assert report["counts"]["copied"] == 3 and report["counts"]["failed"] == 1
    failed = [r for r in report["results"] if r["status"] == "failed"]
    assert failed[0]["source"].startswith(f"{src.host}/apps/a2")
    assert sorted(catalog(dst)) == ["apps/a0", "apps/a1", "apps/a3"]


def test_max_images_guard_fails_the_mapping_before_copying(
    seeded_source: RegistryServer,
    second_plain_registry: RegistryServer,
    config_file: Callable[[str], Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = mirror_config(
        config_file,
        seeded_source,
        second_plain_registry,
        """
        - from: regex:myproject/.*
          max-images: 3
        """,
    )
    code, out, _err = run_cli("sync", str(config), capsys=capsys)
    assert code == 1
    assert "max-images 3" in out and "matched 6 images" in out
    assert catalog(second_plain_registry) == []


def test_two_mappings_writing_one_target_is_a_config_error(
    seeded_source: RegistryServer,
    second_plain_registry: RegistryServer,
    config_file: Callable[[str], Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = mirror_config(
        config_file,
        seeded_source,
        second_plain_registry,
        """
        - from: jenkins/master
          to: same/place
          tags: [latest]
        - from: jenkins/jnlp-slave
          to: same/place
          tags: [latest]
        """,
    )
    code, _out, err = run_cli("sync", str(config), capsys=capsys)
    assert code == 2
    assert "tasks[0].mappings[1]" in err and "same/place:latest" in err
    assert catalog(second_plain_registry) == []


def test_plan_shows_counts_states_and_unmatched_to(
    seeded_source: RegistryServer,
    second_plain_registry: RegistryServer,
    config_file: Callable[[str], Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = mirror_config(
        config_file,
        seeded_source,
        second_plain_registry,
        """
        - from: regex:jenkins/.*
          to: regex:^jenkins/,dh/
          tags: [latest, "does-not-exist"]
        """,
    )
    code, out, err = run_cli("plan", str(config), capsys=capsys)
    assert code == 0, err
    assert "4 images: 2 to copy, 0 in sync, 2 missing at source" in out
    assert "did not match" in out
    code, out, _ = run_cli("plan", str(config), "--json", capsys=capsys)
    plan = json.loads(out)
    assert plan["counts"]["copy"] == 2 and plan["mappings"][0]["listed"] == 5
    assert catalog(second_plain_registry) == []
    # one key style in every JSON document, which names its schema version first
    assert next(iter(plan)) == "schema_version" and plan["schema_version"] == 2
    assert plan["counts"]["missing_at_source"] == 2 and plan["counts"]["in_sync"] == 0
    code, out, _ = run_cli("sync", str(config), "--json", capsys=capsys)
    report = json.loads(out)
    assert report["schema_version"] == 2 and report["counts"]["missing_at_source"] == 2

    def keys(node: object) -> set[str]:
        if isinstance(node, dict):
            return set(node) | {k for v in node.values() for k in keys(v)}
        return {k for v in node for k in keys(v)} if isinstance(node, list) else set()

    assert [k for k in keys(plan) | keys(report) if "-" in k] == []


def test_validate_and_match_commands(
    config_file: Callable[[str], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    bad = config_file("""
        tasks:
          - name: t
            source: {registry: "127.0.0.1:1"}
            target: {registry: "127.0.0.1:2"}
            mappings:
              - from: regex:foo(
        """)
    code, _, err = run_cli("validate", str(bad), capsys=capsys)
    assert code == 2 and "tasks[0].mappings[0].from" in err and ":6:" in err
    code, out, _ = run_cli(
        "match", "--from", "regex:my(.+)/.*", "--to", "regex:my(.+)/,from-dh/your$1/",
        "myproject/webui", "other/webui", capsys=capsys,
    )  # fmt: skip
    assert code == 0
    assert "myproject/webui  ->  from-dh/yourproject/webui" in out and "1 of 2 names match" in out


def test_console_script_and_dregsy_style_arguments(
    seeded_source: RegistryServer,
    second_plain_registry: RegistryServer,
    config_file: Callable[[str], Path],
) -> None:
    config = config_file(f"""
        tasks:
          - name: one-off
            source: {{registry: "{seeded_source.host}", skip-tls-verify: true}}
            target: {{registry: "{second_plain_registry.host}", skip-tls-verify: true}}
            mappings:
              - from: jenkins/master
          - name: skipped
            source: {{registry: "{seeded_source.host}", skip-tls-verify: true}}
            target: {{registry: "{second_plain_registry.host}", skip-tls-verify: true}}
            mappings:
              - from: jenkins/jnlp-slave
        """)
    exe = Path(sys.executable).with_name("regmirror")
    done = subprocess.run(
        [str(exe), f"-config={config}", "-run=one-.*"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "LOG_FORMAT": "json"},
    )
    assert done.returncode == 0, done.stderr
    assert catalog(second_plain_registry) == ["jenkins/master"]
    assert all(json.loads(line)["level"] for line in done.stderr.splitlines() if line.startswith("{"))


def test_unset_auth_variable_warns_in_validate_and_fails_a_run_at_its_place(
    config_file: Callable[[str], Path],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    plain_registry: RegistryServer,
    second_plain_registry: RegistryServer,
) -> None:
    monkeypatch.delenv("REGMIRROR_TEST_UNSET_AUTH", raising=False)
    push_image(plain_registry, "apps/one", "1")
    config = config_file(f"""
        tasks:
          - name: first
            source: {{registry: "{plain_registry.host}", skip-tls-verify: true}}
            target: {{registry: "{second_plain_registry.host}", skip-tls-verify: true}}
            mappings: [{{from: apps/one}}]
          - name: second
            source:
              registry: "{plain_registry.host}"
              auth: env:REGMIRROR_TEST_UNSET_AUTH
            target: {{registry: "{second_plain_registry.host}", skip-tls-verify: true}}
            mappings: [{{from: apps/one, to: other/one}}]
        """)
    unset = "auth: environment variable REGMIRROR_TEST_UNSET_AUTH is not set"
    where = f"{config}:9:13: tasks[1].source.auth: {unset}"
    # validate: a warning (CI checks configs without their secrets), at the `auth` value
    code, out, err = run_cli("validate", str(config), capsys=capsys)
    assert code == 0, err
    assert out == f"{config}: ok (2 tasks, 2 mappings)\n"
    assert f"{where} (needed when the registry is used)" in err
    # a run needs the credentials: an error at the same place, before anything is copied
    code, _out, err = run_cli("sync", str(config), capsys=capsys)
    assert code == 2, err
    assert f"regmirror: invalid configuration:\n{where}\n" in err
    assert catalog(second_plain_registry) == []  # nothing copied, not even the first task


def test_match_on_a_registry_catalog(
    seeded_source: RegistryServer, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run_cli(
        "match", "--registry", seeded_source.host, "--insecure", "--from", "regex:jenkins/.*",
        "--to", "regex:jenkins/,dh/other-jenkins/", "--json", capsys=capsys,
    )  # fmt: skip
    assert code == 0
    rows = {r["name"]: r for r in json.loads(out)["rows"]}
    assert set(rows) == {
        "jenkins/jnlp-slave",
        "jenkins/master",
        "myproject/api",
        "myproject/webui",
        "other/myproject",
    }
    assert rows["jenkins/master"]["target"] == "dh/other-jenkins/master"
    assert not rows["myproject/api"]["matched"] and rows["myproject/api"]["target"] is None


def test_copy_record_trusts_targets_until_verify(
    seeded_source: RegistryServer,
    second_plain_registry: RegistryServer,
    config_file: Callable[[str], Path],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    src, dst = seeded_source, second_plain_registry
    config = mirror_config(
        config_file,
        src,
        dst,
        """
        - from: regex:jenkins/.*
        """,
    )
    record_file = tmp_path / "record.json"
    code, first = sync_json(config, capsys, "--record-file", str(record_file))
    assert code == 0 and first["counts"]["copied"] == 3 and first["record"]["recorded"] == 3
    assert record_file.stat().st_mode & 0o777 == 0o600

    mark_src, mark_dst = src.mark(), dst.mark()
    code, second = sync_json(config, capsys, "--record-file", str(record_file))
    counts = second["counts"]
    assert code == 0 and counts["in_sync"] == 3 and second["record"]["trusted"] == counts["trusted"]
    # said in the counts: in sync by the record (target not checked), or spot-checked: the first image
    # of each target repository (2 here) always is, others at random
    assert counts["trusted"] + counts["spot_checked"] == 3 and counts["spot_checked"] >= 2
    target_heads = dst.requests(method="HEAD", path_regex=MANIFESTS, since=mark_dst)
    assert len(target_heads) == counts["spot_checked"]
    assert len(src.requests(method="HEAD", path_regex=MANIFESTS, since=mark_src)) == 3  # sources always
    code, text, _err = run_cli("sync", str(config), "--record-file", str(record_file), capsys=capsys)
    assert re.search(
        r"3 already in sync \((1 trusted from the copy record, targets not checked; 2|3) spot-checked", text
    )

    # A tag deleted behind regmirror's back: found by the next run when it is its repository's only one
    # (the probe), by --verify in any case (and by the sample, or any run after the TTL).
    from tests.testbed import delete_manifest

    delete_manifest(dst, "jenkins/master", manifest_digest(dst, "jenkins/master", "latest") or "")
    code, probed = sync_json(config, capsys, "--record-file", str(record_file))
    assert code == 0 and probed["counts"]["copied"] == 1
    assert manifest_digest(dst, "jenkins/master", "latest") == manifest_digest(
        src, "jenkins/master", "latest"
    )
    delete_manifest(dst, "jenkins/jnlp-slave", manifest_digest(dst, "jenkins/jnlp-slave", "3.40") or "")
    code, verified = sync_json(config, capsys, "--record-file", str(record_file), "--verify")
    assert code == 0 and verified["counts"]["copied"] == 1 and verified["counts"]["trusted"] == 0
    assert manifest_digest(dst, "jenkins/jnlp-slave", "3.40") == manifest_digest(
        src, "jenkins/jnlp-slave", "3.40"
    )
    code, off = sync_json(config, capsys, "--no-record")
    assert off["record"] is None and off["counts"]["in_sync"] == 3


def test_a_wiped_target_is_copied_again_by_the_next_sync_not_reported_in_sync(
    seeded_source: RegistryServer,
    second_plain_registry: RegistryServer,
    config_file: Callable[[str], Path],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    """As a user's cron job sees it: the target lost its storage between two runs; the record is
    fresh (default TTL) and must not make the run say "in sync" while the target holds nothing."""
    src, dst = seeded_source, second_plain_registry
    config = mirror_config(config_file, src, dst, "- from: regex:myproject/.*")
    code, first = sync_json(config, capsys)  # the default record file ($XDG_STATE_HOME)
    assert code == 0 and first["counts"]["copied"] == 6
    shutil.rmtree(dst.storage_dir / "docker" / "registry" / "v2" / "repositories")
    code, text, _err = run_cli("sync", str(config), capsys=capsys)
    assert code == 0
    assert "6 images: 6 copied, 0 already in sync, 0 failed" in text
    for repo, tag in (("myproject/webui", "1.1.0"), ("myproject/api", "0.9.0")):
        assert manifest_digest(dst, repo, tag) == manifest_digest(src, repo, tag)


def test_a_pinned_tag_missing_at_the_source_fails_the_run_and_says_what_is_missing(
    plain_registry: RegistryServer,
    second_plain_registry: RegistryServer,
    config_file: Callable[[str], Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """dregsy exits 1 when a pinned tag is missing (monitoring relies on it); regmirror says whether
    the repository or only the tag is missing, copies what is there, and exits 1."""
    push_image(plain_registry, "team/app", "1.0", seed="present")
    config = mirror_config(
        config_file,
        plain_registry,
        second_plain_registry,
        """
        - from: team/app
          tags: ["1.0", "9.9"]
        - from: team/gone
          tags: ["1.0"]
        """,
    )
    code, out, _err = run_cli("sync", str(config), "--no-progress", capsys=capsys)
    assert code == 1
    src, dst = plain_registry.host, second_plain_registry.host
    assert f"MISSING {src}/team/app:9.9 -> {dst}/team/app:9.9: tag 9.9 missing at the source\n" in out
    assert (
        f"MISSING {src}/team/gone:1.0 -> {dst}/team/gone:1.0: repository team/gone missing at the source\n"
        in out
    )
    assert out.splitlines()[-1].startswith(
        "3 images: 1 copied, 0 already in sync, 0 failed, 2 missing at source"
    )
    assert list_tags(second_plain_registry, "team/app") == ["1.0"]
    code, report = sync_json(config, capsys)
    assert code == 1 and report["ok"] is False
    assert report["counts"]["missing_at_source"] == 2
    notes = sorted(i["note"] for i in report["plan"]["items"] if i["state"] == "missing-at-source")
    assert notes == ["repository team/gone missing at the source", "tag 9.9 missing at the source"]


def test_failed_digest_checks_are_reported_with_stage_and_reason(
    plain_registry: RegistryServer,
    auth_registry: RegistryServer,
    config_file: Callable[[str], Path],
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A wrong target password: every image fails its check; text, logs and JSON say so and why."""
    for tag in ("1.0", "2.0"):
        push_image(plain_registry, "team/app", tag, seed=tag)
    wrong = base64.b64encode(json.dumps({"username": auth_registry.username, "password": "wrong"}).encode())
    config = config_file(
        "tasks:\n  - name: t\n"
        f'    source: {{registry: "{plain_registry.host}", skip-tls-verify: true}}\n'
        f'    target: {{registry: "{auth_registry.host}", skip-tls-verify: true, auth: {wrong.decode()}}}\n'
        "    mappings: [{from: team/app, to: mirror/app}]\n"
    )
    refused = (
        f"{auth_registry.host}: registry refused user '{auth_registry.username}' (401); "
        "check the password or token in the config's auth and the user's rights"
    )
    code, out, _err = run_cli("sync", str(config), "--no-progress", capsys=capsys)
    assert code == 1
    src, dst = plain_registry.host, auth_registry.host
    for tag in ("1.0", "2.0"):
        assert f"FAILED  {src}/team/app:{tag} -> {dst}/mirror/app:{tag}: check-failed: {refused}\n" in out
    assert out.splitlines()[-1].startswith("2 images: 0 copied, 0 already in sync, 2 failed")
    assert (
        sum("digest check failed" in r.getMessage() and refused in r.getMessage() for r in caplog.records)
        == 2
    )
    code, report = sync_json(config, capsys)
    assert code == 1
    assert [(r["stage"], r["status"], r["reason"], r["error"]) for r in report["results"]] == [
        ("check", "failed", "check-failed", refused)
    ] * 2
    assert catalog(auth_registry) == []


def test_anonymous_access_refused_says_which_settings_give_credentials(
    auth_registry: RegistryServer,
    plain_registry: RegistryServer,
    config_file: Callable[[str], Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    push_image(auth_registry, "team/app", "1.0", seed="private")
    config = config_file(
        "tasks:\n  - name: t\n"
        f'    source: {{registry: "{auth_registry.host}", skip-tls-verify: true}}\n'
        f'    target: {{registry: "{plain_registry.host}", skip-tls-verify: true}}\n'
        "    mappings: [{from: regex:team/.*, to: mirror}]\n"
    )
    code, out, _err = run_cli("plan", str(config), capsys=capsys)
    assert code == 1
    assert (
        f"{auth_registry.host}: registry refused anonymous access (401); give credentials with `auth:`" in out
    )
    assert "env:VARNAME or secretsmanager:<secret-id>" in out
    assert catalog(plain_registry) == []


def test_a_plain_http_registry_configured_as_https_says_to_set_insecure(
    plain_registry: RegistryServer,
    second_plain_registry: RegistryServer,
    config_file: Callable[[str], Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    push_image(plain_registry, "team/app", "1.0", seed="x")
    config = config_file(
        "tasks:\n  - name: t\n"
        f'    source: {{registry: "{plain_registry.host}"}}\n'  # no skip-tls-verify: HTTPS only
        f'    target: {{registry: "{second_plain_registry.host}", skip-tls-verify: true}}\n'
        "    mappings: [{from: team/app}]\n"
    )
    code, out, _err = run_cli("sync", str(config), "--no-progress", capsys=capsys)
    assert code == 1
    host = plain_registry.host
    assert (
        f"error: t mapping 0: {host}: cannot reach https://{host}/v2/team/app/tags/list: the registry speaks"
        " plain HTTP, not HTTPS: set `insecure: true` (or `skip-tls-verify: true`) for it (SSLError: "
    ) in out


def test_json_logs_carry_each_copys_fields_and_the_daemons_text_logs_the_date(
    plain_registry: RegistryServer,
    second_plain_registry: RegistryServer,
    config_file: Callable[[str], Path],
) -> None:
    src, dst = plain_registry, second_plain_registry
    for n in range(2):
        push_image(src, f"apps/a{n}", "1", seed=f"log{n}", layer_size=4096)
    lose_layer(src, "apps/a1", "1")
    config = mirror_config(config_file, src, dst, "- from: regex:apps/.*")
    exe = str(Path(sys.executable).with_name("regmirror"))
    done = subprocess.run(
        [exe, "sync", str(config), "--log-format", "json", "--concurrency", "1"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stderr
    lines = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    starts = [entry for entry in lines if entry["msg"].startswith("copy ") and entry["level"] == "info"]
    assert {entry["source"] for entry in starts} == {f"{src.host}/apps/a0:1", f"{src.host}/apps/a1:1"}
    assert all(
        entry["task"] and entry["target"] and entry["digest"].startswith("sha256:") for entry in starts
    )
    (failure,) = [entry for entry in lines if entry["level"] == "warning" and "failed" in entry["msg"]]
    assert failure["source"] == f"{src.host}/apps/a1:1" and failure["target"].endswith("/apps/a1:1")
    assert failure["reason"] and failure["attempts"] >= 1 and failure["seconds"] >= 0

    # `run` (the daemon): its text lines are dated; a one-off task runs once, then it exits
    daemon = subprocess.run([exe, "run", str(config)], capture_output=True, text=True, timeout=120)
    logged = [line for line in daemon.stderr.splitlines() if " INFO " in line]
    assert logged and all(re.match(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} INFO ", line) for line in logged)
    synced = subprocess.run([exe, "sync", str(config)], capture_output=True, text=True, timeout=120)
    assert all(
        re.match(r"\d{2}:\d{2}:\d{2} ", line) for line in synced.stderr.splitlines() if " INFO " in line
    )


def test_plan_lists_what_changes_with_a_table_per_mapping_and_sync_groups_its_report(
    plain_registry: RegistryServer,
    second_plain_registry: RegistryServer,
    config_file: Callable[[str], Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    src, dst = plain_registry, second_plain_registry
    for repo in ("apps/a", "apps/b", "apps/c"):
        push_image(src, repo, "1", seed=f"{repo}-report", layer_size=2048)
    push_image(dst, "apps/a", "1", seed="apps/a-report", layer_size=2048)  # already in sync
    lose_layer(src, "apps/c", "1")
    config = mirror_config(
        config_file, src, dst, "- from: regex:apps/.*\n- {from: apps/missing, tags: ['1']}"
    )
    code, out, _ = run_cli("plan", str(config), capsys=capsys)
    assert f"COPY     {src.host}/apps/b:1" in out and f"in-sync  {src.host}/apps/a:1" not in out
    assert "(1 in sync, not listed: --all lists every image)" in out
    rows = [line.split() for line in out.splitlines() if line.startswith("t ")]
    # task, mapping, from, listed, matched, to copy, in sync, missing, errors
    assert rows == [
        ["t", "0", "regex:apps/.*", "3", "3", "2", "1", "0", "0"],
        ["t", "1", "apps/missing", "-", "1", "0", "0", "1", "0"],
    ]
    code, out, _ = run_cli("plan", str(config), "--all", capsys=capsys)
    assert f"in-sync  {src.host}/apps/a:1" in out
    code, out, _ = run_cli("plan", str(config), "--format", "markdown", capsys=capsys)
    assert out.startswith("### regmirror plan\n\n4 images: 2 to copy, 1 in sync")
    assert "| task | mapping | from | listed | matched | to copy | in sync | missing | errors |" in out
    assert f"| copy | {src.host}/apps/b:1 | {dst.host}/apps/b:1 |" in out and "| in-sync |" not in out

    code, out, _ = run_cli("sync", str(config), "--no-progress", "--no-record", capsys=capsys)
    assert code == 1
    lines = out.splitlines()
    repositories = {
        line.split()[0]: line.split()[1:] for line in lines if line.startswith(f"{dst.host}/apps/")
    }
    # images, copied, in sync, failed, missing
    assert repositories == {
        f"{dst.host}/apps/a": ["1", "0", "1", "0", "0"],
        f"{dst.host}/apps/b": ["1", "1", "0", "0", "0"],
        f"{dst.host}/apps/c": ["1", "0", "0", "1", "0"],
        f"{dst.host}/apps/missing": ["1", "0", "0", "0", "1"],
    }
    reasons = lines[lines.index(next(x for x in lines if x.startswith("failed because"))) + 1]
    assert reasons.split() == ["not-found", "1"]  # the deleted blob: skopeo's 404
    assert lines[-1].startswith("4 images: 1 copied, 1 already in sync, 1 failed, 1 missing at source")
    code, out, _ = run_cli(
        "sync", str(config), "--no-progress", "--no-record", "--format", "markdown", capsys=capsys
    )
    assert out.startswith("### regmirror sync\n\n4 images: 0 copied, 2 already in sync, 1 failed")
    assert "| target repository | images | copied | in sync | failed | missing |" in out
    assert "| failed because | images |" in out


def test_match_runs_a_configs_rules_on_the_real_source_with_its_credentials(
    auth_registry: RegistryServer,
    second_plain_registry: RegistryServer,
    config_file: Callable[[str], Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    src = auth_registry
    for repo, tags in {
        "apps/a": ["1.0", "1.1", "2.0", "latest"],
        "apps/b": ["0.9", "1.2"],
        "other/x": ["1.5"],
    }.items():
        for tag in tags:
            push_image(src, repo, tag, seed=f"{repo}:{tag}", layer_size=512)
    config = config_file(
        f"tasks:\n  - name: t\n"
        f'    source: {{registry: "{src.host}", skip-tls-verify: true, auth: {b64_auth(src)}}}\n'
        f'    target: {{registry: "{second_plain_registry.host}", skip-tls-verify: true}}\n'
        "    mappings:\n"
        "      - {from: 'regex:apps/.*', to: mirror, tags: ['semver: >=1.1']}\n"
    )
    code, out, err = run_cli("match", str(config), capsys=capsys)
    assert code == 0, err
    assert "task t mapping 0: from 'regex:apps/.*' to 'mirror'" in out
    assert "3 listed, 2 repositories, 3 images" in out
    assert "  apps/a -> mirror/apps/a: 1.1, 2.0\n" in out and "  apps/b -> mirror/apps/b: 1.2\n" in out
    code, out, _ = run_cli("match", str(config), "--json", capsys=capsys)
    (mapping,) = json.loads(out)["mappings"]
    assert [r["tags"] for r in mapping["repositories"]] == [["1.1", "2.0"], ["1.2"]]
    assert catalog(second_plain_registry) == []  # nothing copied, no target contacted for copies
    # the credentials are the config's: without them the source refuses
    config.write_text(config.read_text().replace(f", auth: {b64_auth(src)}", ""))
    code, out, err = run_cli("match", str(config), capsys=capsys)
    assert code == 1 and "401" in out + err
