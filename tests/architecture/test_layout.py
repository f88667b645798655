"""The layout rules of docs/architecture.md, checked on the source tree."""

from __future__ import annotations

import subprocess
import sys

from tests.architecture.imports import ROOT, cycles, import_graph, imported_names, module_files

#: The most modules directly in runtime/ (besides __init__.py and private _*.py helpers):
#: the shared contracts. Everything else belongs in a package named for its concern.
MAX_TOP_LEVEL_MODULES = 8
#: The longest a module may grow before it is split.
MAX_MODULE_LINES = 500


def test_runtime_keeps_only_the_shared_contracts_at_its_top() -> None:
    top = sorted(
        path.name
        for path in (ROOT / "runtime").glob("*.py")
        if path.name != "__init__.py" and not path.name.startswith("_")
    )
    assert len(top) <= MAX_TOP_LEVEL_MODULES, top
    assert {"model.py", "events.py", "settings.py", "errors.py"} <= set(top)


def test_no_module_is_longer_than_the_limit() -> None:
    too_long = {
        str(path.relative_to(ROOT)): lines
        for package in ("runtime", "workbench", "themes")
        for path in module_files(package).values()
        if (lines := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert not too_long


def test_no_import_cycle_in_workbench_or_runtime() -> None:
    assert import_graph("workbench")  # the walk sees the package's imports
    assert cycles(import_graph("workbench")) == []
    assert cycles(import_graph("runtime")) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]


def test_no_runtime_module_names_textual_or_workbench() -> None:
    offenders = {
        module: sorted(
            name
            for name in imported_names(module, path)
            if name.split(".")[0] in ("textual", "workbench")
        )
        for module, path in module_files("runtime").items()
    }
    assert {module: names for module, names in offenders.items() if names} == {}


def test_importing_every_runtime_module_never_imports_textual_or_workbench() -> None:
    # In a fresh process: every module of runtime/, imported for real.
    code = (
        "import importlib, pkgutil, sys, runtime\n"
        "names = [m.name for m in pkgutil.walk_packages(runtime.__path__, 'runtime.')]\n"
        "for name in names: importlib.import_module(name)\n"
        "loaded = [m for m in sys.modules if m.split('.')[0] in ('textual', 'workbench')]\n"
        "print(len(names), loaded)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    count, loaded = result.stdout.split(" ", 1)
    assert int(count) >= len(module_files("runtime")) - 1  # every module was imported
    assert loaded.strip() == "[]"


def _reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for target in graph.get(todo.pop(), ()):
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


def test_each_controller_reads_without_the_app_or_the_other_controller() -> None:
    graph = import_graph("workbench")
    assert "workbench.runs" in _reachable(graph, "workbench.app")  # the walk follows imports
    assert not {"workbench.app", "workbench.runs"} & _reachable(graph, "workbench.editing")
    assert not {"workbench.app", "workbench.editing"} & _reachable(graph, "workbench.runs")
