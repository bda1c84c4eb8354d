"""The package's import graph: every module imports on its own (no circular imports), and steps stay apart
from the runner (they report progress through :mod:`mirror_neuron.log`)."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

PACKAGE = REPO / "mirror_neuron"

# Imports each module of a package in sorted order, first all in one interpreter, then each alone: before
# each import every module of the package is dropped from sys.modules (third-party libraries stay loaded),
# so the module is the package's first entry point, as when a user imports it first. Prints, per module,
# the error (or None) and the package's modules that importing it alone loaded.
CHECKER = """
import importlib, json, pkgutil, sys, traceback
package = sys.argv[1]
root = importlib.import_module(package)
names = sorted(m.name for m in pkgutil.walk_packages(root.__path__, package + ".")
               if not m.name.endswith(".__main__"))
def ours():
    return sorted(k for k in sys.modules if k == package or k.startswith(package + "."))
together = None
try:
    for name in names:
        importlib.import_module(name)
except Exception:
    together = traceback.format_exc(limit=3)
alone = {}
for name in names:
    for key in ours():
        del sys.modules[key]
    try:
        importlib.import_module(name)
        alone[name] = {"error": None, "loaded": ours()}
    except Exception:
        alone[name] = {"error": traceback.format_exc(limit=3), "loaded": ours()}
print(json.dumps({"together": together, "alone": alone}))
"""


def check_imports(package: str, path: Path) -> dict:
    """Run :data:`CHECKER` on ``package`` found under ``path``, in a fresh interpreter."""
    result = subprocess.run([sys.executable, "-c", CHECKER, package], cwd=path, capture_output=True, text=True,
                            timeout=300, env={**os.environ, "PYTHONPATH": str(path)})
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


@pytest.fixture(scope="module")
def imports() -> dict:
    return check_imports("mirror_neuron", REPO)


def test_every_module_imports_in_sorted_order_and_each_alone(imports: dict) -> None:
    assert imports["together"] is None, imports["together"]
    expected = {".".join(("mirror_neuron", *p.relative_to(PACKAGE).with_suffix("").parts)).removesuffix(".__init__")
                for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts and p.name != "__main__.py"}
    assert set(imports["alone"]) == expected - {"mirror_neuron"}
    failed = {name: result["error"] for name, result in imports["alone"].items() if result["error"]}
    assert not failed, "\n".join(f"{name}:\n{error}" for name, error in failed.items())
    for subpackage in ("analysis", "lab", "models", "neuron", "report", "steps", "tracking"):
        assert f"mirror_neuron.{subpackage}" in imports["alone"]


def test_no_step_module_loads_the_runner_when_imported(imports: dict) -> None:
    steps = {name: result["loaded"] for name, result in imports["alone"].items()
             if name.startswith("mirror_neuron.steps")}
    assert len(steps) >= 10
    assert not [name for name, loaded in steps.items() if "mirror_neuron.runner" in loaded]


def imported_modules(path: Path, module: str) -> set[str]:
    """Every module ``path`` (the source of ``module``) imports, at top level or inside functions."""
    imported: set[str] = set()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            imported.add(base)
            imported |= {f"{base}.{alias.name}" for alias in node.names}
    return imported


def test_no_step_module_imports_the_runner_even_lazily() -> None:
    offenders = []
    files = sorted((PACKAGE / "steps").rglob("*.py"))
    assert len(files) >= 10
    for path in files:
        module = "mirror_neuron." + ".".join(path.relative_to(PACKAGE).with_suffix("").parts)
        if "mirror_neuron.runner" in imported_modules(path, module):
            offenders.append(module)
    assert not offenders, f"steps import the runner: {offenders}; report progress with mirror_neuron.log.say"


def test_the_checks_catch_a_cycle_and_a_runner_import(tmp_path: Path) -> None:
    package = tmp_path / "cyclic"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from cyclic.b import B\nA = 1\n")
    (package / "b.py").write_text("from cyclic.a import A\nB = 2\n")
    (package / "fine.py").write_text("X = 0\n")
    result = check_imports("cyclic", tmp_path)
    assert result["together"] is not None
    assert "partially initialized" in result["alone"]["cyclic.a"]["error"]
    assert result["alone"]["cyclic.fine"] == {"error": None, "loaded": ["cyclic", "cyclic.fine"]}
    step = tmp_path / "step.py"
    step.write_text("def say():\n    from ...runner import say\n    from mirror_neuron import runner\n")
    assert "mirror_neuron.runner" in imported_modules(step, "mirror_neuron.steps.query.step")
    step.write_text("def say():\n    from ...runner import say\n")
    assert "mirror_neuron.runner" in imported_modules(step, "mirror_neuron.steps.query.step")
    step.write_text("from mirror_neuron.log import say\n")
    assert "mirror_neuron.runner" not in imported_modules(step, "mirror_neuron.steps.query.step")
