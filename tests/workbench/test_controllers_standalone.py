"""The controllers work against a stand-in host: no app, no other controller, no Textual.

`workbench/host.py` is the whole interface they see of the app; these tests drive
`EditingControl` through it alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from workbench.editing import EditingControl
from workbench.rerun import RerunDecision


@dataclass
class StandInRuns:
    reruns: list[tuple[str, str]] = field(default_factory=list)
    stops: int = 0

    def rerun(self, expert_key: str, query: str) -> None:
        self.reruns.append((expert_key, query))

    def stop(self) -> None:
        self.stops += 1


@dataclass
class StandInHost:
    runs: StandInRuns = field(default_factory=StandInRuns)
    preflight: Any = field(default_factory=lambda: SimpleNamespace(problems=[]))
    notices: list[str] = field(default_factory=list)
    changes: int = 0
    notice_resets: int = 0

    def state_changed(self) -> None:
        self.changes += 1

    def reset_notice(self) -> None:
        self.notice_resets += 1

    def notify(self, message: str, **kwargs: Any) -> None:
        self.notices.append(message)


def decision(expert: str, query: str) -> RerunDecision:
    return RerunDecision(rerun=True, stop_running=True, expert_key=expert, query=query)


def test_a_rerun_that_waited_for_the_running_job_starts_when_it_ends() -> None:
    host = StandInHost()
    editing = EditingControl(host)  # type: ignore[arg-type]
    editing.waiting_rerun = decision("writer", "Draft it")
    editing.run_finished()
    assert host.runs.reruns == [("writer", "Draft it")]
    editing.run_finished()  # only once
    assert host.runs.reruns == [("writer", "Draft it")]


def test_a_broken_config_shows_its_problems_and_holds_the_waiting_rerun() -> None:
    host = StandInHost()
    editing = EditingControl(host)  # type: ignore[arg-type]
    editing.waiting_rerun = decision("writer", "Draft it")
    editing.invalid(SimpleNamespace(text=None, problems=["perstack.toml:3: bad"]))  # type: ignore[arg-type]
    assert host.preflight.problems == ["perstack.toml:3: bad"]
    assert (host.notice_resets, host.changes, editing.reloads) == (1, 1, 1)
    editing.run_finished()
    assert host.runs.reruns == []  # runs are off until the file is fixed
