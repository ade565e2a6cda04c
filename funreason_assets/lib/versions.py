"""Code versions that change exactly when a phase's logic, prompts or phrasing change.

A phase's version is a digest of the source of the module that implements it and of every
package module it imports, followed transitively. Editing the sampler therefore changes the
code version of `ground_truth_plans` and of everything computed from it, and Dagster marks
those assets stale; editing the report changes only the report's version.
"""

from __future__ import annotations

import ast
import functools
import hashlib
from pathlib import Path

PACKAGE = "funreason_assets"


_PACKAGE_DIR = Path(__file__).resolve().parents[1]


@functools.cache
def _source(module: str) -> str | None:
    """The source of a package module, found by path (nothing is imported), or None."""
    parts = module.split(".")
    if parts[0] != PACKAGE:
        return None
    base = _PACKAGE_DIR.joinpath(*parts[1:])
    for file in (base.with_suffix(".py"), base / "__init__.py"):
        if file.is_file():
            return file.read_text(encoding="utf-8")
    return None


@functools.cache
def _imported_modules(module: str, source: str) -> frozenset[str]:
    """Package modules a module's source imports (absolute imports, as the style demands).

    Cached by module and source: the phases' closures share most modules, and parsing each
    again for every asset's version made loading the code location seconds slower.
    """
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            # `from package.lib import prompts` imports a module, not a name.
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return frozenset(
        name for name in found
        if name.startswith(f"{PACKAGE}.") and name != module and _source(name) is not None
    )


@functools.cache
def module_closure(module: str) -> tuple[str, ...]:
    """The module and every package module it imports, transitively, sorted."""
    seen: set[str] = set()
    pending = [module]
    while pending:
        current = pending.pop()
        if current in seen:
            continue
        seen.add(current)
        source = _source(current)
        if source is not None:
            pending.extend(_imported_modules(current, source) - seen)
    return tuple(sorted(seen))


@functools.cache
def code_version(*modules: str) -> str:
    """A short digest of the source of the given modules and all they import."""
    digest = hashlib.sha256()
    for name in sorted({m for module in modules for m in module_closure(module)}):
        digest.update(name.encode())
        digest.update((_source(name) or "").encode())
    return digest.hexdigest()[:12]
