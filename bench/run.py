"""regmirror against `skopeo sync`, side by side on one corpus (see bench/README.md).

    python -m bench.run [--smoke] [--reps N] [--repos N] [--tags-per-repo N] [--layers N]
                        [--layer-size BYTES] [--multi-arch-share F] [--only GROUP ...] [--output FILE]
                        [--rtt-ms MS] [--bandwidth-mbit MBIT] [--wan-repos N] [--wan-tags-per-repo N]
                        [--wan-layer-size BYTES]

Groups: sync (cold / no-op / record / changed, A B interleaved), mb (cold sync with MB-sized layers),
wan (cold / no-op / changed across an emulated WAN link, with its floor), scale (plan over a
20 000-repository catalog), imports (start-up). Writes JSON (default bench/results/bench-<time>.json
and bench/results/latest.json) and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.corpus import CorpusSpec, ScaleSpec, open_corpus
from bench.report import all_valid, render_tables
from bench.scale import import_times, plan_at_scale
from bench.scenarios import SyncBench
from bench.tools import REPO_ROOT, SKOPEO, compile_layer
from bench.wan_scenarios import SMOKE_WAN_CORPUS, WAN_CORPUS, LinkSpec, WanBench

GROUPS = ("sync", "mb", "wan", "scale", "imports")
BENCH_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Settings:
    corpus: CorpusSpec
    mb_corpus: CorpusSpec
    wan_corpus: CorpusSpec
    link: LinkSpec
    scale: ScaleSpec
    reps: int
    groups: tuple[str, ...]
    cache_dir: Path
    output: Path
    timeout: float
    concurrency: str | None
    smoke: bool


def parse_size(text: str) -> int:
    units = {"k": 1024, "m": 1024**2, "g": 1024**3}
    clean = text.strip().lower().removesuffix("ib").removesuffix("b")
    if clean and clean[-1] in units:
        return int(float(clean[:-1]) * units[clean[-1]])
    return int(clean)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--smoke", action="store_true", help="tiny corpus, one repetition (< 60 s); for `make test`"
    )
    p.add_argument("--reps", type=int, help="A/B repetitions (default 3; smoke 1)")
    p.add_argument("--repos", type=int, help="repositories in the corpus (default 50)")
    p.add_argument("--tags-per-repo", type=int, help="tags per repository (default 25)")
    p.add_argument("--layers", type=int, help="layers per image (default 1)")
    p.add_argument("--layer-size", type=parse_size, help="bytes per layer, e.g. 512 or 4MiB (default 512)")
    p.add_argument("--multi-arch-share", type=float, help="share of two-platform indexes (default 0.1)")
    p.add_argument("--mb-tags", type=int, help="images in the MB-layer corpus (default 24, 4 per repository)")
    p.add_argument("--mb-layer-size", type=parse_size, help="layer size of the MB corpus (default 2MiB)")
    p.add_argument("--scale-repos", type=int, help="catalog size for planning at scale (default 20000)")
    p.add_argument("--scale-matching", type=int, help="repositories the regex matches (default 2000)")
    p.add_argument("--only", nargs="+", choices=GROUPS, help="run only these groups")
    p.add_argument("--rtt-ms", type=float, help="WAN group: round trip of the emulated link (default 40)")
    p.add_argument("--bandwidth-mbit", type=float, help="WAN group: link bandwidth, Mbit/s (default 200)")
    p.add_argument("--wan-repos", type=int, help="WAN corpus repositories (default 24)")
    p.add_argument("--wan-tags-per-repo", type=int, help="WAN corpus tags per repository (default 2)")
    p.add_argument("--wan-layer-size", type=parse_size, help="WAN corpus layer size (default 256KiB)")
    p.add_argument("--concurrency", help="regmirror --concurrency: auto, auto:MAX or N (default: its own)")
    p.add_argument("--cache-dir", type=Path, help="corpus cache (default bench/.cache)")
    p.add_argument("--output", type=Path, help="results JSON (default bench/results/bench-<time>.json)")
    p.add_argument("--timeout", type=float, default=1800.0, help="seconds per tool run")
    return p


def settings_from(args: argparse.Namespace) -> Settings:
    smoke = args.smoke
    base = CorpusSpec(repos=2, tags_per_repo=4, multi_arch_share=0.25) if smoke else CorpusSpec()
    corpus = CorpusSpec(
        repos=_pick(args.repos, base.repos),
        tags_per_repo=_pick(args.tags_per_repo, base.tags_per_repo),
        layers=_pick(args.layers, base.layers),
        layer_size=_pick(args.layer_size, base.layer_size),
        multi_arch_share=_pick(args.multi_arch_share, base.multi_arch_share),
    )
    mb_tags = _pick(args.mb_tags, 2 if smoke else 24)
    mb = CorpusSpec(
        repos=max(1, mb_tags // 4),
        tags_per_repo=min(4, mb_tags),
        layers=3,
        layer_size=_pick(args.mb_layer_size, 256 * 1024 if smoke else 2 * 1024**2),
        multi_arch_share=0.0,
    )
    wan_base = SMOKE_WAN_CORPUS if smoke else WAN_CORPUS
    wan = CorpusSpec(
        repos=_pick(args.wan_repos, wan_base.repos),
        tags_per_repo=_pick(args.wan_tags_per_repo, wan_base.tags_per_repo),
        layers=wan_base.layers,
        layer_size=_pick(args.wan_layer_size, wan_base.layer_size),
        multi_arch_share=wan_base.multi_arch_share,
    )
    link = LinkSpec(
        rtt=_pick(args.rtt_ms, 40.0) / 1000, bandwidth_bps=_pick(args.bandwidth_mbit, 200.0) * 1e6
    )
    scale = ScaleSpec(
        repos=_pick(args.scale_repos, 400 if smoke else 20000),
        matching=_pick(args.scale_matching, 40 if smoke else 2000),
    )
    cache = args.cache_dir or BENCH_DIR / ".cache"
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    default_out = cache / "smoke-results.json" if smoke else BENCH_DIR / "results" / f"bench-{stamp}.json"
    return Settings(
        corpus=corpus,
        mb_corpus=mb,
        wan_corpus=wan,
        link=link,
        scale=scale,
        reps=_pick(args.reps, 1 if smoke else 3),
        groups=tuple(args.only or GROUPS),
        cache_dir=cache,
        output=args.output or default_out,
        timeout=args.timeout,
        concurrency=args.concurrency,
        smoke=smoke,
    )


def _pick(value: Any, default: Any) -> Any:
    return default if value is None else value


def machine_info() -> dict[str, Any]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in _read("/proc/cpuinfo").splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    mem = next(
        (line.split()[1] for line in _read("/proc/meminfo").splitlines() if line.startswith("MemTotal")), "0"
    )
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu": cpu,
        "memory_gb": round(int(mem) / 1024**2, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "skopeo": _version([SKOPEO, "--version"]),
        "registry": _version(["docker-registry", "--version"]),
        "loadavg_start": list(os.getloadavg()),
    }


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def _version(argv: list[str]) -> str:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False).stdout.strip()
    except OSError as exc:
        return f"unavailable: {exc}"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run_sync_groups(settings: Settings, work: Path, results: dict[str, Any]) -> None:
    scenarios: dict[str, Any] = results.setdefault("scenarios", {})
    if "sync" in settings.groups:
        with open_corpus(settings.corpus, settings.cache_dir, log) as corpus:
            results["corpus"] = corpus.as_dict()
            bench = SyncBench(corpus, work / "sync", settings.timeout, settings.concurrency, log)
            for rep in range(settings.reps):
                log(f"sync scenarios, repetition {rep + 1}/{settings.reps}")
                bench.repetition(rep)
            scenarios.update(bench.results())
    if "mb" in settings.groups:
        with open_corpus(settings.mb_corpus, settings.cache_dir, log) as corpus:
            results["mb_corpus"] = corpus.as_dict()
            bench = SyncBench(corpus, work / "mb", settings.timeout, settings.concurrency, log)
            for rep in range(settings.reps):
                log(f"cold sync with MB layers, repetition {rep + 1}/{settings.reps}")
                bench.repetition(rep, cold_only=True)
            scenarios.update({f"{k}_mb": v for k, v in bench.results().items()})
    if "wan" in settings.groups:
        run_wan_group(settings, work, results)


def run_wan_group(settings: Settings, work: Path, results: dict[str, Any]) -> None:
    link = settings.link
    with open_corpus(settings.wan_corpus, settings.cache_dir, log) as corpus:
        bench = WanBench(corpus, work / "wan", link, settings.timeout, settings.concurrency, log)
        results["wan"] = bench.describe()
        for rep in range(settings.reps):
            log(
                f"WAN scenarios ({link.rtt * 1000:g} ms, {link.bandwidth_bps / 1e6:g} Mbit/s), "
                f"repetition {rep + 1}/{settings.reps}"
            )
            bench.repetition(rep)
        results.setdefault("scenarios", {}).update(bench.results())


def run_bench(settings: Settings) -> dict[str, Any]:
    started = time.time()
    results: dict[str, Any] = {
        "format": 1,
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "smoke": settings.smoke,
        "machine": machine_info(),
        "settings": {
            "reps": settings.reps,
            "groups": list(settings.groups),
            "concurrency": settings.concurrency,
            "scale": asdict(settings.scale),
        },
    }
    settings.cache_dir.mkdir(parents=True, exist_ok=True)
    compile_layer()  # the import group keeps caches of its own (PYTHONPYCACHEPREFIX)
    with tempfile.TemporaryDirectory(prefix="regmirror-bench-") as tmp:
        work = Path(tmp)
        run_sync_groups(settings, work, results)
        if "scale" in settings.groups:
            log(f"plan at scale: {settings.scale.repos} repositories, {settings.scale.matching} matching")
            results["plan_scale"] = plan_at_scale(
                settings.scale, settings.cache_dir, work / "scale", settings.reps, settings.timeout, log
            )
        if "imports" in settings.groups:
            log("import times")
            results["imports"] = import_times(work, max(3, settings.reps), settings.timeout)
    results["machine"]["loadavg_end"] = list(os.getloadavg())
    results["seconds"] = round(time.time() - started, 1)
    results["tables"] = render_tables(results)
    results["valid"] = all_valid(results)
    return results


def write_results(results: dict[str, Any], output: Path) -> None:
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_suffix(".tmp")
    tmp.write_text(json.dumps(results, indent=1) + "\n")
    tmp.replace(output)
    if output.parent == BENCH_DIR / "results" and not results["smoke"]:
        # a run of some groups only (`--only wan`) does not replace the latest full run
        groups = results["settings"]["groups"]
        name = "latest.json" if set(groups) == set(GROUPS) else f"latest-{'-'.join(groups)}.json"
        (output.parent / name).write_text(json.dumps(results, indent=1) + "\n")


def main(argv: list[str] | None = None) -> int:
    settings = settings_from(build_parser().parse_args(argv))
    os.chdir(REPO_ROOT)
    results = run_bench(settings)
    write_results(results, settings.output)
    print(results["tables"])
    invalid = "" if results["valid"] else " — SOME RUNS INVALID"
    log(f"results: {settings.output} ({results['seconds']} s){invalid}")
    return 0 if results["valid"] else 1


if __name__ == "__main__":
    sys.exit(main())
