"""A registry that answers its catalog and tag lists with garbage: malformed JSON, a 200 MB body,
names made to look like options or paths. regmirror fails cleanly (exit 1, one clear message, no
traceback, bounded memory) or skips the bad names with a warning; no bad name ever reaches skopeo.
And a ReDoS pattern on a 50 000-character name is answered in milliseconds (RE2)."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import pytest
from regmirror.cli.main import main
from regmirror.errors import RegistryError
from regmirror.registries.distribution.client import MAX_LIST_BYTES, RegistryClient
from regmirror.registries.endpoint import Endpoint
from regmirror.registries.ratelimit import RateLimits
from regmirror.retry import RetryPolicy

from tests.testbed import RegistryServer, catalog, list_tags, manifest_digest, push_image, write_config
from tests.testbed.faultproxy import FaultProxy
from tests.testbed.scripted import ScriptedRequest, ScriptedServer, json_answer
from tests.testbed.skopeo_log import LoggingSkopeo

REGMIRROR = str(Path(sys.executable).with_name("regmirror"))
HUGE = 200 * 1024 * 1024
JSON = {"Content-Type": "application/json"}

BAD_REPOSITORIES = [
    "-evil",
    "--help",
    "team/../etc/passwd",
    "..",
    "UPPER/Case",
    "a" * 300,
    "team//double",
    "/leading",
    "team/app;rm -rf",
    " team/app",
    "team/app\n",
    "docker://elsewhere/x",
    "",
]
BAD_TAGS = ["-rf", "--all", "..", "a" * 200, ".hidden", "ok\n", "with space", "a/b", ""]


def body(data: str | bytes, **headers: str) -> Callable[[str], tuple[int, dict[str, str], Iterable[bytes]]]:
    payload = data.encode() if isinstance(data, str) else data
    return lambda _query: (200, {**JSON, "Content-Length": str(len(payload)), **headers}, [payload])


def endless_catalog(total: int) -> Iterator[bytes]:
    """`{"repositories": ["aaaa…", …` for `total` bytes, never closed: a streamed monster."""
    yield b'{"repositories": ['
    entry = b'"' + b"a" * 1000 + b'",'
    piece = entry * 256
    sent = 0
    while sent < total:
        yield piece
        sent += len(piece)


@pytest.fixture
def hostile(plain_registry: RegistryServer) -> Iterator[FaultProxy]:
    """A proxy in front of a real registry; tests override what it lists."""
    proxy = FaultProxy(plain_registry.host)
    yield proxy
    proxy.stop()


def client_for(proxy: FaultProxy) -> RegistryClient:
    return RegistryClient(
        Endpoint(proxy.host, insecure=True, verify_tls=False, plain_http=True),
        retry=RetryPolicy(attempts=3, base_delay=0.01),
        rate_limits=RateLimits(),
    )


def plan_config(tmp_path: Path, source: str, target: str = "127.0.0.1:9", extra: str = "") -> Path:
    return write_config(
        tmp_path,
        f"""
        {extra}
        tasks:
          - name: hostile
            source: {{registry: "{source}", insecure: true}}
            target: {{registry: "{target}", insecure: true}}
            mappings: [{{from: "regex:.*"}}]
        """,
    )


# -- malformed answers ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ('{"repositories": ["a", ', "malformed JSON"),
        ("<html><body>502 Bad Gateway</body></html>", "malformed JSON"),
        ("[" * 200_000, "malformed JSON"),  # nesting deep enough to exhaust a recursive parser
        ('{"repositories": "team/app"}', "not a list"),
        ('["team/app"]', "expected a JSON object"),
        ('{"repositories": ["ok"]}\x00\x00garbage', "malformed JSON"),
    ],
    ids=["truncated", "html", "deep", "string-not-list", "list-not-object", "trailing-garbage"],
)
def test_malformed_catalog_fails_the_mapping_cleanly(
    answer: str,
    message: str,
    hostile: FaultProxy,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    hostile.overrides[("GET", "/v2/_catalog")] = body(answer)
    code = main(["plan", str(plan_config(tmp_path, hostile.host))])
    out, err = capsys.readouterr()
    assert code == 1
    assert message in out + err
    assert "Traceback" not in out + err
    # not retried: a malformed answer is no transient failure
    assert len([r for r in hostile.records() if r.path == "/v2/_catalog"]) == 1


def test_non_string_entries_are_skipped_with_a_warning(hostile: FaultProxy) -> None:
    hostile.overrides[("GET", "/v2/_catalog")] = body(
        json.dumps({"repositories": ["team/app", 42, None, {"name": "x"}, ["nested"], True]})
    )
    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = records.append  # type: ignore[method-assign]
    logger = logging.getLogger("regmirror.registry")
    logger.addHandler(handler)
    try:
        assert list(client_for(hostile).catalog()) == ["team/app"]
    finally:
        logger.removeHandler(handler)
    warnings = [r.getMessage() for r in records]
    assert len([w for w in warnings if "skipping invalid repository" in w]) == 5


# -- enormous answers -----------------------------------------------------------------------------
def test_a_200_mb_streamed_catalog_is_cut_at_the_cap_with_bounded_memory(hostile: FaultProxy) -> None:
    hostile.overrides[("GET", "/v2/_catalog")] = lambda _q: (200, dict(JSON), endless_catalog(HUGE))
    client = client_for(hostile)
    tracemalloc.start()
    started = time.monotonic()
    try:
        with pytest.raises(RegistryError, match=r"exceeds the \d+-byte limit"):
            list(client.catalog())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    seconds = time.monotonic() - started
    assert peak < MAX_LIST_BYTES * 1.6  # the capped body, not 200 MB (nor 200 MB parsed)
    assert hostile.sent("/v2/_catalog") < HUGE / 2  # we stopped reading; the server stalled
    assert seconds < 60
    assert len([r for r in hostile.records() if r.path == "/v2/_catalog"]) == 1  # not retried


def test_a_declared_200_mb_answer_is_refused_before_reading(hostile: FaultProxy) -> None:
    hostile.overrides[("GET", "/v2/_catalog")] = lambda _q: (
        200,
        {**JSON, "Content-Length": str(HUGE)},
        endless_catalog(HUGE),
    )
    started = time.monotonic()
    with pytest.raises(RegistryError, match=f"answer of {HUGE} bytes exceeds"):
        list(client_for(hostile).catalog())
    assert time.monotonic() - started < 10
    assert hostile.sent("/v2/_catalog") < 64 * 1024 * 1024


def test_cli_on_an_enormous_catalog_exits_1_with_a_clear_message_and_bounded_rss(
    hostile: FaultProxy, tmp_path: Path
) -> None:
    hostile.overrides[("GET", "/v2/_catalog")] = lambda _q: (200, dict(JSON), endless_catalog(HUGE))
    proc = subprocess.Popen(
        [REGMIRROR, "plan", str(plan_config(tmp_path, hostile.host))],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    peak_kb = 0
    status = Path(f"/proc/{proc.pid}/status")
    while proc.poll() is None:
        try:
            line = next(x for x in status.read_text().splitlines() if x.startswith("VmHWM:"))
            peak_kb = max(peak_kb, int(line.split()[1]))
        except (OSError, StopIteration):
            pass
        time.sleep(0.01)
    out, err = (stream.decode() for stream in proc.communicate(timeout=60))
    assert proc.returncode == 1
    assert "exceeds the" in out + err and "limit" in out + err
    assert "Traceback" not in out + err
    assert 0 < peak_kb * 1024 < 250 * 1024 * 1024  # the interpreter plus one capped page, not 200 MB more


# -- hostile names --------------------------------------------------------------------------------
def test_bad_names_are_skipped_with_warnings_and_never_reach_skopeo(
    plain_registry: RegistryServer,
    second_plain_registry: RegistryServer,
    hostile: FaultProxy,
    tmp_path: Path,
) -> None:
    digests = {repo: push_image(plain_registry, repo, "1.0", seed=repo) for repo in ("team/app", "x/tool")}
    names = ["team/app", *BAD_REPOSITORIES, "x/tool"]
    hostile.overrides[("GET", "/v2/_catalog")] = body(json.dumps({"repositories": names}))
    hostile.overrides[("GET", "/v2/team/app/tags/list")] = body(
        json.dumps({"name": "team/app", "tags": [*BAD_TAGS, "1.0"]})
    )
    skopeo = LoggingSkopeo(tmp_path / "bin")
    config = plan_config(
        tmp_path, hostile.host, second_plain_registry.host, f"skopeo: {{binary: {skopeo.binary}}}"
    )
    done = subprocess.run(
        [REGMIRROR, "sync", str(config), "--json"], capture_output=True, text=True, timeout=180, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    assert report["counts"]["copied"] == 2
    assert sorted(catalog(second_plain_registry)) == ["team/app", "x/tool"]
    assert list_tags(second_plain_registry, "team/app") == ["1.0"]
    assert {repo: manifest_digest(second_plain_registry, repo, "1.0") for repo in digests} == digests
    # each bad name was reported, once per listing
    warned = [line for line in done.stderr.splitlines() if "skipping invalid" in line]
    assert len([w for w in warned if "repository" in w]) == len(BAD_REPOSITORIES)
    assert len([w for w in warned if "tag" in w]) == len(BAD_TAGS)
    # and skopeo only ever saw the two good references, each after `--`
    runs = skopeo.runs()
    assert sorted(run.target for run in runs) == [
        f"docker://{second_plain_registry.host}/team/app:1.0",
        f"docker://{second_plain_registry.host}/x/tool:1.0",
    ]
    assert sorted(run.source for run in runs) == [
        f"docker://{hostile.host}/{repo}@{digests[repo]}" for repo in ("team/app", "x/tool")
    ]
    assert all(run.argv[-3] == "--" for run in runs)
    # nothing was even asked about a bad name: no tag list, no manifest request
    asked = {r.path for r in hostile.records()}
    assert all("/v2/-" not in path and ".." not in path and "UPPER" not in path for path in asked)


# -- regular expressions ----------------------------------------------------------------------------
@pytest.mark.parametrize("pattern", ["(a+)+$", "(a|aa)+$", "(a*)*b", "(.*a){20}"])
def test_redos_pattern_on_a_50000_character_name_takes_milliseconds(
    pattern: str, capsys: pytest.CaptureFixture[str]
) -> None:
    name = "a" * 50_000 + "!"
    assert main(["match", "--from", "regex:warm-up", "warm-up"]) == 0  # imports are not the point
    capsys.readouterr()
    started = time.monotonic()
    code = main(["match", "--from", f"regex:{pattern}", "--to", "regex:(a+)+,x", name, "a" * 50_000])
    seconds = time.monotonic() - started
    out, _ = capsys.readouterr()
    assert code == 0
    assert "of 2 names match" in out
    assert seconds < 0.5, seconds  # RE2 is linear; backtracking would take longer than the universe


def test_redos_through_the_installed_command(tmp_path: Path) -> None:
    name = "a" * 50_000 + "!"
    started = time.monotonic()
    done = subprocess.run(
        [REGMIRROR, "match", "--from", "regex:(a+)+$", "--json", name],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["rows"][0]["matched"] is False
    assert time.monotonic() - started < 5  # interpreter start-up included


def _endless_catalog(repeat: bool) -> ScriptedServer:
    """A catalog whose `Link` always names one more page: new names each time, or the same ones."""
    counter = {"page": 0}

    def page(request: ScriptedRequest) -> tuple[int, dict[str, str], bytes]:
        counter["page"] += 1
        number = 0 if repeat else counter["page"]
        names = [f"team/app-{number:07d}-{i}" for i in range(3)]
        link = f'</v2/_catalog?n=3&last=team/app-{counter["page"]:07d}>; rel="next"'
        return json_answer(json.dumps({"repositories": names}), Link=link)

    def ping(request: ScriptedRequest) -> tuple[int, dict[str, str], bytes]:
        return json_answer("{}")

    return ScriptedServer({("GET", "/v2/_catalog"): page, ("GET", "/v2/"): ping})


@pytest.mark.parametrize("repeat", [False, True], ids=["new-names-forever", "same-names-again"])
def test_a_catalog_paging_without_end_fails_the_mapping_with_a_clear_message(
    repeat: bool, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with _endless_catalog(repeat) as server:
        config = write_config(
            tmp_path,
            f"""
            lister: {{pageSize: 3, pageLimit: 50}}
            tasks:
              - name: t
                source: {{registry: "{server.host}", insecure: true}}
                target: {{registry: "127.0.0.1:9", insecure: true}}
                mappings: [{{from: "regex:team/.*"}}]
            """,
        )
        started = time.monotonic()
        code = main(["plan", str(config)])
        out, err = capsys.readouterr()
        pages = sum(1 for r in server.seen if r.path == "/v2/_catalog")
    assert code == 1
    assert time.monotonic() - started < 30
    if repeat:
        assert "catalog page 2 repeats names of earlier pages" in out and pages == 2
    else:
        assert "names a next page after 50 pages; stopped" in out and "lister.pageLimit" in out
        assert pages == 51
    assert "Traceback" not in err


def test_a_catalog_passing_the_name_limit_fails_the_mapping(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with _endless_catalog(repeat=False) as server:
        config = write_config(
            tmp_path,
            f"""
            lister: {{pageSize: 3, nameLimit: 10}}
            tasks:
              - name: t
                source: {{registry: "{server.host}", insecure: true}}
                target: {{registry: "127.0.0.1:9", insecure: true}}
                mappings: [{{from: "regex:team/.*"}}]
            """,
        )
        code = main(["plan", str(config)])
        out, _err = capsys.readouterr()
    assert code == 1
    assert "the catalog passed 10 names on page 4; stopped" in out and "lister.nameLimit" in out
