"""Import a provider's heavy modules in the background, as early as the CLI knows the provider.

Importing ``openai`` costs about half a second of CPU and ``anthropic`` one to two seconds
(thousands of modules of API types). :func:`prewarm` starts such an import on a daemon
thread and returns at once, so it overlaps whatever the CLI does next that waits rather than
computes (MCP servers booting, files being read). The provider later calls
:func:`ensure_imported`, which waits for that thread without blocking the event loop, or
imports on a worker thread itself when nothing prewarmed.

Imports hold the GIL, so a background import slows down the CPU work it runs beside. That is
why ``anthropic`` (1-2 s) is not imported here: its provider sends requests without the SDK
and calls :func:`start_import` once a request has waited a while for its answer, when the
process would only be waiting for the model. For it, prewarming only loads the small HTTP
client library. The OpenAI provider prewarms ``openai`` (~0.5 s) as soon as it is built.

Python's per-module import locks make this safe: a second importer of the same module
waits for the first one to finish instead of seeing a half-initialised module.
"""

from __future__ import annotations

import asyncio
import gc
import importlib
import sys
import threading

__all__ = ["SDK_MODULES", "prewarm", "start_import", "ensure_imported", "is_warm"]

#: providerName -> the modules worth importing before its first request.
SDK_MODULES: dict[str, tuple[str, ...]] = {
    # Not the SDK itself (see above): its HTTP stack, which the first request needs.
    "anthropic": ("httpx2", "httpcore2"),
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


def start_import(module: str) -> None:
    """Start importing ``module`` on a background thread (nothing if done or under way)."""
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
        return
    # An SDK brings hundreds of thousands of long-lived objects (its modules, classes and
    # models). Left to the cyclic GC, every full collection would walk them all again, a few
    # milliseconds each time, several times a minute on a busy run. Frozen, they are skipped;
    # refcounting still frees them, or anything else frozen, as usual.
    gc.freeze()
