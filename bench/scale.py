"""Planning at scale, and start-up cost: `regmirror plan` over a 20 000-repository catalog, and
`python -X importtime` of the CLI and the Lambda handler modules."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.access import count_requests
from bench.corpus import ScaleSpec, open_scale_catalog
from bench.measure import run_measured, summary
from bench.tools import REPO_ROOT, regmirror_command, tool_env, write_config
from tests.testbed import RegistryServer

# name -> (extra plan arguments, catalog page size in the config or None for regmirror's default)
PLAN_VARIANTS: dict[str, tuple[list[str], int | None]] = {
    "plan": ([], None),
    "plan_no_check": (["--no-check"], None),
    "plan_page_1000": ([], 1000),
}


def plan_at_scale(
    spec: ScaleSpec, cache_dir: Path, work: Path, reps: int, timeout: float, log: Callable[[str], None]
) -> dict[str, Any]:
    """`regmirror plan --json` (digest checks against an empty target; `--no-check`; a catalog page
    size of 1000): wall time, peak RSS, requests on the source. Valid when every matching repository
    is planned."""
    env = tool_env(work / "home")
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in PLAN_VARIANTS}
    with (
        open_scale_catalog(spec, cache_dir, log) as source,
        RegistryServer(base_dir=work / "scale-target") as target,
    ):
        for _rep in range(reps):
            for name, (extra, page_size) in PLAN_VARIANTS.items():
                config = write_config(work / f"{name}.yaml", source, target, spec.regex, page_size=page_size)
                mark = source.mark()
                measured = run_measured(
                    [*regmirror_command(), "plan", str(config), "--json", *extra],
                    env=env,
                    cwd=REPO_ROOT,
                    timeout=timeout,
                )
                run = {**measured.as_dict(), "source_requests": count_requests(source, mark)}
                run["valid"] = _plan_valid(measured.returncode, measured.stdout, spec, checked=not extra)
                runs[name].append(run)
                status = "ok" if run["valid"] else "INVALID"
                log(f"  {name:<20} {measured.wall:8.2f} s  rss {run['max_rss_mb']:6.1f} MB  {status}")
    return {
        "catalog_repos": spec.repos,
        "matching": spec.matching,
        "from": spec.regex,
        **{name: _summarise(r) for name, r in runs.items()},
    }


def _plan_valid(returncode: int, stdout: str, spec: ScaleSpec, *, checked: bool) -> bool:
    try:
        counts = json.loads(stdout)["counts"]
    except (ValueError, KeyError):
        return False
    expected_state = "copy" if checked else "pending"  # the target is empty
    return (
        returncode == 0
        and counts.get("total") == spec.matching
        and counts.get(expected_state) == spec.matching
    )


def _summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    valid = [r for r in runs if r["valid"]]
    return {
        "wall_s": summary([r["wall_s"] for r in valid]),
        "max_rss_mb": summary([r["max_rss_mb"] for r in valid]),
        "valid_runs": len(valid),
        "invalid_runs": len(runs) - len(valid),
        "source_requests": valid[0]["source_requests"] if valid else {},
        "runs": runs,
    }


# -- import time -------------------------------------------------------------------------------------
# What `regmirror plan` and `sync` import when they run (regmirror.cli.commands imports them lazily).
SYNC_MODULES = (
    "regmirror.cli.commands",
    "regmirror.config",
    "regmirror.cli.progress",
    "regmirror.cli.render",
    "regmirror.sync.registries",
    "regmirror.sync.run",
)
_IMPORT_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)")


def _import_targets() -> dict[str, tuple[str, str]]:
    """name -> (code to run, module whose cumulative import time is reported)."""
    targets = {
        "regmirror.cli (regmirror --help)": ("import regmirror.cli.main", "regmirror.cli.main"),
        "regmirror.commands (every command)": ("import regmirror.cli.commands", "regmirror.cli.commands"),
        "what `plan` and `sync` import": (f"import {', '.join(SYNC_MODULES)}", ",".join(SYNC_MODULES)),
    }
    for function in ("lister", "relay"):
        handler = REPO_ROOT / "functions" / function / "handler.py"
        if handler.exists():
            code = f"import sys; sys.path.insert(0, {str(handler.parent)!r}); import handler"
            targets[f"functions/{function}/handler.py"] = (code, "handler")
    return targets


def import_times(work: Path, reps: int, timeout: float) -> dict[str, Any]:
    """Cumulative import time (ms, `-X importtime`) and whole-process wall time per module, with
    bytecode (compiled beforehand into a cache of its own) and without any (a read-only Lambda task
    root or layer without `__pycache__`: every cold start compiles from source)."""
    env = tool_env(work / "home")
    # What a Lambda has at import time (regions, no X-Ray daemon); no call leaves the process.
    env.update(AWS_DEFAULT_REGION="us-east-1", AWS_REGION="us-east-1", POWERTOOLS_TRACE_DISABLED="1")
    # the runtime's standard library has bytecode on Lambda; what differs is the code we ship
    # the runtime's standard library has bytecode on Lambda; what differs is the code we ship
    caches = {"bytecode": work / "pycache-all", "no bytecode": work / "pycache-stdlib"}
    codes = [code for code, _module in _import_targets().values()]
    _warm_cache(caches["bytecode"], env, codes, timeout, shipped=True)
    _warm_cache(caches["no bytecode"], env, codes, timeout, shipped=False)
    out: dict[str, Any] = {}
    for name, (code, module) in _import_targets().items():
        for variant, cache in caches.items():
            # PYTHONDONTWRITEBYTECODE keeps each cache as it was filled
            variant_env = {**env, "PYTHONPYCACHEPREFIX": str(cache), "PYTHONDONTWRITEBYTECODE": "1"}
            label = name if variant == "bytecode" else f"{name}, {variant} shipped"
            out[label] = _import_runs(code, module, variant_env, reps, timeout)
    help_walls = [
        run_measured([*regmirror_command(), "--help"], env=env, cwd=REPO_ROOT, timeout=timeout).wall * 1000
        for _ in range(reps)
    ]
    out["regmirror --help (process)"] = {"process_ms": summary(help_walls)}
    return out


def _warm_cache(cache: Path, env: dict[str, str], codes: list[str], timeout: float, *, shipped: bool) -> None:
    """Bytecode of every module the imports load, written into `cache` by running them once; without
    `shipped`, that of the standard library only (the code a layer or image ships is dropped again)."""
    import site

    warm_env = {**env, "PYTHONPYCACHEPREFIX": str(cache)}
    warm_env.pop("PYTHONDONTWRITEBYTECODE", None)
    for code in codes:
        subprocess.run(
            [sys.executable, "-c", code],
            env=warm_env,
            cwd=REPO_ROOT,
            timeout=timeout,
            check=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    if not shipped:
        for folder in (REPO_ROOT, *map(Path, site.getsitepackages())):
            shutil.rmtree(cache / folder.resolve().relative_to("/"), ignore_errors=True)


def _import_runs(code: str, module: str, env: dict[str, str], reps: int, timeout: float) -> dict[str, Any]:
    imports, walls, error = [], [], None
    for _ in range(reps):
        measured = run_measured(
            [sys.executable, "-X", "importtime", "-c", code], env=env, cwd=REPO_ROOT, timeout=timeout
        )
        if measured.returncode != 0:
            error = measured.stderr.strip().splitlines()[-1:] or ["failed"]
            break
        imports.append(_cumulative_ms(measured.stderr, module))
        walls.append(measured.wall * 1000)
    return {"import_ms": summary(imports), "process_ms": summary(walls), "error": error}


def _cumulative_ms(stderr: str, modules: str) -> float:
    """The cumulative import time of `modules` (comma-separated), each imported at the top level of the
    code (so none is counted twice: a module one of them imports is not at the top level)."""
    wanted = set(modules.split(","))
    total = 0
    for line in stderr.splitlines():
        match = _IMPORT_LINE.match(line)
        if match and match.group(4) in wanted and len(match.group(3)) == 1:
            total += int(match.group(2))
    return total / 1000
