"""SVG snapshots of the create-expert flow in the workbench: the dialog, the proposed change
as a diff, the report (``--snapshot-update`` to accept changes)."""

from __future__ import annotations

import hashlib
import itertools
import types
from pathlib import Path

import pytest

from runtime.create_expert.demo import DEMO_DESCRIPTION, install_demo
from tests.workbench.helpers import make_app
from workbench.screens.describe import DescribeScreen
from workbench.screens.proposal import ProposalScreen
from workbench.screens.report import ReportScreen

WIDE = (120, 36)


@pytest.fixture
def fixed_ids(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ids from a counter: job ids on screen come out the same every time."""
    counter = itertools.count()
    monkeypatch.setattr(
        "runtime.model.os",
        types.SimpleNamespace(
            urandom=lambda n: hashlib.sha256(str(next(counter)).encode()).digest()[:n]
        ),
    )


@pytest.fixture
def fitness(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The create-expert demo project, its jobs stored inside it (paths show relative)."""
    monkeypatch.setenv("PERSTACK_STORAGE_PATH", "perstack")
    return install_demo(tmp_path / "fitness")


async def _session_done(app, pilot) -> None:
    await pilot.press("f3")
    await app.wait_until(lambda: isinstance(app.screen, DescribeScreen))
    app.screen.query_one("#describe-input").value = DEMO_DESCRIPTION
    await pilot.press("enter")
    await app.wait_until(lambda: isinstance(app.screen, ProposalScreen), timeout=60)
    await pilot.pause()


def test_the_description_dialog(snap_compare, fitness: Path, fixed_time) -> None:
    app = make_app(fitness, clock=fixed_time)

    async def typed(pilot) -> None:
        await pilot.press("f3")
        await app.wait_until(lambda: isinstance(app.screen, DescribeScreen))
        app.screen.query_one("#describe-input").value = DEMO_DESCRIPTION
        await pilot.pause()

    assert snap_compare(app, terminal_size=WIDE, run_before=typed)


def test_the_proposed_change_as_a_diff(snap_compare, fitness: Path, fixed_time, fixed_ids) -> None:
    app = make_app(fitness, clock=fixed_time)

    async def proposed(pilot) -> None:
        await _session_done(app, pilot)

    assert snap_compare(app, terminal_size=WIDE, run_before=proposed)


def test_the_report_pane(snap_compare, fitness: Path, fixed_time, fixed_ids) -> None:
    app = make_app(fitness, clock=fixed_time)

    async def reported(pilot) -> None:
        await _session_done(app, pilot)
        await pilot.press("a")
        await app.wait_until(lambda: isinstance(app.screen, ReportScreen))
        await app.wait_until(lambda: "fitness-assistant" in app.preflight.experts)
        app.clear_notifications()  # "written" and "reloaded" come and go with the timing
        await pilot.pause()

    assert snap_compare(app, terminal_size=WIDE, run_before=reported)
