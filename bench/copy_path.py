"""What one relay copy needs: skopeo's peak memory, its TMPDIR use and its throughput per image size.

    python -m bench.copy_path               # images of one 16, 64 and 200 MiB layer
    python -m bench.copy_path --sizes 255

An image of one random (incompressible) layer is pushed to a loopback registry and copied by skopeo
(`copy --preserve-digests`, as the relay runs it) into another; skopeo's VmHWM is sampled from /proc
and its private TMPDIR's size every 10 ms. These are the figures behind the Lambda limits in docs/aws.md:
whether /tmp or memory, or only time, bounds a copy in Lambda.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from tests.testbed import push_image
from tests.testbed.registry import RegistryServer

RESULTS = Path(__file__).resolve().parent / "results"
MAX_LAYER_MIB = 255  # the test bed's random layers are made in one call (under 2**31 bits)


@dataclass(frozen=True)
class CopyPath:
    layer_mib: int
    seconds: float
    mib_per_second: float
    skopeo_peak_rss_mib: float
    tmpdir_peak_mib: float
    load: float


def _folder_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def _peak_rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


def measure(layer_mib: int) -> CopyPath:
    """One image of one `layer_mib` layer, copied by skopeo as the relay runs it."""
    command = ["skopeo", "copy", "--preserve-digests", "--src-tls-verify=false", "--dest-tls-verify=false"]
    with RegistryServer() as source, RegistryServer() as target, tempfile.TemporaryDirectory() as tmp:
        push_image(source, "big/app", "1.0", layers=1, layer_size=layer_mib * 2**20)
        rss = tmp_peak = 0
        start = time.monotonic()
        child = subprocess.Popen(
            [*command, f"docker://{source.host}/big/app:1.0", f"docker://{target.host}/big/app:1.0"],
            env={**os.environ, "TMPDIR": tmp},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        while child.poll() is None:
            rss = max(rss, _peak_rss_kib(child.pid))
            tmp_peak = max(tmp_peak, _folder_bytes(Path(tmp)))
            time.sleep(0.01)
        seconds = time.monotonic() - start
        if child.returncode != 0:
            raise SystemExit(f"skopeo failed: {child.stderr.read().decode() if child.stderr else ''}")
    return CopyPath(
        layer_mib,
        round(seconds, 2),
        round(layer_mib / seconds, 1),
        round(rss / 1024, 1),
        round(tmp_peak / 2**20, 1),
        os.getloadavg()[0],
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.copy_path", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="16,64,200", help="layer sizes in MiB, one image each")
    args = parser.parse_args(argv)
    results = []
    for size in (int(x) for x in args.sizes.split(",")):
        if not 1 <= size <= MAX_LAYER_MIB:
            parser.error(f"a layer has 1 to {MAX_LAYER_MIB} MiB")
        result = measure(size)
        results.append(asdict(result))
        print(
            f"layer {size} MiB: {result.seconds} s ({result.mib_per_second} MiB/s), skopeo peak RSS "
            f"{result.skopeo_peak_rss_mib} MiB, TMPDIR peak {result.tmpdir_peak_mib} MiB, "
            f"load {result.load:.2f}"
        )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "copy-path-latest.json").write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
