"""The two contenders, run as a user would run them: `regmirror sync` and `skopeo sync`.

Both get the same image set, `--all --preserve-digests` semantics, plain HTTP to loopback registries,
a private HOME (no ambient credentials or config) and the same environment otherwise.
"""

from __future__ import annotations

import json
import os
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from bench.corpus import NAMESPACE
from bench.measure import Measured, run_measured
from tests.testbed import RegistryServer

REPO_ROOT = Path(__file__).resolve().parent.parent
SKOPEO = os.environ.get("REGMIRROR_BENCH_SKOPEO", "skopeo")


def regmirror_command() -> list[str]:
    """The installed console script next to this interpreter (what a user runs), else `-m`."""
    script = Path(sys.executable).parent / "regmirror"
    return [str(script)] if script.exists() else [sys.executable, "-m", "regmirror.cli"]


LAYER_PACKAGE = REPO_ROOT / "layers" / "regmirror" / "python" / "regmirror"


def compile_layer() -> None:
    """Bytecode next to regmirror's sources, as `pip install` of a wheel leaves it: an editable
    install under PYTHONDONTWRITEBYTECODE (set on these machines) would otherwise compile every
    module in every timed process (~80 ms of each run), which no installed copy does."""
    import compileall

    compileall.compile_dir(LAYER_PACKAGE, quiet=1)


def tool_env(home: Path) -> dict[str, str]:
    """The harness's environment with a private HOME, state and runtime dir (auth files, records)."""
    home.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.update(
        HOME=str(home),
        XDG_STATE_HOME=str(home / "state"),
        XDG_RUNTIME_DIR=str(home),
        XDG_CONFIG_HOME=str(home / "config"),
    )
    env.pop("LOG_LEVEL", None)
    env.pop("LOG_FORMAT", None)
    return env


class Addressed(Protocol):
    """A registry as the tools see it: a test-bed server, or a link in front of one (`bench.wan`)."""

    @property
    def host(self) -> str: ...


def write_config(
    path: Path, source: Addressed, target: Addressed, from_: str, *, page_size: int | None = None
) -> Path:
    """A dregsy-syntax config mirroring `from_` (a `regex:` or plain path) with paths unchanged;
    `page_size` sets the catalog lister's `pageSize` (default: regmirror's)."""
    lister = f"lister: {{pageSize: {page_size}}}\n" if page_size else ""
    path.write_text(
        lister + "tasks:\n"
        "  - name: bench\n"
        f'    source: {{registry: "{source.host}", insecure: true}}\n'
        f'    target: {{registry: "{target.host}", insecure: true}}\n'
        "    mappings:\n"
        f"      - from: {json.dumps(from_)}\n"
    )
    return path


@dataclass
class ToolRun:
    tool: str
    measured: Measured
    report: dict[str, Any]  # regmirror's JSON report, or what skopeo's log says

    @property
    def ok(self) -> bool:
        return self.measured.returncode == 0 and not self.measured.timed_out

    def as_dict(self) -> dict[str, Any]:
        return {"tool": self.tool, **self.measured.as_dict(), **self.report}


def run_regmirror(args: list[str], env: dict[str, str], *, timeout: float) -> ToolRun:
    """`regmirror <args> --json`; the report's counts are kept (the full item list is not)."""
    measured = run_measured([*regmirror_command(), *args, "--json"], env=env, cwd=REPO_ROOT, timeout=timeout)
    return ToolRun("regmirror", measured, _regmirror_summary(measured))


def run_driver(args: list[str], env: dict[str, str], *, timeout: float) -> ToolRun:
    """`python -m bench.driver ...`: regmirror's sync service with a copy record (see driver.py)."""
    argv = [sys.executable, "-m", "bench.driver", *args]
    measured = run_measured(argv, env=env, cwd=REPO_ROOT, timeout=timeout)
    return ToolRun("regmirror", measured, _regmirror_summary(measured))


def _regmirror_summary(measured: Measured) -> dict[str, Any]:
    try:
        data = json.loads(measured.stdout)
    except ValueError:
        return {"error": measured.stderr[-2000:]}
    summary: dict[str, Any] = {"counts": data.get("counts", {})}
    items = (data.get("plan") or data).get("items") or []
    summary["trusted_from_record"] = sum(1 for i in items if str(i.get("note", "")).startswith("copy record"))
    if data.get("requests"):
        summary["client_requests"] = data["requests"]
    if data.get("record"):
        summary["record"] = data["record"]
    if not data.get("ok", True) or data.get("errors"):
        summary["error"] = (data.get("errors") or [])[:3] or measured.stderr[-2000:]
    return summary


def corpus_plan(
    config: Path, source: RegistryServer, images: int, env: dict[str, str], *, timeout: float
) -> dict[str, Any]:
    """regmirror's plan (no digest checks) of a corpus, written to `config`: the image set skopeo
    gets too. Raises when it fails or does not hold the corpus's `images`."""
    write_config(config, source, source, f"regex:{NAMESPACE}/.*")
    run = run_regmirror(["plan", str(config), "--no-check"], env, timeout=timeout)
    if not run.ok:
        raise RuntimeError(f"regmirror plan failed: {run.measured.stderr[-2000:]}")
    plan: dict[str, Any] = json.loads(run.measured.stdout)
    if len(plan["items"]) != images:
        raise RuntimeError(f"plan has {len(plan['items'])} images, corpus {images}")
    return plan


def skopeo_yaml(plan: dict[str, Any], source: RegistryServer) -> str:
    """`skopeo sync --src yaml` input holding exactly the images of regmirror's plan."""
    tags: dict[str, list[str]] = defaultdict(list)
    prefix = f"{source.host}/"
    for item in plan["items"]:
        ref = item["source"].removeprefix(prefix)
        repository, _, tag = ref.rpartition(":")
        tags[repository].append(tag)
    lines = [f"{source.host}:", "  tls-verify: false", "  images:"]
    for repository in sorted(tags):
        lines.append(f"    {repository}:")
        lines += [f"      - {tag}" for tag in tags[repository]]
    return "\n".join(lines) + "\n"


def run_skopeo_sync(
    yaml_file: Path, target: Addressed, namespace: str, env: dict[str, str], *, timeout: float
) -> ToolRun:
    """`skopeo sync --src yaml --dest docker FILE TARGET/<namespace>`: without `--scoped`, skopeo keeps
    the last path component, so `<namespace>/<name>` lands at the same path as in the source."""
    argv = [
        SKOPEO,
        "sync",
        "--all",
        "--preserve-digests",
        "--src",
        "yaml",
        "--dest",
        "docker",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
        str(yaml_file),
        f"{target.host}/{namespace}",
    ]
    measured = run_measured(argv, env=env, cwd=REPO_ROOT, timeout=timeout)
    report: dict[str, Any] = {}
    if measured.returncode != 0:
        report["error"] = measured.stderr[-2000:]
    return ToolRun("skopeo", measured, report)
