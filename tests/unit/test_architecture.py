"""The folder tree is the architecture: layers import only downwards, no import cycles, small modules
and classes, and docs/ARCHITECTURE.md names only APIs that exist."""

from __future__ import annotations

import ast
import importlib
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "layers/regmirror/python/regmirror"
ARCHITECTURE = ROOT / "docs/ARCHITECTURE.md"

# Layer of each top-level part of the package, lowest first: a module may import its own layer and below.
LAYERS = {
    "__init__": 0,
    "errors": 0,
    "model": 0,
    "logs": 0,
    "redact": 0,
    "retry": 0,
    "extras": 0,
    "rules": 1,
    "registries": 2,
    "config": 3,
    "sync": 4,
    "cli": 5,
    "aws": 5,
    "state": 5,  # forgets the caches of every layer (tests)
}
REGISTRY_PARTS = {"distribution", "dockerhub", "ecr", "http", "listers"}  # written without `registries.`
MAX_MODULE_LINES = 400
MAX_CLASS_LINES = 200


def modules() -> Iterator[tuple[str, Path]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        yield name, path


def imports(path: Path, *, typing_only: bool) -> set[str]:
    """regmirror modules `path` imports (at any depth); `typing_only` False leaves out imports under
    `if TYPE_CHECKING:` (they never run, so they cannot make a cycle)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped: set[int] = set()
    if not typing_only:
        for node in ast.walk(tree):
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                skipped |= {id(n) for child in node.body for n in ast.walk(child)}
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("regmirror"):
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("regmirror")}
    known = {name for name, _ in modules()}
    return {name for name in found if name in known}


def layer(module: str) -> int:
    parts = module.split(".")
    return LAYERS[parts[1] if len(parts) > 1 else "__init__"]


def test_every_part_of_the_package_has_a_layer() -> None:
    assert {name.split(".")[1] for name, _ in modules() if "." in name} | {"__init__"} <= set(LAYERS)


def test_no_module_imports_a_layer_above_it() -> None:
    upward = [
        f"{name} (layer {layer(name)}) imports {target} (layer {layer(target)})"
        for name, path in modules()
        for target in sorted(imports(path, typing_only=True))
        if layer(target) > layer(name)
    ]
    assert upward == []


def test_no_import_cycle() -> None:
    graph = {name: imports(path, typing_only=False) - {name} for name, path in modules()}
    cycles: list[list[str]] = []

    def visit(node: str, stack: list[str], done: set[str]) -> None:
        if node in stack:
            cycles.append([*stack[stack.index(node) :], node])
            return
        if node in done:
            return
        for target in sorted(graph.get(node, ())):
            if not (
                node.startswith(target + ".") or target.startswith(node + ".")
            ):  # a package and its own module
                visit(target, [*stack, node], done)
        done.add(node)

    done: set[str] = set()
    for name in sorted(graph):
        visit(name, [], done)
    assert cycles == []


@pytest.mark.parametrize(("name", "path"), list(modules()), ids=[name for name, _ in modules()])
def test_modules_and_classes_stay_small(name: str, path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= MAX_MODULE_LINES
    classes = [n for n in ast.walk(ast.parse(text)) if isinstance(n, ast.ClassDef)]
    assert [c.name for c in classes if (c.end_lineno or c.lineno) - c.lineno + 1 > MAX_CLASS_LINES] == []


def documented_names() -> list[str]:
    """Dotted API names in backticks, e.g. `sync.run.sync_config` or `config.load.load_config()`."""
    text = ARCHITECTURE.read_text(encoding="utf-8")
    names = re.findall(r"`(?:regmirror\.)?([a-z_]+(?:\.[A-Za-z_][A-Za-z0-9_]*)+)(?:\([^`]*\))?`", text)
    tops = set(LAYERS) - {"__init__"}
    found = {f"registries.{n}" if n.split(".")[0] in REGISTRY_PARTS else n for n in names}
    return sorted(n for n in found if n.split(".")[0] in tops)


def resolves(dotted: str) -> bool:
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj: object = importlib.import_module("regmirror." + ".".join(parts[:cut]))
        except ImportError:
            continue
        for attr in parts[cut:]:
            if not hasattr(obj, attr):
                return False
            obj = getattr(obj, attr)
        return True
    return False


def test_architecture_doc_names_only_what_exists() -> None:
    names = documented_names()
    assert len(names) > 40  # the doc does name the APIs
    assert [name for name in names if not resolves(name)] == []


def test_architecture_doc_names_every_module() -> None:
    text = ARCHITECTURE.read_text(encoding="utf-8")
    missing = [
        name
        for name, path in modules()
        if path.name != "__init__.py" and path.name != "__main__.py" and f"{path.stem}" not in text
    ]
    assert missing == []


def test_unit_tests_mirror_the_package_folders() -> None:
    """tests/unit/<folder>/ exists only for a folder of the package (data folders aside)."""
    unit = Path(__file__).resolve().parent
    folders = [
        p.relative_to(unit) for p in unit.rglob("*") if p.is_dir() and p.name not in ("data", "__pycache__")
    ]
    assert folders  # the unit tests are in folders
    assert [f for f in folders if "data" not in f.parts and not (PACKAGE / f).is_dir()] == []
