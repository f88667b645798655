"""MCP skills in the workbench (Pilot): a server's progress as a bar on the tool's row, its
questions as a form (live, and for a job that stopped on one headless), and the details."""

from __future__ import annotations

import subprocess
from pathlib import Path

from runtime.views.activity import ActivityRow
from tests.helpers import PERSTACK
from tests.workbench.helpers import Messages, make_app
from workbench.bridge import RunBridge
from workbench.demo.gauges import write_gauges_project
from workbench.detail_text import call_text
from workbench.screens.elicitation import ElicitationScreen
from workbench.widgets.timeline import Timeline

SIZE = (120, 36)


def finished(app) -> bool:
    return not app.bridge.running and app.state not in ("ready", "running", "stopping")


def tool_row(app, name: str) -> ActivityRow | None:
    return next((r for r in app.view.rows if r.tool_name == name), None)


def line_of(app, row: ActivityRow) -> str:
    timeline = app.query_one(Timeline)
    position = app.view.shown.position_of(row.index)
    strip = timeline.render_line(position + 1 - int(timeline.scroll_y))
    return "".join(segment.text for segment in strip)


async def test_progress_bar_on_the_running_tool_row(tmp_path: Path, fixed_time) -> None:
    project = write_gauges_project(tmp_path / "gauges", hold_at=4)
    app = make_app(project, expert="surveyor", query="Survey the north shore", clock=fixed_time)
    async with app.run_test(size=SIZE) as pilot:

        def at_buoy_2() -> bool:
            row = tool_row(app, "survey_shore")
            return row is not None and row.progress is not None and row.progress.progress == 2

        await app.wait_until(at_buoy_2, timeout=60)
        await pilot.pause()
        row = tool_row(app, "survey_shore")
        assert row is not None and row.status == "running"
        line = line_of(app, row)
        # The tool (cut: the timeline is 60 columns), a bar half full, the server's progress.
        assert "surv… ██▌░░ 2/4…" in line
        assert "progress: 2/4 measuring depth at buoy 3" in call_text(row)
        await pilot.press("ctrl+t")  # stop: the held call is cancelled
        await app.wait_until(lambda: finished(app), timeout=30)
        # A finished row draws no bar.
        assert "█" not in line_of(app, row)


async def test_a_live_question_opens_a_form_and_the_answer_goes_back(
    tmp_path: Path, fixed_time
) -> None:
    project = write_gauges_project(tmp_path / "gauges")
    app = make_app(project, expert="host", query="A room, please", clock=fixed_time)
    messages = Messages()
    async with app.run_test(size=SIZE, message_hook=messages) as pilot:
        await app.wait_until(lambda: isinstance(app.screen, ElicitationScreen), timeout=60)
        await pilot.pause()  # the form's widgets mounted
        screen = app.screen
        assert screen.request.message == "Who is the room for, and for how long?"
        # The call waits on the person: its row shows it.
        assert tool_row(app, "book_room").status == "waiting"
        # The form follows the schema: defaults filled, a switch, a choice.
        assert screen.query_one("#field-nights").value == "2"
        assert screen.query_one("#field-breakfast").value is True
        assert screen.query_one("#field-room").value == "0"  # "lake view"
        await pilot.click("#field-name")
        await pilot.press(*"Ada")
        nights = screen.query_one("#field-nights")
        nights.value = "40"
        await pilot.press("enter")
        error = screen.query_one("#elicitation-error")
        assert "40 is greater than the maximum of 14" in str(error.render())
        assert app.screen is screen  # still asking
        nights.value = "3"
        await pilot.click("#accept")
        await app.wait_until(lambda: finished(app), timeout=60)
        row = tool_row(app, "book_room")
        assert row.result == "Booked a lake view room for Ada, 3 nights, with breakfast."
        assert len(messages.of(RunBridge.Question)) == 1
        details = call_text(row)
        assert "from the server:" in details
        assert "gauges asks: Who is the room for, and for how long?" in details
        assert 'Answer to gauges: accept {"name":"Ada","nights":3' in details


async def test_declining_a_live_question(tmp_path: Path, fixed_time) -> None:
    project = write_gauges_project(tmp_path / "gauges")
    app = make_app(project, expert="host", query="A room, please", clock=fixed_time)
    async with app.run_test(size=SIZE) as pilot:
        await app.wait_until(lambda: isinstance(app.screen, ElicitationScreen), timeout=60)
        await pilot.pause()
        await pilot.click("#decline")
        await app.wait_until(lambda: finished(app), timeout=60)
        assert tool_row(app, "book_room").result == "No booking: the guest chose to decline."


async def test_a_question_a_headless_run_stopped_on_is_answered_in_the_form(
    tmp_path: Path, fixed_time, isolated: Path
) -> None:
    import os

    project = write_gauges_project(tmp_path / "gauges")
    env = {**os.environ}
    headless = subprocess.run(
        [PERSTACK, "run", "host", "A room, please"],
        cwd=project, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert headless.returncode == 0, headless.stderr
    assert '"stopRunByInteractiveTool"' in headless.stdout
    app = make_app(project, expert="host", clock=fixed_time, continue_latest=True)
    async with app.run_test(size=SIZE) as pilot:
        await app.wait_until(lambda: app.state == "waiting", timeout=30)
        app.action_answer()  # "a" (the query box has the focus: typing goes there)
        await app.wait_until(lambda: isinstance(app.screen, ElicitationScreen), timeout=30)
        await pilot.pause()
        await pilot.click("#field-name")
        await pilot.press(*"Bo")
        await pilot.click("#field-breakfast")  # off
        await pilot.click("#accept")
        await app.wait_until(lambda: app.state == "completed", timeout=60)
        rows = [r for r in app.view.rows if r.tool_name == "book_room" and r.result]
        assert rows[-1].result == "Booked a lake view room for Bo, 2 nights, without breakfast."


# --- snapshots ------------------------------------------------------------------------


def gauges_app(tmp_path: Path, clock, expert: str, query: str):
    project = write_gauges_project(tmp_path / "gauges", hold_at=4)
    return make_app(project, expert=expert, query=query, clock=clock, job_id="job-snapshot")


async def hide_config(app, pilot) -> None:
    """The perstack.toml pane names this machine's paths (the server's command)."""
    app.action_toggle_config()
    await pilot.pause()


def test_snapshot_tool_call_with_a_live_progress_bar(snap_compare, tmp_path: Path, fixed_time) -> None:
    app = gauges_app(tmp_path, fixed_time, "surveyor", "Survey the north shore")

    async def held(pilot) -> None:
        await hide_config(app, pilot)  # the query runs at start: no Enter needed

        def at_buoy_3() -> bool:
            row = tool_row(app, "survey_shore")
            return row is not None and row.progress is not None and row.progress.progress == 2

        await app.wait_until(at_buoy_3, timeout=60)
        await app.wait_until(lambda: not app.bridge._buffer and not app.counts_pending)
        app._refresh_counts()
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=held)


def test_snapshot_server_question_form(snap_compare, tmp_path: Path, fixed_time) -> None:
    app = gauges_app(tmp_path, fixed_time, "host", "A room for two nights, please")

    async def asking(pilot) -> None:
        await hide_config(app, pilot)  # the query runs at start: no Enter needed
        await app.wait_until(lambda: isinstance(app.screen, ElicitationScreen), timeout=60)
        # Typed only once the form has its focus (a space would press a button).
        await app.wait_until(lambda: getattr(app.focused, "id", None) == "field-name")
        await pilot.pause()
        await pilot.press(*"Ada Lovelace")
        await app.wait_until(lambda: not app.bridge._buffer and not app.counts_pending)
        app._refresh_counts()
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=asking)
