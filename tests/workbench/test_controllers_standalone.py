"""The controllers work against a stand-in host: no app, no other controller, no Textual.

`workbench/host.py` is the whole interface they see of the app; these tests drive
`EditingControl` and `PaneControl` through it alone.
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


# --- PaneControl ---------------------------------------------------------------------------


class StandInPane:
    def __init__(self, width: int, *, display: bool = True) -> None:
        from textual.geometry import Region

        self.region = Region(0, 0, width if display else 0, 30)
        self.display = display
        self.styles = SimpleNamespace(width=None, min_width=None, height=None, max_height=None)
        self.ancestors_with_self = [self]


class StandInScreenHost:
    """Panes of a 160-column screen: the editor 44, the timeline 79, the tree 35."""

    def __init__(self) -> None:
        from workbench.widgets.answer_panel import AnswerPanel

        self.panes = {
            "#config": StandInPane(44),
            "#centre": StandInPane(79),
            "#run-tree": StandInPane(35),
            "#timeline": StandInPane(79),
            "#answer": StandInPane(79),
            "#main": StandInPane(160),
        }
        self.panes[AnswerPanel] = self.panes["#answer"]
        self.focused: Any = None
        self.screen = SimpleNamespace(classes=set(), set_class=self._set_class)
        self.notices: list[str] = []

    def _set_class(self, on: bool, name: str) -> None:
        (self.screen.classes.add if on else self.screen.classes.discard)(name)

    def query_one(self, selector: Any, expect_type: Any = None) -> Any:
        return self.panes[selector]

    def notify(self, message: str, **kwargs: Any) -> None:
        self.notices.append(message)


def test_pane_control_against_a_stand_in_host(tmp_path) -> None:
    from workbench.pane_sizes import read_pane_sizes
    from workbench.panes import PaneControl

    host = StandInScreenHost()
    settings = tmp_path / "workbench.toml"
    panes = PaneControl(host, settings)
    panes.apply()
    assert host.panes["#config"].styles.width is None  # automatic: app.tcss decides
    host.focused = host.panes["#config"]
    panes.move_split("right")
    assert host.panes["#config"].styles.width == f"{panes.sizes.editor}fr"
    assert panes.sizes.editor == round(44.5 * 100 / 158 + 2, 1)
    assert read_pane_sizes(settings)[0] == panes.sizes
    panes.toggle_maximise()
    assert panes.maximised == "config" and {"-maximised", "-max-config"} <= host.screen.classes
    assert host.panes["#config"].styles.width == "1fr"
    assert host.notices == ["perstack.toml fills the screen: F7 puts it back."]
    panes.toggle_maximise()
    assert panes.maximised is None and not host.screen.classes
    # A settings file that cannot be written: said once, not at every key.
    settings.write_text("not toml [")
    panes.move_split("right")
    panes.move_split("right")
    assert sum("cannot update the workbench settings" in n for n in host.notices) == 1
