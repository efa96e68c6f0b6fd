"""TLS through the whole command: a registry's `ca-file` serves its lister, its digest checks and its
skopeo relay alike; verification is on unless `skip-tls-verify`; CA settings of the environment
(REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE) neither replace a configured CA nor make an unconfigured registry
trusted. Component-level cases live in test_registry_client.py and test_relay.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from tests.testbed import RegistryServer, catalog, manifest_digest, push_image, write_config

REGMIRROR = str(Path(sys.executable).with_name("regmirror"))
RegistryFactory = Callable[..., RegistryServer]


def sync(config: Path, env: dict[str, str]) -> tuple[int, dict, str]:
    done = subprocess.run(
        [REGMIRROR, "sync", str(config), "--json"],
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, **env},
        check=False,
    )
    return done.returncode, json.loads(done.stdout) if done.stdout.strip() else {}, done.stderr


def tls_config(tmp_path: Path, source: RegistryServer, target: RegistryServer, source_tls: str) -> Path:
    return write_config(
        tmp_path,
        f"""
        tasks:
          - name: tls
            source:
              registry: "{source.host}"
              {source_tls}
            target:
              registry: "{target.host}"
              ca-file: {target.ca_file}
            mappings:
              - from: regex:secure/.*
        """,
    )


def test_ca_file_serves_lister_checks_and_relay_whatever_the_environment_says(
    registry_factory: RegistryFactory, tmp_path: Path
) -> None:
    source, target = registry_factory(tls=True), registry_factory(tls=True)  # two CAs
    stranger = registry_factory(tls=True)  # a third CA, trusted by neither
    digests = {
        "secure/app": push_image(source, "secure/app", "1.0", platforms=["linux/amd64", "linux/arm64"]),
        "secure/api": push_image(source, "secure/api", "2.0"),
    }
    config = tls_config(tmp_path, source, target, f"ca-file: {source.ca_file}")
    wrong = str(stranger.ca_file)
    code, report, err = sync(
        config, {"REQUESTS_CA_BUNDLE": wrong, "CURL_CA_BUNDLE": wrong, "SSL_CERT_FILE": wrong}
    )
    assert code == 0, err[-3000:]
    assert report["counts"]["copied"] == 2
    tags = {"secure/app": "1.0", "secure/api": "2.0"}
    assert {repo: manifest_digest(target, repo, tag) for repo, tag in tags.items()} == digests
    # the lister, the digest checks and skopeo all spoke TLS to the source
    assert source.requests("GET", r"/v2/_catalog")
    assert source.requests("HEAD", r"/v2/secure/.+/manifests/.+")
    assert source.requests("GET", r"/v2/secure/.+/blobs/.+")


def test_verification_is_on_and_the_environment_cannot_switch_trust_on(
    registry_factory: RegistryFactory, tmp_path: Path
) -> None:
    source, target = registry_factory(tls=True), registry_factory(tls=True)
    push_image(source, "secure/app", "1.0")
    config = tls_config(tmp_path, source, target, "skip-tls-verify: false")
    # the environment names exactly the source's CA: regmirror must still refuse, the config did not
    right = str(source.ca_file)
    code, report, _ = sync(config, {"REQUESTS_CA_BUNDLE": right, "CURL_CA_BUNDLE": right})
    assert code == 1
    errors = " ".join(report["errors"])
    assert source.host in errors and "CERTIFICATE_VERIFY_FAILED" in errors, errors
    assert report["counts"]["copied"] == 0
    assert catalog(target) == []
    assert not source.requests("GET", r"/v2/_catalog", status=200)


def test_skip_tls_verify_reaches_a_self_signed_source(
    registry_factory: RegistryFactory, tmp_path: Path
) -> None:
    source, target = registry_factory(tls=True), registry_factory(tls=True)
    digest = push_image(source, "secure/app", "1.0")
    config = tls_config(tmp_path, source, target, "skip-tls-verify: true")
    code, report, err = sync(config, {})
    assert code == 0, err[-3000:]
    assert report["counts"]["copied"] == 1
    assert manifest_digest(target, "secure/app", "1.0") == digest
    # TLS was used, not a fallback to plain HTTP
    assert source.requests("GET", r"/v2/_catalog", status=200)
