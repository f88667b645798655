"""The bundled demo project, opened by ``perstack start`` when no ``perstack.toml`` is found.

It plans a trip with a coordinator, a researcher (delegated twice in parallel) and a
writer, plus a concierge that asks the user a question (an interactive tool), all on the
offline scripted provider: no API key, no network.

The package's files are read-only once installed, and a run writes into its workspace
(``itinerary.md``) and its storage (``perstack/``), so the demo runs from a copy in the
user's cache directory, never from the package or the current directory.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path

__all__ = ["DEMO_FILES", "DEMO_QUERY", "DEMO_EXPERT", "demo_dir", "install_demo"]

#: The project's files, shipped next to this module.
DEMO_FILES = ("perstack.toml", "demo-script.toml", "kyoto-notes.md")
#: What the query box offers before the first run.
DEMO_QUERY = "Plan three days in Kyoto for a first-time visitor"
#: The Expert selected at start.
DEMO_EXPERT = "coordinator"


def _cache_root(env: Mapping[str, str]) -> Path:
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches"
    if os.name == "nt":
        return Path(env.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    return Path(env.get("XDG_CACHE_HOME") or Path.home() / ".cache")


def demo_dir(env: Mapping[str, str] | None = None) -> Path:
    """Where the demo runs: ``<user cache>/perstack/demo`` (``XDG_CACHE_HOME`` on Linux)."""
    return _cache_root(os.environ if env is None else env) / "perstack" / "demo"


def install_demo(target: Path | None = None) -> Path:
    """Copy the demo project to ``target`` (default :func:`demo_dir`); return its config.

    The project files are refreshed on every call, so an upgrade brings the new demo;
    files a run made there (``itinerary.md``, the ``perstack/`` job storage) are kept.
    """
    target = target or demo_dir()
    target.mkdir(parents=True, exist_ok=True)
    source = Path(__file__).parent
    for name in DEMO_FILES:
        shutil.copyfile(source / name, target / name)
    return target / "perstack.toml"
