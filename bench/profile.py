"""Profile one regmirror run on the cached corpus with py-spy (every thread, sampled).

    python -m bench.profile [noop|noop-record|cold|plan-scale] [--rate HZ] [--top N] [--svg FILE]

Sets up the corpus and (for no-op) a target synced by regmirror, then runs the scenario under
`py-spy record --format raw` and prints the functions with the most samples, self and inclusive.
py-spy is a development tool, not a dependency: `pip install py-spy` (0.4.3 was used).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from collections import Counter
from pathlib import Path

from bench.corpus import CorpusSpec, ScaleSpec, open_corpus, open_scale_catalog
from bench.measure import run_measured
from bench.run import log
from bench.scenarios import FROM
from bench.tools import REPO_ROOT, regmirror_command, run_driver, run_regmirror, tool_env, write_config
from tests.testbed import RegistryServer


def py_spy() -> str:
    found = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(found).exists():
        raise SystemExit("py-spy not found: pip install py-spy")
    return found


def profile(argv: list[str], raw: Path, rate: int, env: dict[str, str], *, gil: bool = False) -> None:
    """`--gil`: only samples of the thread holding the GIL, i.e. where Python spends CPU (without it,
    threads waiting for the GIL or a socket show up wherever they wait)."""
    spy = [py_spy(), "record", "--format", "raw", "--rate", str(rate), "--subprocesses", "-o", str(raw)]
    spy += ["--gil", "--"] if gil else ["--"]
    measured = run_measured([*spy, *argv], env=env, cwd=REPO_ROOT)
    if measured.returncode != 0 or "Traceback" in measured.stderr:
        raise SystemExit(f"profiled run failed: {measured.stderr[-2000:]}")
    log(f"profiled run: {measured.wall:.2f} s wall, {measured.cpu:.2f} s cpu")


def _frame_name(frame: str) -> str:
    """`func (path/to/file.py:12)` -> `func (file.py`."""
    function, _, where = frame.partition(" (")
    return f"{function} ({where.split(':')[0].split('/')[-1]}"


def summarise(raw: Path, top: int) -> str:
    """Self and inclusive sample counts per function from py-spy's collapsed stacks."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        frames = [
            f.split(" (")[0] + " (" + f.split(" (")[-1].split(":")[0].split("/")[-1] for f in stack.split(";")
        ]
        total += count
        own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    lines = [f"{total} samples", "", "self:"]
    lines += [f"  {n / total:6.1%}  {name})" for name, n in own.most_common(top)]
    lines += ["", "inclusive:"]
    lines += [f"  {n / total:6.1%}  {name})" for name, n in inclusive.most_common(top)]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile")
    parser.add_argument(
        "scenario", choices=["noop", "noop-record", "cold", "plan-scale"], default="noop", nargs="?"
    )
    parser.add_argument("--rate", type=int, default=250)
    parser.add_argument("--gil", action="store_true", help="sample only the GIL holder (CPU view)")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--raw", type=Path, help="keep py-spy's collapsed stacks here")
    args = parser.parse_args()
    cache = REPO_ROOT / "bench" / ".cache"
    with tempfile.TemporaryDirectory(prefix="regmirror-profile-") as tmp:
        work = Path(tmp)
        env = tool_env(work / "home")
        raw = args.raw or work / "profile.txt"
        if args.scenario == "plan-scale":
            spec = ScaleSpec()
            with (
                open_scale_catalog(spec, cache, log) as source,
                RegistryServer(base_dir=work / "t") as target,
            ):
                config = write_config(work / "c.yaml", source, target, spec.regex)
                profile(
                    [*regmirror_command(), "plan", str(config), "--json"], raw, args.rate, env, gil=args.gil
                )
        else:
            with (
                open_corpus(CorpusSpec(), cache, log) as corpus,
                RegistryServer(base_dir=work / "t") as target,
            ):
                config = write_config(work / "c.yaml", corpus.server, target, FROM)
                record = ["--record", str(work / "record.json")]
                if args.scenario != "cold":
                    run_regmirror(["sync", str(config)], env, timeout=1800)
                    run_driver([str(config), *record], env, timeout=1800)
                if args.scenario == "noop-record":
                    argv = [sys.executable, "-m", "bench.driver", str(config), *record]
                else:
                    argv = [*regmirror_command(), "sync", str(config), "--json"]
                profile(argv, raw, args.rate, env, gil=args.gil)
        print(summarise(raw, args.top))
    return 0


if __name__ == "__main__":
    sys.exit(main())
