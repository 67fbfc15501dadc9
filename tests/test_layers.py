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


def test_the_cli_starts_without_the_agent_and_model_stack() -> None:
    """Every `vigil` command imports the CLI; the agents, graphs, LangGraph, LangChain,
    LanceDB and pyarrow load only in the commands that use them. Loaded at start they
    tripled the live objects of a `vigil bench kafka` process (224,648 against 69,213),
    and every full garbage collection in its produce loop scanned them all."""
    import subprocess
    import sys

    heavy = ("agents.registry", "graphs", "langgraph", "langchain_core", "lancedb", "pyarrow")
    probe = "import sys, vigil.cli; print(' '.join(sys.modules))"
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    loaded = done.stdout.split()
    assert "vigil.cli.agents_commands" in loaded  # the probe saw the commands registered
    assert [m for m in loaded if m.split(".")[0] in heavy or m in heavy] == []
