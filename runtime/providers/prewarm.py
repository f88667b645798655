"""Import a provider's SDK in the background, as early as the CLI knows the provider.

Importing ``anthropic`` costs over a second here (thousands of modules of API types);
``openai`` about half that. :func:`prewarm` starts that import on a daemon thread and
returns at once, so it overlaps whatever the CLI does next (loading ``perstack.toml``,
starting MCP skills, building the first request). The provider later calls
:func:`ensure_imported`, which waits for that thread without blocking the event loop, or
imports in a worker thread itself when nothing prewarmed.

Python's per-module import locks make this safe: a second importer of the same module
waits for the first one to finish instead of seeing a half-initialised module.
"""

from __future__ import annotations

import asyncio
import importlib
import sys
import threading

__all__ = ["SDK_MODULES", "prewarm", "ensure_imported", "is_warm"]

#: providerName -> the SDK modules its provider imports.
SDK_MODULES: dict[str, tuple[str, ...]] = {
    "anthropic": ("anthropic",),
    "openai": ("openai",),
    "azure-openai": ("openai",),
    "deepseek": ("openai",),
    "ollama": ("openai",),
}

_lock = threading.Lock()
_threads: dict[str, threading.Thread] = {}


def prewarm(provider_name: str) -> None:
    """Start importing the SDK behind ``provider_name`` on a background thread.

    Returns immediately. Offline and unknown provider names do nothing, and calling it
    again (or after the SDK is imported) costs nothing. Import errors are not raised here:
    the provider meets them when it imports the SDK itself.
    """
    for module in SDK_MODULES.get(provider_name, ()):
        _start(module)


def is_warm(module: str) -> bool:
    """Whether ``module`` is fully imported (not merely being imported)."""
    thread = _threads.get(module)
    if thread is not None and thread.is_alive():
        return False
    return module in sys.modules


async def ensure_imported(module: str) -> None:
    """Wait until ``module`` is imported, without blocking the running event loop.

    Raises:
        ImportError: the SDK is not installed or failed to import.
    """
    if not is_warm(module):
        thread = _start(module)
        if thread is not None:
            await asyncio.to_thread(thread.join)
    importlib.import_module(module)  # instant once imported; re-raises a failed import


def _start(module: str) -> threading.Thread | None:
    with _lock:
        thread = _threads.get(module)
        if thread is None:
            if module in sys.modules:
                return None
            thread = threading.Thread(
                target=_import_quietly, args=(module,), name=f"prewarm-{module}", daemon=True
            )
            _threads[module] = thread
            thread.start()
        return thread


def _import_quietly(module: str) -> None:
    try:
        importlib.import_module(module)
    except BaseException:  # noqa: BLE001 - surfaced by ensure_imported's own import
        pass
