"""Every third-party module that ``collector/`` imports is declared in ``pyproject.toml``
(runtime dependencies, or an optional extra other than ``test``)."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# import name -> distribution name, where they differ
DISTRIBUTION = {"influxdb_client": "influxdb-client", "yaml": "pyyaml",
                "dateutil": "python-dateutil"}


def imported_top_level_modules() -> dict[str, str]:
    """Third-party top-level module -> first file importing it."""
    found: dict[str, str] = {}
    for path in sorted((ROOT / "collector").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top != "collector":
                    found.setdefault(top, str(path.relative_to(ROOT)))
    return found


def declared_distributions() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = list(project["dependencies"])
    for extra, items in project.get("optional-dependencies", {}).items():
        if extra != "test":
            requirements += items
    return {re.split(r"[<>=!~\[; ]", r, maxsplit=1)[0].strip().lower().replace("_", "-")
            for r in requirements}


def test_walker_sees_the_known_imports():
    modules = imported_top_level_modules()
    assert {"pandas", "numpy", "httpx", "influxdb_client", "urllib3"} <= set(modules)


def test_every_imported_module_is_declared():
    declared = declared_distributions()
    missing = {module: where for module, where in imported_top_level_modules().items()
               if DISTRIBUTION.get(module, module).lower().replace("_", "-") not in declared}
    assert not missing, f"imported but not declared in pyproject.toml: {missing}"


def test_every_runtime_dependency_has_a_lower_bound():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert all(">=" in r or "==" in r for r in project["dependencies"]), project["dependencies"]
