"""The package's shape: imports go one way (reports -> numerics -> proofs), no import cycles,
function-level imports say why, and every subpackage and the report template are packaged.

Everything is read with ``ast`` from the source files; nothing here imports the package.
"""
from __future__ import annotations

import ast
import re
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYERS = {"proofs": 0, "numerics": 1, "reports": 2}  # a layer imports only its own and lower ones
OLD_TOP_LEVEL = ("proofs", "numerics", "reports")  # importable only as attndyn.<name>


def modules(root: Path = ROOT) -> dict[str, Path]:
    """Dotted name -> file, for every module of the three layers (``attndyn.proofs.errors`` …)."""
    out = {}
    for layer in LAYERS:
        for path in sorted((root / layer).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(("attndyn", *parts))] = path
    return out


def _resolve(name: str, known: dict[str, Path]) -> str | None:
    """The deepest known module that ``name`` (a module or a module.attribute) lies in."""
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def imports(mod: str, path: Path, known: dict[str, Path]) -> list[tuple[int, str, bool]]:
    """(line, imported module, at function level?) for every import of an attndyn module in
    ``path``, relative imports resolved, plus ``importlib.import_module("attndyn.…")`` calls."""
    tree = ast.parse(path.read_text())
    is_pkg = path.name == "__init__.py"
    in_function = {id(n) for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
                   for n in ast.walk(f) if n is not f}
    found = []
    for node in ast.walk(tree):
        targets = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                pkg = mod.split(".") if is_pkg else mod.split(".")[:-1]
                pkg = pkg[:len(pkg) - (node.level - 1)]
                base = ".".join(pkg + ([base] if base else []))
            targets = [f"{base}.{a.name}" for a in node.names]
        elif (isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) == "import_module"
              and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            targets = [node.args[0].value]
        for t in targets:
            if t.split(".")[0] in OLD_TOP_LEVEL:
                found.append((node.lineno, t, id(node) in in_function))  # reported by the test below
                continue
            r = _resolve(t, known)
            if r is not None and r != mod:
                found.append((node.lineno, r, id(node) in in_function))
    return found


def graph(root: Path = ROOT) -> tuple[dict[str, set[str]], list[str]]:
    """The import graph (every import, function-level ones too) and the direction violations."""
    known = modules(root)
    edges: dict[str, set[str]] = {m: set() for m in known}
    wrong = []
    for mod, path in known.items():
        for line, target, _ in imports(mod, path, known):
            if target.split(".")[0] in OLD_TOP_LEVEL:
                wrong.append(f"{path.relative_to(root)}:{line}: imports {target} (use attndyn.{target})")
                continue
            edges[mod].add(target)
            if LAYERS[target.split(".")[1]] > LAYERS[mod.split(".")[1]]:
                wrong.append(f"{path.relative_to(root)}:{line}: {mod} imports {target}, against "
                             f"reports -> numerics -> proofs")
    return edges, wrong


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan), each a cycle or several."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                out.append(sorted(group))

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10_000))
    try:
        for v in edges:
            if v not in index:
                visit(v)
    finally:
        sys.setrecursionlimit(limit)
    return out


def test_imports_go_one_way():
    _, wrong = graph()
    assert wrong == [], "\n".join(wrong)


def test_no_import_cycles():
    edges, _ = graph()
    assert cycles(edges) == []


def test_a_reverse_import_is_caught(tmp_path):
    """Negative control: a copy of two modules with an import against the direction, and a cycle."""
    for rel, text in {
        "proofs/__init__.py": "", "proofs/low.py": "from attndyn.numerics.high import f\n",
        "numerics/__init__.py": "", "numerics/high.py": "def f():\n    from ..proofs import low\n",
        "reports/__init__.py": "",
    }.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    edges, wrong = graph(tmp_path)
    assert len(wrong) == 1 and "attndyn.proofs.low imports attndyn.numerics.high" in wrong[0]
    assert cycles(edges) == [["attndyn.numerics.high", "attndyn.proofs.low"]]


def test_nothing_imports_the_old_top_level_names():
    pattern = re.compile(r"^\s*(from|import)\s+(proofs|numerics|reports)\b", re.M)
    offenders = [str(p.relative_to(ROOT)) for p in ROOT.rglob("*.py")
                 if ".git" not in p.parts and "build" not in p.parts and pattern.search(p.read_text())]
    assert offenders == []


def test_function_level_imports_say_why():
    """An import inside a function must buy something (start-up time, an optional dependency):
    a comment on its line says what."""
    known = modules()
    silent = []
    for mod, path in known.items():
        lines = path.read_text().splitlines()
        tree = ast.parse(path.read_text())
        for f in ast.walk(tree):
            if not isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(f):
                if isinstance(node, (ast.Import, ast.ImportFrom)) and "#" not in lines[node.end_lineno - 1]:
                    silent.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert sorted(set(silent)) == []


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_every_subpackage_is_packaged():
    declared = set(_pyproject()["tool"]["setuptools"]["packages"])
    on_disk = {"attndyn"} | {".".join(("attndyn", *p.parent.relative_to(ROOT).parts))
                             for layer in LAYERS for p in (ROOT / layer).rglob("__init__.py")}
    assert on_disk - declared == set(), "add these to [tool.setuptools] packages in pyproject.toml"
    assert declared - on_disk == set(), "declared packages with no __init__.py"


def test_package_data_is_declared_and_exists():
    data = _pyproject()["tool"]["setuptools"]["package-data"]
    for pkg, patterns in data.items():
        folder = ROOT.joinpath(*pkg.split(".")[1:])
        for pattern in patterns:
            assert list(folder.glob(pattern)), f"package data {pkg}: {pattern} matches no file"
    assert "*.tex" in data.get("attndyn.reports.latex", [])
    assert (ROOT / "reports" / "latex" / "preamble.tex").is_file()


@pytest.mark.parametrize("layer", sorted(LAYERS))
def test_tests_folder_is_not_a_package(layer):
    # with the repository root an `attndyn` package, tests/__init__.py would make pytest import
    # the tests as `main.tests…`; tests import the package as `attndyn` instead
    assert not (ROOT / "tests" / "__init__.py").exists()
    assert (ROOT / layer / "__init__.py").is_file()


def test_large_modules_state_why():
    """A module over 500 lines says why in its docstring (a sentence starting ``Size:``)."""
    unexplained = []
    for mod, path in modules().items():
        text = path.read_text()
        doc = ast.get_docstring(ast.parse(text)) or ""
        if len(text.splitlines()) > 500 and "Size:" not in doc:
            unexplained.append(f"{path.relative_to(ROOT)} ({len(text.splitlines())} lines)")
    assert unexplained == []
