"""Before/after check of the command line: stdout, stderr and exit code of every CLI run below.

    python .ci/cli_snapshot.py OUT.json            # record (e.g. on main before a refactor)
    python .ci/cli_snapshot.py OUT.json --against BEFORE.json   # record again and diff

Covers `--help` of every command, `validate` and `sync` of every example and of the bad-config
corpus, offline `match`, and `plan`/`sync`/`sync --json`/resync of the demo config between two real
loopback registries. Durations (and the registries' random ports, temp folders) are normalised:
everything else must be byte-identical.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

_NOISE = [
    (re.compile(r'"seconds": [0-9.]+'), '"seconds": T'),
    (re.compile(r"\b[0-9]+(?:\.[0-9]+)? ?(?:ms|s)\b"), "T"),
    (re.compile(r"/tmp/[A-Za-z0-9_./-]+"), "/tmp/X"),  # noqa: S108 - a pattern, not a path
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[0-9.:+Z-]*"), "TIME"),
    (re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d[,.]\d+", re.M), "TIME"),
    (re.compile(r"^\d\d:\d\d:\d\d ", re.M), "TIME "),
]


def normalise(text: str) -> str:
    for pattern, repl in _NOISE:
        text = pattern.sub(repl, text)
    return text


def run(args: list[str], env: dict[str, str]) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-m", "regmirror.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=300,
        check=False,
    )
    return {"rc": done.returncode, "out": normalise(done.stdout), "err": normalise(done.stderr)}


def offline_runs(env: dict[str, str]) -> dict[str, object]:
    results: dict[str, object] = {}
    results["--help"] = run(["--help"], env)
    for command in ("validate", "plan", "sync", "run", "match"):
        results[f"{command} --help"] = run([command, "--help"], env)
    configs = sorted((ROOT / "examples").glob("*.yaml")) + sorted(
        (ROOT / "tests/data/good-configs").glob("*.yaml")
    )
    bad = sorted((ROOT / "tests/data/bad-configs").glob("*/*.yaml"))
    for path in configs + bad:
        rel = str(path.relative_to(ROOT))
        results[f"validate {rel}"] = run(["validate", rel], env)
    for path in bad:
        rel = str(path.relative_to(ROOT))
        results[f"sync --json {rel}"] = run(["sync", rel, "--json"], env)
    results["validate --task nothing"] = run(["validate", "examples/local.yaml", "--task", "nothing"], env)
    results["sync --record-ttl 1week"] = run(["sync", "examples/local.yaml", "--record-ttl", "1week"], env)
    names = ["myproject/webui", "myproject/api", "other/x", "jenkins/jnlp-slave"]
    for spec in (
        ["--from", "regex:myproject/.*", "--to", "regex:my(.+)/,mirror/your$1/"],
        ["--from", "regex:jenkins/jnlp-.*", "--to", "regex:jenkins/,dh/other-jenkins/", "--json"],
        ["--from", "myproject/webui", "--to", "copy/webui", "--tags", "semver: >=1.0.0"],
        ["--from", "regex:(", "--to", "x"],
        ["--from", "regex:.*", "--to", "regex:(a,$9"],
    ):
        results[f"match {' '.join(spec)}"] = run(["match", *spec, *names], env)
    return results


def demo_runs(env: dict[str, str]) -> dict[str, object]:
    from examples.demo import CONFIG, IMAGES, SOURCE_PORT, TARGET_PORT
    from tests.testbed import RegistryServer, push_image

    results: dict[str, object] = {}
    with tempfile.TemporaryDirectory(prefix="regmirror-snapshot-") as tmp:
        work = Path(tmp)
        env = {**env, "XDG_STATE_HOME": str(work / "state")}
        with (
            RegistryServer(port=SOURCE_PORT, base_dir=work / "source") as source,
            RegistryServer(port=TARGET_PORT, base_dir=work / "target"),
        ):
            for repo, tag, platforms in IMAGES:
                push_image(source, repo, tag, platforms=platforms, seed=f"{repo}:{tag}", shared_base=True)
            config = str(CONFIG.relative_to(ROOT))
            for name, args in (
                ("plan", ["plan", config]),
                ("plan --json", ["plan", config, "--json"]),
                ("plan --no-check", ["plan", config, "--no-check"]),
                ("sync", ["sync", config, "--no-progress", "--concurrency", "1"]),
                ("resync --json", ["sync", config, "--json"]),
                ("resync --no-record --json", ["sync", config, "--json", "--no-record"]),
                ("plan after sync", ["plan", config]),
            ):
                results[f"demo {name}"] = run(args, env)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--against", type=Path, help="a snapshot recorded before; exit 1 on any difference")
    parser.add_argument("--offline", action="store_true", help="skip the demo registries")
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOG_", "REGMIRROR_"))}
    env["COLUMNS"] = "100"
    results = offline_runs(env)
    if not args.offline:
        results.update(demo_runs(env))
    args.out.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"{len(results)} CLI runs recorded in {args.out}")
    if args.against is None:
        return 0
    before = {
        key: {k: normalise(v) if isinstance(v, str) else v for k, v in value.items()}
        for key, value in json.loads(args.against.read_text(encoding="utf-8")).items()
    }
    differences = 0
    for key in sorted(set(before) | set(results)):
        old = json.dumps(before.get(key), indent=1, sort_keys=True).splitlines()
        new = json.dumps(results.get(key), indent=1, sort_keys=True).splitlines()
        if old != new:
            differences += 1
            print(f"--- {key}")
            print("\n".join(difflib.unified_diff(old, new, "before", "after", lineterm="", n=1)))
    print(f"{differences} of {len(results)} CLI runs differ")
    return 1 if differences else 0


if __name__ == "__main__":
    sys.exit(main())
