"""Background import of a provider's SDK (start-up latency)."""

from __future__ import annotations

import asyncio
import sys
import threading
import types
import uuid
from pathlib import Path

import pytest

from runtime.providers import prewarm

MODULE_SOURCE = """
import sys, threading
sys.modules[{gate!r}].event.wait(10)
IMPORTED_ON = threading.current_thread().name
"""


@pytest.fixture
def slow_sdk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, threading.Event]:
    """A module whose import blocks until the returned event is set, served by a fake
    provider name."""
    name = f"slow_sdk_{uuid.uuid4().hex}"
    gate_name = f"{name}_gate"
    gate = threading.Event()
    monkeypatch.setitem(sys.modules, gate_name, types.SimpleNamespace(event=gate))
    (tmp_path / f"{name}.py").write_text(MODULE_SOURCE.format(gate=gate_name))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(prewarm.SDK_MODULES, "fake-provider", (name,))
    yield name, gate
    gate.set()
    sys.modules.pop(name, None)


async def test_prewarm_returns_at_once_and_ensure_imported_waits(
    slow_sdk: tuple[str, threading.Event],
) -> None:
    name, gate = slow_sdk
    prewarm.prewarm("fake-provider")  # returns although the import is blocked
    assert not prewarm.is_warm(name)

    waiting = asyncio.create_task(prewarm.ensure_imported(name))
    await asyncio.sleep(0)
    assert not waiting.done()
    thread = prewarm._threads[name]
    prewarm.prewarm("fake-provider")  # a second call starts nothing new
    assert prewarm._threads[name] is thread

    gate.set()
    await waiting
    assert prewarm.is_warm(name)
    assert sys.modules[name].IMPORTED_ON == f"prewarm-{name}"


async def test_ensure_imported_without_prewarm_imports_off_the_event_loop(
    slow_sdk: tuple[str, threading.Event],
) -> None:
    name, gate = slow_sdk
    gate.set()
    await prewarm.ensure_imported(name)
    assert sys.modules[name].IMPORTED_ON != threading.main_thread().name


async def test_a_missing_sdk_fails_when_used_not_when_prewarmed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    missing = f"no_such_sdk_{uuid.uuid4().hex}"
    monkeypatch.setitem(prewarm.SDK_MODULES, "ghost", (missing,))
    prewarm.prewarm("ghost")
    with pytest.raises(ImportError):
        await prewarm.ensure_imported(missing)


def test_offline_and_unknown_providers_start_nothing() -> None:
    before = dict(prewarm._threads)
    prewarm.prewarm("scripted")
    prewarm.prewarm("replay")
    prewarm.prewarm("no-such-provider")
    assert prewarm._threads == before
