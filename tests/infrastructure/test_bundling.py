"""The layer's bytecode: compiled by the runtime's Python when one is at hand, never by another."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from infra.bundling import compile_layer, layer_python


def package(tmp_path: Path) -> Path:
    site = tmp_path / "python"
    (site / "pkg").mkdir(parents=True)
    (site / "pkg" / "__init__.py").write_text("VALUE = 1\n")
    return site


def test_the_layer_is_compiled_by_a_python_of_the_runtime_version_with_unchecked_hashes(
    tmp_path: Path,
) -> None:
    site = package(tmp_path)
    running = f"{sys.version_info[0]}.{sys.version_info[1]}"
    assert compile_layer(site, sys.executable, expected=running)
    (pyc,) = (site / "pkg" / "__pycache__").glob("*.pyc")
    assert f"cpython-{sys.version_info[0]}{sys.version_info[1]}" in pyc.name
    flags = int.from_bytes(pyc.read_bytes()[4:8], "little")
    assert flags == 0b01  # PEP 552: hash-based, not checked against the source (no mtimes in a layer)


def test_another_python_version_compiles_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    site = package(tmp_path)
    assert not compile_layer(site, sys.executable, expected="3.0")
    assert not (site / "pkg" / "__pycache__").exists()
    assert "not 3.0: not compiled" in capsys.readouterr().err


def test_the_interpreter_is_named_by_the_environment_or_the_first_python312_that_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REGMIRROR_LAYER_PYTHON", "/opt/py312/bin/python3")
    assert layer_python() == "/opt/py312/bin/python3"
    monkeypatch.delenv("REGMIRROR_LAYER_PYTHON")
    # a PATH shim that fails (pyenv's, 3.12 not selected), then pyenv's installed 3.12
    shims, installed = tmp_path / "shims", tmp_path / "pyenv" / "versions" / "3.12.1" / "bin"
    shims.mkdir()
    installed.mkdir(parents=True)
    for path, body in ((shims / "python3.12", "exit 127"), (installed / "python3.12", "exit 0")):
        path.write_text(f"#!/bin/sh\n{body}\n")
        path.chmod(0o755)
    monkeypatch.setenv("PATH", str(shims))
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path / "pyenv"))
    assert layer_python() == str(installed / "python3.12")
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path / "none"))
    assert layer_python() is None


def test_an_interpreter_that_does_not_run_compiles_nothing_and_says_why(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """pyenv puts a `python3.12` shim on PATH that exits 127 when 3.12 is not installed."""
    shim = tmp_path / "python3.12"
    shim.write_text("#!/bin/sh\necho 'pyenv: python3.12: command not found' >&2\nexit 127\n")
    shim.chmod(0o755)
    site = package(tmp_path)
    assert not compile_layer(site, str(shim))
    assert "does not run (pyenv: python3.12: command not found): not compiled" in capsys.readouterr().err
    assert not compile_layer(site, str(tmp_path / "missing"))
    assert not (site / "pkg" / "__pycache__").exists()
