"""The core layer asset: `layers/regmirror/` plus its runtime dependencies, bundled without Docker.

CDK's Docker-based bundling cannot run where there is no Docker engine (CI, this project's dev
machines), so the layer is bundled locally: pip downloads the Lambda platform's binary wheels
(`--platform manylinux… --only-binary=:all: --python-version 3.12`) into `python/`, and the core
package is copied next to them. CDK runs bundling only for the stacks being deployed or synthesized
(context `aws:cdk:bundling-stacks`); tests set it to `[]`, so they never run pip.

Bytecode: Lambda's layers are read-only, so a layer without `__pycache__` compiles every module it
imports on each cold start (about 1 s more here). The bytecode must come from the runtime's own
Python (3.12: its magic number); when a `python3.12` runs (on PATH, in pyenv, or named by
REGMIRROR_LAYER_PYTHON), the layer is compiled by it with `unchecked-hash` validation (no mtimes
needed: the layer never changes); otherwise it ships source only, and the synth says so.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import jsii
from aws_cdk import AssetHashType, BundlingOptions, DockerImage, FileSystem, ILocalBundling
from aws_cdk import aws_lambda as lambda_

from infra.settings import REPO_ROOT

LAYER_DIR = REPO_ROOT / "layers" / "regmirror"
CORE_PACKAGE = LAYER_DIR / "python" / "regmirror"
LAMBDA_REQUIREMENTS = REPO_ROOT / "requirements-lambda.txt"
# Requirement files the Lambda requirements include (`-r requirements.txt`): part of the asset hash.
REQUIREMENT_FILES = (REPO_ROOT / "requirements.txt", LAMBDA_REQUIREMENTS)
PYTHON_VERSION = "3.12"
# AL2023 (the python3.12 runtime's OS) has glibc 2.34: both wheel tags run there.
PLATFORMS = {
    "x86_64": ("manylinux2014_x86_64", "manylinux_2_28_x86_64"),
    "arm64": ("manylinux2014_aarch64", "manylinux_2_28_aarch64"),
}
LAYER_EXCLUDES = ["**/__pycache__", "**/*.pyc", "*.egg-info", "python/*.egg-info"]


def pip_install_command(
    target: Path, requirements: Path = LAMBDA_REQUIREMENTS, architecture: str = "x86_64"
) -> list[str]:
    platforms = [arg for platform in PLATFORMS[architecture] for arg in ("--platform", platform)]
    return [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-compile",
        *platforms,
        "--implementation",
        "cp",
        "--python-version",
        PYTHON_VERSION,
        "--only-binary=:all:",
        "--target",
        str(target),
        "-r",
        str(requirements),
    ]


def layer_python() -> str | None:
    """The interpreter that compiles the layer's bytecode: REGMIRROR_LAYER_PYTHON, else the first
    `python3.12` that runs: on PATH, then pyenv's installed 3.12 versions (pyenv's PATH shim fails
    unless 3.12 is selected)."""
    named = os.environ.get("REGMIRROR_LAYER_PYTHON")
    if named:
        return named
    pyenv = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    found = shutil.which(f"python{PYTHON_VERSION}")
    candidates = [found] if found else []
    candidates += [
        str(p) for p in sorted(pyenv.glob(f"versions/{PYTHON_VERSION}.*/bin/python{PYTHON_VERSION}"))
    ]
    return next((c for c in candidates if _runs(c)), None)


def _runs(python: str) -> bool:
    try:
        return subprocess.run([python, "-c", ""], capture_output=True, check=False).returncode == 0
    except OSError:
        return False


def compile_layer(site: Path, python: str, expected: str = PYTHON_VERSION) -> bool:
    """Compile everything under `site` with `python` if it is Python `expected`; False when not."""
    try:
        answer = subprocess.run(
            [python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError as exc:
        answer = subprocess.CompletedProcess([python], 127, "", str(exc))
    if answer.returncode != 0:  # e.g. a pyenv shim for a version that is not installed
        why = (answer.stderr.strip().splitlines() or [f"exit status {answer.returncode}"])[-1]
        print(f"layer bytecode: {python} does not run ({why}): not compiled", file=sys.stderr)
        return False
    version = answer.stdout.strip()
    if version != expected:
        print(f"layer bytecode: {python} is Python {version}, not {expected}: not compiled", file=sys.stderr)
        return False
    command = [
        python,
        "-m",
        "compileall",
        "-q",
        "-j",
        "0",
        "--invalidation-mode",
        "unchecked-hash",
        str(site),
    ]
    subprocess.run(command, check=True)
    return True


def bundle_layer(output_dir: Path, architecture: str = "x86_64") -> None:
    """Write the layer tree (`python/<deps>`, `python/regmirror`) into output_dir, compiled when a
    Python 3.12 is at hand."""
    site = output_dir / "python"
    site.mkdir(parents=True, exist_ok=True)
    subprocess.run(pip_install_command(site, architecture=architecture), check=True, cwd=REPO_ROOT)
    shutil.copytree(
        CORE_PACKAGE,
        site / "regmirror",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
        dirs_exist_ok=True,
    )
    python = layer_python()
    if python is None:
        print(
            f"layer bytecode: no python{PYTHON_VERSION} on PATH (or REGMIRROR_LAYER_PYTHON): the layer ships "
            "source only, and each cold start compiles what it imports",
            file=sys.stderr,
        )
    else:
        compile_layer(site, python)


@jsii.implements(ILocalBundling)
class PipLocalBundling:
    """CDK local bundling hook: never falls back to Docker (a pip failure fails the synth loudly)."""

    def __init__(self, architecture: str = "x86_64") -> None:
        self.architecture = architecture

    def try_bundle(self, output_dir: str, *_options: object, **_kwargs: object) -> bool:
        bundle_layer(Path(output_dir), self.architecture)
        return True


def layer_asset_hash(architecture: str = "x86_64") -> str:
    """Source hash over the core package, the pinned requirements, the architecture and whether it is
    compiled: a pin change (or another CPU, or bytecode) rebuilds the layer."""
    digest = hashlib.sha256(FileSystem.fingerprint(str(LAYER_DIR), exclude=LAYER_EXCLUDES).encode())
    if architecture != "x86_64":  # x86_64 layers keep the hash they always had
        digest.update(architecture.encode())
    if layer_python() is not None:  # a compiled layer is another asset than a source-only one
        digest.update(b"bytecode")
    for path in REQUIREMENT_FILES:
        digest.update(path.read_bytes())
    return digest.hexdigest()


def core_layer_code(architecture: str = "x86_64") -> lambda_.Code:
    return lambda_.Code.from_asset(
        str(LAYER_DIR),
        exclude=LAYER_EXCLUDES,
        asset_hash_type=AssetHashType.CUSTOM,
        asset_hash=layer_asset_hash(architecture),
        bundling=BundlingOptions(
            # Required by the API, never pulled: local bundling always succeeds or raises.
            image=DockerImage.from_registry("public.ecr.aws/sam/build-python3.12"),
            local=PipLocalBundling(architecture),
        ),
    )
