"""The runtime never imports Textual or the workbench (the enforced boundary)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

PERSTACK = Path(sys.executable).parent / "perstack"


def _imported_modules(stderr: str) -> set[str]:
    # `-X importtime` lines: "import time: self | cumulative | <indent>module"
    return {
        line.rsplit("|", 1)[1].strip()
        for line in stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }


def test_importing_runtime_never_imports_textual_or_workbench() -> None:
    code = (
        "import runtime, runtime.engine.api, runtime.cli, runtime.cli.run, runtime.engine.jobs, "
        "runtime.engine.loop, runtime.events, runtime.config"
    )
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-2000:]
    modules = _imported_modules(result.stderr)
    assert "runtime.engine.loop" in modules  # the probe sees our own imports
    assert not any(m == "textual" or m.startswith("textual.") for m in modules)
    assert not any(m == "workbench" or m.startswith("workbench.") for m in modules)


def test_perstack_run_help_never_imports_textual() -> None:
    env = {**os.environ, "PYTHONPROFILEIMPORTTIME": "1"}
    result = subprocess.run(
        [str(PERSTACK), "run", "--help"], capture_output=True, text=True, env=env
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "EXPERT_KEY" in result.stdout and "QUERY" in result.stdout
    modules = _imported_modules(result.stderr)
    assert "click" in modules
    assert not any(m == "textual" or m.startswith("textual.") for m in modules)
