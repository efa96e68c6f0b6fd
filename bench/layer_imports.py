"""Cold-start import time of each Lambda handler from the real core layer, on Python 3.12.

    python -m bench.layer_imports              # bundles the layer as `cdk synth` does (pip, ~1 min)
    python -m bench.layer_imports --layer cdk.out/asset.<hash>/python --reps 5

The layer as synth bundles it (infra.bundling: the Lambda platform's cp312 wheels and the core,
compiled by a Python 3.12 when one runs), imported read-only (PYTHONDONTWRITEBYTECODE) by a Python
3.12 whose standard library has its bytecode, as on Lambda; once as shipped and once with every
`__pycache__` of the layer removed (a layer bundled without a 3.12 at hand). Tracing is on, as the
stack sets it, and so are the runtime's own variables (LAMBDA_TASK_ROOT, AWS_EXECUTION_ENV, _HANDLER):
the X-Ray SDK behaves differently inside Lambda.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from infra.bundling import bundle_layer, layer_python

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
FUNCTIONS = ("lister", "relay", "push")
IMPORT = (
    "import importlib.util, sys, time; sys.path[:0] = [{layer!r}]; start = time.perf_counter(); "
    "spec = importlib.util.spec_from_file_location('handler', {handler!r}); "
    "module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module); "
    "print((time.perf_counter() - start) * 1000)"
)


def import_ms(python: str, layer: Path, function: str) -> float:
    code = IMPORT.format(layer=str(layer), handler=str(ROOT / "functions" / function / "handler.py"))
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONDONTWRITEBYTECODE": "1",  # Lambda's layers are read-only
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "AWS_LAMBDA_FUNCTION_NAME": f"regmirror-{function}",
        "POWERTOOLS_SERVICE_NAME": f"regmirror-{function}",
        # The runtime's own variables: with LAMBDA_TASK_ROOT set the X-Ray SDK takes Lambda's
        # sampling decision (LocalSampler) instead of building a sampling client (a botocore client
        # for the X-Ray API, ~0.3 s): without them this would measure a cold start that never happens.
        "LAMBDA_TASK_ROOT": str(ROOT / "functions" / function),
        "LAMBDA_RUNTIME_DIR": "/var/runtime",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
        "_HANDLER": "handler.handler",
    }
    answer = subprocess.run([python, "-c", code], env=env, capture_output=True, text=True, check=True)
    return float(answer.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.layer_imports", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--layer", type=Path, help="a bundled layer's python/ folder (default: bundle one)")
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args(argv)
    python = layer_python()
    if python is None:
        parser.error("no Python 3.12 runs here (python3.12 on PATH, pyenv, or REGMIRROR_LAYER_PYTHON)")
    with tempfile.TemporaryDirectory(prefix="regmirror-layer-") as work:
        layer = args.layer
        if layer is None:
            bundle_layer(Path(work) / "bundle")
            layer = Path(work) / "bundle" / "python"
        source_only = Path(work) / "source" / "python"
        shutil.copytree(layer, source_only, ignore=shutil.ignore_patterns("__pycache__"))
        results: dict[str, dict[str, float]] = {}
        for function in FUNCTIONS:
            for variant, folder in (("bytecode", layer), ("source only", source_only)):
                runs = [import_ms(python, folder, function) for _ in range(args.reps)]
                results[f"{function}, {variant}"] = {
                    "median_ms": round(statistics.median(runs)),
                    "min_ms": round(min(runs)),
                }
                print(
                    f"{function:7} {variant:12} median {statistics.median(runs):6.0f} ms"
                    f"  min {min(runs):6.0f} ms"
                )
    load = os.getloadavg()[0]
    print(f"load {load:.2f}")
    RESULTS.mkdir(exist_ok=True)
    record = {
        "python": python,
        "load": load,
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        **results,
    }
    (RESULTS / "layer-imports-latest.json").write_text(json.dumps(record, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
