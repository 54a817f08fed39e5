"""The layers hold: SQL and DuckDB only in store/, Textual only in tui/, the SDK light.

The import rules are import-linter contracts in pyproject.toml ([tool.importlinter]), run here and as a step
of .ci/run; what import-linter cannot express (SQL text, what an import loads at run time) is tested below.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "agenttrace_tui"
SQL = re.compile(r"\b(SELECT\s.+\sFROM|INSERT\s+INTO|CREATE\s+(TEMP\s+)?(TABLE|VIEW)|DELETE\s+FROM)\b",
                 re.IGNORECASE | re.DOTALL)


def modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def layer(path: Path) -> str:
    return path.relative_to(PACKAGE).parts[0] if len(path.relative_to(PACKAGE).parts) > 1 else "top"


def test_only_the_store_imports_duckdb() -> None:
    offenders = [str(p) for p in modules() if "duckdb" in imported_roots(p) and layer(p) != "store"]
    assert offenders == []


def test_only_the_tui_imports_textual() -> None:
    offenders = [str(p) for p in modules() if "textual" in imported_roots(p) and layer(p) != "tui"]
    assert offenders == []


def test_sql_lives_only_in_the_store() -> None:
    offenders = []
    for path in modules():
        if layer(path) == "store":
            continue
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            text = node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else ""
            if SQL.search(text) and not text.startswith("Example"):  # help text may show a query
                offenders.append(f"{path}:{node.lineno}")
    assert offenders == []


def test_the_store_does_not_pull_in_textual() -> None:
    code = "import sys, agenttrace_tui.store, agenttrace_tui.cli; print('textual' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_serve_is_neither_tui_nor_store() -> None:
    """The collector reaches the store only through its Python API (ingest), never the TUI."""
    offenders = []
    for path in modules():
        if layer(path) != "serve":
            continue
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module] if isinstance(node, ast.ImportFrom) and node.module else [])
            offenders += [f"{path}:{name}" for name in names
                          if name.startswith("agenttrace_tui.tui") or name in ("duckdb", "textual")]
    assert offenders == []


def test_the_cli_loads_the_server_lazily() -> None:
    code = ("import sys, agenttrace_tui.cli; "
            "print(sorted(m for m in ('starlette', 'uvicorn', 'httpx', 'agenttrace_tui.serve') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


FORMAT_LAYER = ("interop",)
"""Packages of the format layer (file → records): pure Python over orjson, used by ingest and the collector."""


def test_the_format_layer_pulls_in_neither_the_store_nor_the_tui() -> None:
    offenders = [str(p) for p in modules() if layer(p) in FORMAT_LAYER
                 and imported_roots(p) & {"duckdb", "textual", "pyarrow"}]
    assert offenders == []
    code = ("import sys, agenttrace_tui.interop; "
            "print(sorted(m for m in ('duckdb', 'textual', 'agenttrace_tui.store', 'agenttrace_tui.tui') "
            "if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_the_import_contracts_hold() -> None:
    """pyproject.toml's contracts: Textual only in tui/, DuckDB only in store/, the SDK for user code and demo/
    only, store read/ and write/ independent, the store's face only from outside it, the format layer light."""
    run = ("import sys; from importlinter.cli import lint_imports_command; "
           "sys.argv[0] = 'lint-imports'; lint_imports_command()")
    result = subprocess.run([sys.executable, "-c", run, "--no-cache", "--no-logo"], cwd=REPO,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


SDK_NAMES = frozenset({"Tracer", "ManualLogger", "wrap_openai"})


def test_nothing_but_demo_takes_the_sdk_from_the_package_root() -> None:
    """The root re-exports the SDK for user code (a contract lets that one import through): the package's own
    modules, demo/ aside, never take SDK names from it."""
    offenders = []
    for path in modules():
        if layer(path) in ("sdk", "demo") or path == PACKAGE / "__init__.py":
            continue
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module == "agenttrace_tui" and node.level == 0:
                offenders += [f"{path}:{node.lineno}" for alias in node.names if alias.name in SDK_NAMES]
    assert offenders == []
