"""Fixtures of the workbench tests: isolated storage and cache, projects, a fixed clock.

Every test runs with ``PERSTACK_STORAGE_PATH``, ``XDG_CACHE_HOME`` and
``XDG_CONFIG_HOME`` under its own ``tmp_path``, so no job, demo copy, theme or theme
choice is ever written into the repository or home.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.workbench.helpers import FIXED_NOW_MS

# pytest-textual-snapshot 1.0 names its extension's suffix `_file_extension`, which
# syrupy 7 no longer reads (it reads `file_extension`), so snapshots would be saved as
# `.raw`. Say `.svg`: the files open in a browser and are reviewed as images.
try:
    from pytest_textual_snapshot import SVGImageExtension

    SVGImageExtension.file_extension = "svg"
except ImportError:  # pragma: no cover - the plugin is a dev dependency
    pass


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Storage and cache in ``tmp_path``; no provider keys from the environment."""
    monkeypatch.setenv("PERSTACK_STORAGE_PATH", str(tmp_path / "storage"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    # Themes and the theme choice: never the real ~/.config/perstack.
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config-home"))
    for name in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "PERSTACK_PROXY_URL"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


@pytest.fixture
def fixed_time(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[], int]]:
    """Event timestamps 100 ms apart from a fixed start; yields the app's fixed clock.

    The bus stamps every event; with these stamps every duration and elapsed time on
    screen depends only on the order of events, never on the machine's speed.
    """
    counter = itertools.count(FIXED_NOW_MS - 20_000, 100)
    monkeypatch.setattr("runtime.engine.bus.now_ms", lambda: next(counter))
    yield lambda: FIXED_NOW_MS


@pytest.fixture
def empty_dir(tmp_path: Path) -> Path:
    """A directory with no perstack.toml in it or above it (the demo opens here)."""
    path = tmp_path / "work"
    path.mkdir()
    assert not any((p / "perstack.toml").exists() for p in (path, *path.parents))
    return path

