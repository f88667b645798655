"""The run bridge's pace: how long it waits before the next batch, by what the last held."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from workbench.bridge import RunBridge


class RecordingApp:
    """Stands in for the app: keeps the messages posted and the timers asked for."""

    def __init__(self) -> None:
        self.posted: list[Any] = []
        self.timers: list[float] = []

    def post_message(self, message: Any) -> bool:
        self.posted.append(message)
        return True

    def set_timer(self, delay: float, callback: Any, *, name: str) -> SimpleNamespace:
        self.timers.append(delay)
        return SimpleNamespace(stop=lambda: None)


def event(kind: str) -> SimpleNamespace:
    return SimpleNamespace(type=kind)


@pytest.mark.parametrize(
    ("batch", "expected"),
    [
        ([], "flush"),
        (["streamRunResult"] * 5, "flush"),
        (["streamReasoning", "streamRunResult"], "flush"),
        (["streamRunResult", "callTools", "streamRunResult"], "step"),
        (["continueToNextStep"], "step"),
        (["streamRunResult"] * 100, "burst"),
        (["callTools"] * 150, "burst"),
    ],
)
def test_the_next_batch_waits_by_what_the_last_one_held(batch: list[str], expected: str) -> None:
    app = RecordingApp()
    bridge = RunBridge(
        app, ".", flush_interval=0.01, step_interval=0.02, burst_interval=0.03, burst_size=100
    )  # type: ignore[arg-type]
    bridge.running = True
    bridge._buffer = [event(kind) for kind in batch]
    bridge._pace()
    assert app.timers == [{"flush": 0.01, "step": 0.02, "burst": 0.03}[expected]]
    # The batch went out whole, in order, as one message (none when there was nothing).
    assert [[e.type for e in m.events] for m in app.posted] == ([batch] if batch else [])
    assert bridge._buffer == []
