"""The documented embedding example runs as shown in docs/embedding.md."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_embedding_example_runs_offline(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "embedding" / "embed.py"), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "step 1: greeter calls writeTextFile" in result.stdout
    assert "status: completed, steps: 2" in result.stdout
    assert (tmp_path / "greeting.txt").read_text() == "Hello, Ada!"
    assert not (tmp_path / "perstack").exists()  # MemoryStorage: nothing on disk


def test_import_runtime_is_lazy() -> None:
    code = "import sys, runtime; print('runtime.engine.api' in sys.modules, 'pydantic' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout
    assert out.split() == ["False", "False"]
