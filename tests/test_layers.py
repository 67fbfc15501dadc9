"""The layout's rules, checked on the source: imports point down, modules stay readable."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import ROOT

PACKAGES = ("vigil", "api", "agents", "evals", "graphs", "tools", "ingestion")
#: a package may import these (besides itself); vigil/ is the top and may import all
ALLOWED: dict[str, set[str]] = {
    "api": {"graphs", "tools", "ingestion"},
    "agents": {"graphs", "tools", "ingestion"},
    "evals": {"agents", "graphs", "tools", "ingestion"},
    "graphs": {"tools", "ingestion"},
    "tools": {"ingestion"},
    "ingestion": set(),
}
MAX_LINES = 400


def sources(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def imported(path: Path) -> set[str]:
    """Every module a file imports, at any depth (imports inside functions count too)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_imports_point_down(package: str) -> None:
    wrong = []
    for path in sources(package):
        for name in imported(path):
            top = name.split(".")[0]
            if name == "vigil.settings" or top == package or top not in PACKAGES:
                continue
            if top not in ALLOWED[package]:
                wrong.append(f"{path.relative_to(ROOT)} imports {name}")
    assert wrong == []


def test_no_module_over_400_lines_outside_tests() -> None:
    long = [
        f"{p.relative_to(ROOT)}: {n} lines"
        for package in PACKAGES
        for p in sources(package)
        if (n := len(p.read_text().splitlines())) > MAX_LINES
    ]
    assert long == []


def test_no_module_is_named_like_a_package_or_a_data_folder_beside_it() -> None:
    clashes = []
    for package in PACKAGES:
        for p in sources(package):
            stem = p.stem
            if p.parent.name == package and stem in {*PACKAGES, "eval", "ingest", "llm"}:
                clashes.append(f"{p.relative_to(ROOT)} is named like a package")
            elif (p.parent / stem).is_dir() and not (p.parent / stem / "__init__.py").exists():
                clashes.append(f"{p.relative_to(ROOT)} sits beside the data folder {stem}/")
    assert clashes == []
