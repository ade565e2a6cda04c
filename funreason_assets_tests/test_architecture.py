"""The layering the code base promises: Dagster-free lib, thin assets, no config read at import."""

from __future__ import annotations

import ast
import inspect
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import funreason_assets
from funreason_assets.lib import versions

PACKAGE = Path(funreason_assets.__file__).resolve().parent
MAX_ASSET_BODY_LINES = 25


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def test_lib_imports_neither_dagster_nor_defs():
    offenders = {
        str(path.relative_to(PACKAGE)): sorted(
            name for name in _imports(path)
            if name.split(".")[0] == "dagster" or name.startswith("funreason_assets.defs")
        )
        for path in sorted((PACKAGE / "lib").rglob("*.py"))
    }
    assert {path: names for path, names in offenders.items() if names} == {}


def _body_lines(function) -> int:
    """Lines of a function body, without its docstring and blank lines."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    node = tree.body[0]
    body = node.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]
    source = textwrap.dedent(inspect.getsource(function)).splitlines()
    lines = set()
    for statement in body:
        for number in range(statement.lineno, statement.end_lineno + 1):
            if source[number - 1].strip():
                lines.add(number)
    return len(lines)


def test_every_asset_body_is_an_adapter():
    from funreason_assets.definitions import defs

    assets = [
        node.assets_def for node in defs().resolve_asset_graph().asset_nodes
        if node.assets_def.is_executable
    ]
    assert len(assets) >= 10
    lengths = {
        assets_def.key.to_user_string(): _body_lines(assets_def.op.compute_fn.decorated_fn)
        for assets_def in assets
    }
    assert {name: n for name, n in lengths.items() if n > MAX_ASSET_BODY_LINES} == {}


def test_importing_the_definitions_reads_no_config(tmp_path):
    """Every defs module imports with no config present; building the location names the file."""
    script = textwrap.dedent(
        """
        import importlib, pkgutil, sys
        import funreason_assets.defs as package
        for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            importlib.import_module(module.name)
        import funreason_assets.definitions as location
        try:
            location.defs()
        except Exception as error:  # Dagster wraps it with the module that raised
            cause = error
            while cause.__cause__ is not None:
                cause = cause.__cause__
            print(type(cause).__name__, cause)
            sys.exit(0)
        sys.exit("the code location built without a config")
        """
    )
    env = {**__import__("os").environ, "FUNREASON_PROJECT_ROOT": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("SettingsError"), done.stdout[-2000:]
    assert "generation.yaml" in done.stdout and "does not exist" in done.stdout


@pytest.fixture
def package_copy(tmp_path, monkeypatch):
    """A copy of the package that the version function reads instead of the real one."""
    copy = tmp_path / "funreason_assets"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(versions, "_PACKAGE_DIR", copy)
    for cached in (versions._source, versions.module_closure, versions.code_version):
        cached.cache_clear()
    yield copy
    for cached in (versions._source, versions.module_closure, versions.code_version):
        cached.cache_clear()


def test_code_versions_follow_the_modules_a_phase_imports(package_copy):
    synthesis = "funreason_assets.lib.synthesis"
    graph = "funreason_assets.lib.graph"
    assert "funreason_assets.lib.phrasing" in versions.module_closure(
        "funreason_assets.lib.roles.scripted"
    )
    before = {name: versions.code_version(name) for name in (synthesis, graph)}
    assert before[synthesis] != before[graph]

    # A phrasing change reaches the phase that writes queries, not the graph.
    phrasing = package_copy / "lib" / "phrasing.py"
    phrasing.write_text(phrasing.read_text(encoding="utf-8") + "\n# changed\n", encoding="utf-8")
    for cached in (versions._source, versions.module_closure, versions.code_version):
        cached.cache_clear()
    after = {name: versions.code_version(name) for name in (synthesis, graph)}
    assert after[graph] == before[graph]
    assert after[synthesis] != before[synthesis]


def test_every_asset_has_a_code_version_from_its_phase():
    from funreason_assets.definitions import defs

    graph = defs().resolve_asset_graph()
    code_versions = {node.key.to_user_string(): node.code_version for node in graph.asset_nodes}
    assert all(version and version != "1" for version in code_versions.values()), code_versions
