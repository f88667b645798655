"""Perstack's runtime: the engine behind `perstack run`, embeddable in any Python program.

    >>> import asyncio
    >>> from runtime import load_config, run, settings_from_config
    >>> config = load_config(Path("perstack.toml"))
    >>> setting = settings_from_config(config, "writer", "Write a haiku about rain")
    >>> checkpoint = asyncio.run(run(setting, lambda event: print(event.type)))

Names are imported lazily, so ``import runtime`` costs almost nothing.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from runtime._version import __version__

if TYPE_CHECKING:
    from runtime.config import ConfigError, load_config, parse_config_text
    from runtime.engine.api import fork, run, settings_from_config
    from runtime.errors import PerstackError
    from runtime.events import BaseEvent, parse_event
    from runtime.model import Checkpoint
    from runtime.providers.base import Provider
    from runtime.settings import RunSetting
    from runtime.storage import FileStorage, MemoryStorage, Storage

__all__ = [
    "__version__",
    "run",
    "fork",
    "settings_from_config",
    "load_config",
    "parse_config_text",
    "RunSetting",
    "Checkpoint",
    "BaseEvent",
    "parse_event",
    "Provider",
    "Storage",
    "FileStorage",
    "MemoryStorage",
    "PerstackError",
    "ConfigError",
]

_LAZY = {
    "run": "runtime.engine.api",
    "fork": "runtime.engine.api",
    "settings_from_config": "runtime.engine.api",
    "load_config": "runtime.config",
    "parse_config_text": "runtime.config",
    "RunSetting": "runtime.settings",
    "Checkpoint": "runtime.model",
    "BaseEvent": "runtime.events",
    "parse_event": "runtime.events",
    "Provider": "runtime.providers.base",
    "Storage": "runtime.storage",
    "FileStorage": "runtime.storage",
    "MemoryStorage": "runtime.storage",
    "PerstackError": "runtime.errors",
    "ConfigError": "runtime.errors",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'runtime' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
