"""Faults between regmirror and real registries: the fault proxy (tests/testbed/faultproxy.py) in front
of distribution registries; the registry client, the catalog lister and skopeo all go through it.

The last test is the published figure: 20% of all requests to source and target fail at random, and
the corpus still ends complete, digest-identical and without anything extra in the target.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from regmirror.config import load_config
from regmirror.errors import AuthError, RegistryError
from regmirror.model import CopyResult, ImageRef, SyncItem
from regmirror.registries import ratelimit
from regmirror.registries.credentials import Credentials
from regmirror.registries.distribution.client import RegistryClient
from regmirror.registries.endpoint import Endpoint
from regmirror.registries.listers import make_lister
from regmirror.registries.ratelimit import RateLimits
from regmirror.retry import RetryPolicy, copy_policy, retry_copy
from regmirror.sync.registries import Registries
from regmirror.sync.run import sync_config
from regmirror.sync.skopeo import SkopeoRelay

from tests.testbed import (
    RegistryServer,
    catalog,
    list_tags,
    manifest_digest,
    push_image,
    push_repositories,
    write_config,
)
from tests.testbed.faultproxy import RANDOM_FAULTS, FaultProxy, Rule
from tests.testbed.skopeo_log import LoggingSkopeo

FAST = RetryPolicy(attempts=5, base_delay=0.05, max_delay=0.5)
BLOBS = r"/v2/.+/blobs/sha256:[0-9a-f]+"
MANIFESTS = r"/v2/.+/manifests/.+"


@pytest.fixture
def proxies() -> Iterator[Callable[..., FaultProxy]]:
    started: list[FaultProxy] = []

    def start(server: RegistryServer, **kwargs: object) -> FaultProxy:
        proxy = FaultProxy(server.host, **kwargs)
        started.append(proxy)
        return proxy

    yield start
    for proxy in started:
        proxy.stop()


def client_via(proxy: FaultProxy, **kwargs: object) -> RegistryClient:
    endpoint = Endpoint(proxy.host, insecure=True, verify_tls=False, plain_http=True)
    kwargs.setdefault("retry", FAST)
    kwargs.setdefault("rate_limits", RateLimits())
    return RegistryClient(endpoint, None, **kwargs)


def plain(host: str) -> Endpoint:
    return Endpoint(host, insecure=True, verify_tls=False, plain_http=True)


# -- the proxy itself --------------------------------------------------------------------------------
def test_proxy_is_transparent_for_skopeo_and_rewrites_upload_locations(
    plain_registry: RegistryServer, second_plain_registry: RegistryServer, proxies: Callable[..., FaultProxy]
) -> None:
    digest = push_image(plain_registry, "team/app", "1.0", platforms=["linux/amd64", "linux/arm64"])
    src, dst = proxies(plain_registry), proxies(second_plain_registry)
    item = SyncItem("t", ImageRef(src.host, "team/app", "1.0"), ImageRef(dst.host, "team/app", "1.0"))
    result = SkopeoRelay(retry_times=0).copy(item, plain(src.host), plain(dst.host), None, None)
    assert result.status == "copied", result.error
    assert manifest_digest(second_plain_registry, "team/app", "1.0") == digest
    # distribution answers uploads with an absolute Location: only its rewrite brings them back here
    methods = {(r.method, r.status) for r in dst.records() if "/blobs/uploads/" in r.path}
    assert {("POST", 202), ("PATCH", 202), ("PUT", 201)} <= methods
    assert src.injected() == dst.injected() == 0


# -- registry client: every fault is retried, and only those ---------------------------------------
@pytest.mark.parametrize("fault", [*RANDOM_FAULTS, "slow"])
def test_client_recovers_from_each_fault(
    fault: str, plain_registry: RegistryServer, proxies: Callable[..., FaultProxy]
) -> None:
    digest = push_image(plain_registry, "team/app", "1.0")
    proxy = proxies(plain_registry, slow_seconds=1.0)
    client = client_via(proxy, timeout=0.5 if fault == "slow" else 30.0)
    for method, path, call in [
        ("GET", r"/v2/_catalog", lambda: list(client.catalog())),
        ("GET", r"/v2/team/app/tags/list", lambda: client.list_tags("team/app")),
        ("GET", MANIFESTS, lambda: client.get_manifest("team/app", "1.0")[2]),
        ("HEAD", MANIFESTS, lambda: client.head_manifest("team/app", "1.0").digest),
    ]:
        if method == "HEAD" and fault in ("reset", "truncate"):
            continue  # no body to cut
        proxy.rules = [Rule(fault, method=method, path=path, times=1)]
        before = client.retries
        started = time.monotonic()
        value = call()
        assert value in (["team/app"], ["1.0"], digest), (fault, path)
        assert client.retries == before + 1, (fault, path)
        if fault in ("429-retry-after", "429-retry-date"):
            assert time.monotonic() - started >= 0.9  # Retry-After: 1 s was honoured
    assert proxy.counts()[fault] == 3 if fault in ("reset", "truncate") else 4


def test_client_gives_up_after_the_bound_with_the_real_error(
    plain_registry: RegistryServer, proxies: Callable[..., FaultProxy]
) -> None:
    proxy = proxies(plain_registry, rules=[Rule("503", path=r"/v2/_catalog")])
    client = client_via(proxy)
    with pytest.raises(RegistryError, match="503"):
        list(client.catalog())
    assert len([r for r in proxy.records() if r.path == "/v2/_catalog"]) == FAST.attempts
    assert client.retries == FAST.attempts - 1


def test_not_found_and_refused_credentials_are_never_retried(
    auth_registry: RegistryServer, proxies: Callable[..., FaultProxy]
) -> None:
    push_image(auth_registry, "team/app", "1.0")
    proxy = proxies(auth_registry)
    user, password = auth_registry.username or "", auth_registry.password or ""
    good = RegistryClient(plain(proxy.host), Credentials(user, password), retry=FAST)
    assert good.head_manifest("team/app", "absent") is None
    with pytest.raises(RegistryError) as caught:
        good.get_manifest("team/app", "absent")
    assert caught.value.status == 404
    assert good.retries == 0
    bad = RegistryClient(plain(proxy.host), Credentials(user, "wrong"), retry=FAST)
    proxy.reset_counts()
    with pytest.raises(AuthError):
        bad.list_tags("team/app")
    assert bad.retries == 0
    assert len(proxy.records()) == 2  # the anonymous try and the one with credentials, no more


def test_catalog_lister_pages_complete_through_random_faults(
    plain_registry: RegistryServer, proxies: Callable[..., FaultProxy], tmp_path: Path
) -> None:
    names = sorted(f"many/repo-{n:03d}" for n in range(230))
    push_repositories(plain_registry, names)
    proxy = proxies(plain_registry, rate=0.3, seed=11, faults=("500", "503", "429", "truncate", "reset"))
    config = load_config(
        write_config(
            tmp_path,
            f"""
            lister: {{pageSize: 10}}
            tasks:
              - name: t
                source: {{registry: "{proxy.host}", insecure: true}}
                target: {{registry: "127.0.0.1:9", insecure: true}}
                mappings: [{{from: "regex:.*"}}]
            """,
        )
    )
    clients: list[RegistryClient] = []

    def factory(source: object) -> RegistryClient:
        clients.append(client_via(proxy, retry=RetryPolicy(attempts=10, base_delay=0.01, max_delay=0.1)))
        return clients[-1]

    listed = list(make_lister(config.tasks[0].source, config.lister, factory).list_repositories())
    assert listed == names
    assert proxy.injected() > 0
    assert clients[0].retries == proxy.injected()  # one retry per injected fault, none given up


# -- relay: skopeo through the proxy, and the re-run of a failed copy -----------------------------
@pytest.mark.parametrize(
    ("fault", "path", "first_reason"),
    [
        ("500", BLOBS, "server-error"),
        ("503", MANIFESTS, "network"),
        ("truncate", MANIFESTS, "network"),
        ("502", r"/v2/", "server-error"),
    ],
)
def test_failed_copy_is_run_again_within_the_run(
    fault: str,
    path: str,
    first_reason: str,
    plain_registry: RegistryServer,
    second_plain_registry: RegistryServer,
    proxies: Callable[..., FaultProxy],
    tmp_path: Path,
) -> None:
    digest = push_image(plain_registry, "team/app", "1.0", layers=2)
    src = proxies(plain_registry, rules=[Rule(fault, method="GET", path=path, times=1)])
    skopeo = LoggingSkopeo(tmp_path / "bin")
    relay = SkopeoRelay(binary=str(skopeo.binary), retry_times=0, timeout=120)
    item = SyncItem(
        "t", ImageRef(src.host, "team/app", "1.0"), ImageRef(second_plain_registry.host, "team/app", "1.0")
    )
    outcomes = []

    def copy_once() -> CopyResult:
        result = relay.copy(item, plain(src.host), plain(second_plain_registry.host), None, None)
        outcomes.append(result.reason)
        return result

    final = retry_copy(copy_once, RetryPolicy(attempts=3, base_delay=0.05), what="copy")
    assert outcomes == [first_reason, "copied"]
    assert final.attempts == 2
    assert manifest_digest(second_plain_registry, "team/app", "1.0") == digest
    assert len(skopeo.runs()) == 2
    assert src.counts() == {fault: 1}


def test_reset_mid_blob_is_retried_inside_one_skopeo_run(
    plain_registry: RegistryServer,
    second_plain_registry: RegistryServer,
    proxies: Callable[..., FaultProxy],
) -> None:
    digest = push_image(plain_registry, "big/app", "1.0", layer_size=2 * 1024 * 1024)
    src = proxies(plain_registry, rules=[Rule("reset", method="GET", path=BLOBS, times=1)])
    item = SyncItem(
        "t", ImageRef(src.host, "big/app", "1.0"), ImageRef(second_plain_registry.host, "big/app", "1.0")
    )
    result = retry_copy(
        lambda: SkopeoRelay(retry_times=2).copy(
            item, plain(src.host), plain(second_plain_registry.host), None, None
        ),
        copy_policy(3),
        what="copy",
    )
    assert (result.status, result.attempts) == ("copied", 2)  # skopeo's own retry, one process
    assert src.counts() == {"reset": 1}
    assert manifest_digest(second_plain_registry, "big/app", "1.0") == digest


def test_permanent_copy_failures_run_once(
    plain_registry: RegistryServer,
    second_plain_registry: RegistryServer,
    proxies: Callable[..., FaultProxy],
    tmp_path: Path,
) -> None:
    src = proxies(plain_registry)
    skopeo = LoggingSkopeo(tmp_path / "bin")
    item = SyncItem(
        "t", ImageRef(src.host, "team/absent", "1.0"), ImageRef(second_plain_registry.host, "x", "1.0")
    )
    relay = SkopeoRelay(binary=str(skopeo.binary), retry_times=0)
    result = retry_copy(
        lambda: relay.copy(item, plain(src.host), plain(second_plain_registry.host), None, None),
        RetryPolicy(attempts=5, base_delay=0.01),
        what="copy",
    )
    assert result.reason == "not-found"
    assert len(skopeo.runs()) == 1


# -- rate-limit budget and per-source concurrency ---------------------------------------------------
def _sync_config(tmp_path: Path, src: str, dst: str, extra: str = "", source_extra: str = "") -> Path:
    return write_config(
        tmp_path,
        f"""
        {extra}
        tasks:
          - name: t
            source: {{registry: "{src}", insecure: true{source_extra}}}
            target: {{registry: "{dst}", insecure: true}}
            mappings: [{{from: "regex:team/.*"}}]
        """,
    )


def test_low_budget_defers_copies_and_nothing_is_copied(
    plain_registry: RegistryServer,
    second_plain_registry: RegistryServer,
    proxies: Callable[..., FaultProxy],
    tmp_path: Path,
) -> None:
    for n in range(3):
        push_image(plain_registry, f"team/app{n}", "1.0", seed=f"a{n}")
    headers = {"RateLimit-Limit": "100;w=21600", "RateLimit-Remaining": "4;w=21600"}
    src = proxies(plain_registry, extra_headers=headers)
    skopeo = LoggingSkopeo(tmp_path / "bin")
    config = load_config(
        _sync_config(tmp_path, src.host, second_plain_registry.host, f"skopeo: {{binary: {skopeo.binary}}}")
    )
    registries = Registries(config, rate_limits=ratelimit.RateLimits(max_wait=0))  # as on Lambda: no waiting
    report = sync_config(config, concurrency=2, copy_retry=RetryPolicy(attempts=1), registries=registries)
    assert [r.reason for r in report.results] == ["rate-limit"] * 3
    assert all("deferred" in (r.error or "") for r in report.results)
    assert skopeo.runs() == []
    assert catalog(second_plain_registry) == []
    # what the AWS relay handler asks: 7 pulls short of the floor, 216 s each, capped at 900 s
    assert registries.rate_limits.defer_seconds(src.host) == 900

    src.extra_headers = {"RateLimit-Limit": "100;w=21600", "RateLimit-Remaining": "90;w=21600"}
    report = sync_config(config, concurrency=2)
    assert report.counts()["copied"] == 3
    assert len(skopeo.runs()) == 3


def test_budget_just_below_the_floor_waits_then_copies(
    plain_registry: RegistryServer,
    second_plain_registry: RegistryServer,
    proxies: Callable[..., FaultProxy],
    tmp_path: Path,
) -> None:
    push_image(plain_registry, "team/app", "1.0")
    # 10 left, floor 10, one pull back every 2 s (100 per 200 s): the copy waits about 2 s
    headers = {"RateLimit-Limit": "100;w=200", "RateLimit-Remaining": "10;w=200"}
    src = proxies(plain_registry, extra_headers=headers)
    config = load_config(_sync_config(tmp_path, src.host, second_plain_registry.host))
    started = time.monotonic()
    report = sync_config(config, concurrency=1)
    assert report.counts()["copied"] == 1
    assert time.monotonic() - started >= 1.5


def test_max_concurrent_copies_per_source(
    plain_registry: RegistryServer,
    second_plain_registry: RegistryServer,
    proxies: Callable[..., FaultProxy],
    tmp_path: Path,
) -> None:
    for n in range(6):
        push_image(plain_registry, f"team/app{n}", "1.0", seed=f"c{n}")
    src = proxies(plain_registry, rules=[Rule("slow", method="GET", path=MANIFESTS)], slow_seconds=0.3)
    skopeo = LoggingSkopeo(tmp_path / "bin")
    config = load_config(
        _sync_config(
            tmp_path,
            src.host,
            second_plain_registry.host,
            f"skopeo: {{binary: {skopeo.binary}}}",
            ", max-concurrent-copies: 1",
        )
    )
    report = sync_config(config, concurrency=4)
    assert report.counts()["copied"] == 6
    assert skopeo.max_overlap(src.host) == 1
    # without the bound, the pool's 4 relays overlap
    for n in range(6):
        push_image(plain_registry, f"team/app{n}", "1.0", seed=f"changed{n}")
    config = load_config(
        _sync_config(tmp_path, src.host, second_plain_registry.host, f"skopeo: {{binary: {skopeo.binary}}}")
    )
    skopeo.log.unlink()
    assert sync_config(config, concurrency=4).counts()["copied"] == 6
    assert skopeo.max_overlap(src.host) > 1


# -- the figure --------------------------------------------------------------------------------------
CORPUS = 30
FAULT_RATE = 0.2


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_twenty_percent_of_requests_failing_corpus_ends_complete_and_identical(
    registry_factory: Callable[..., RegistryServer],
    proxies: Callable[..., FaultProxy],
    tmp_path: Path,
) -> None:
    source, target = registry_factory(), registry_factory()
    expected: dict[str, str] = {}
    for n in range(CORPUS):
        repo = f"corpus/app{n:02d}"
        platforms = ["linux/amd64", "linux/arm64"] if n % 10 == 0 else None
        expected[repo] = push_image(source, repo, "1.0", platforms=platforms, layer_size=20_000, seed=repo)
    src = proxies(source, rate=FAULT_RATE, seed=2024)
    dst = proxies(target, rate=FAULT_RATE, seed=2025)
    skopeo = LoggingSkopeo(tmp_path / "bin")
    config = load_config(
        write_config(
            tmp_path,
            f"""
            skopeo: {{binary: {skopeo.binary}}}
            retry: {{attempts: 8, copy-attempts: 60}}
            tasks:
              - name: corpus
                source: {{registry: "{src.host}", insecure: true}}
                target: {{registry: "{dst.host}", insecure: true}}
                mappings: [{{from: "regex:corpus/.*"}}]
            """,
        )
    )
    registries = Registries(config)
    started = time.monotonic()
    report = sync_config(config, concurrency=8, registries=registries)
    seconds = time.monotonic() - started

    failures = [(r.reason, r.error) for r in report.results if r.status == "failed"]
    assert report.ok, (failures, report.plan.errors)
    assert report.counts()["copied"] == CORPUS
    # complete and digest-identical
    assert {repo: manifest_digest(target, repo, "1.0") for repo in expected} == expected
    # nothing duplicated or extra: exactly the corpus' repositories, each with its one tag
    assert sorted(catalog(target)) == sorted(expected)
    assert all(list_tags(target, repo) == ["1.0"] for repo in expected)

    requests_seen = len(src.records()) + len(dst.records())
    injected = src.injected() + dst.injected()
    runs = skopeo.runs()
    runs_per_image: dict[str, int] = {}
    for run in runs:
        runs_per_image[run.target] = runs_per_image.get(run.target, 0) + 1
    client_retries = sum(
        registries.client(rc).retries for rc in (config.tasks[0].source, config.tasks[0].target)
    )
    figures = {
        "images": CORPUS,
        "fault_rate": FAULT_RATE,
        "requests": requests_seen,
        "faults_injected": injected,
        "faults_by_kind": dict(sorted({**_merge(src.counts(), dst.counts())}.items())),
        "client_retries": client_retries,
        "skopeo_runs": len(runs),
        "skopeo_reruns": len(runs) - CORPUS,
        "skopeo_attempts_incl_internal_retries": sum(r.attempts for r in report.results),
        "max_runs_for_one_image": max(runs_per_image.values()),
        "seconds": round(seconds, 1),
    }
    print("\nRELIABILITY FIGURES " + json.dumps(figures))
    if os.environ.get("REGMIRROR_FIGURES"):
        Path(os.environ["REGMIRROR_FIGURES"]).write_text(json.dumps(figures, indent=2))
    assert 0.1 < injected / requests_seen < 0.3  # the proxy really failed about a fifth of all requests
    assert len(runs_per_image) == CORPUS
    assert len(runs) > CORPUS  # faults hit skopeo too, and the re-runs repaired them


def _merge(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
    return {key: a.get(key, 0) + b.get(key, 0) for key in a.keys() | b.keys()}
