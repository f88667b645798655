"""SVG snapshots of the workbench at fixed sizes (``--snapshot-update`` to accept changes).

Everything on screen is deterministic: the ``snap`` project fixes tool-call ids and token
counts, the job id is given, event timestamps come from a counter (``fixed_time``), the
app's clock is fixed, and animations and cursor blinking are off (``still``).
"""

from __future__ import annotations

from pathlib import Path

from tests.workbench.helpers import (
    Providers,
    copy_project,
    fast_snap,
    holding,
    make_app,
    script_rules,
    without_delays,
)
from workbench.screens.answer import AnswerScreen
from workbench.screens.detail import DetailScreen
from workbench.widgets.timeline import Timeline

WIDE, NARROW = (120, 36), (80, 24)


def finished(app) -> bool:
    return not app.bridge.running and app.state not in ("ready", "running", "stopping")


def snap_app(tmp_path: Path, clock, *, expert: str = "lead", providers=None):
    project = copy_project("snap", tmp_path)
    return make_app(
        project,
        expert=expert,
        query="Survey the lake",
        providers=providers or fast_snap(project),
        clock=clock,
        job_id="job-snapshot",
    )


def test_demo_before_a_run(snap_compare, empty_dir: Path, fixed_time) -> None:
    app = make_app(empty_dir, clock=fixed_time)
    assert snap_compare(app, terminal_size=WIDE)


def test_demo_before_a_run_at_80x24(snap_compare, empty_dir: Path, fixed_time) -> None:
    app = make_app(empty_dir, clock=fixed_time)
    assert snap_compare(app, terminal_size=NARROW)


def test_mid_run_with_streaming_text(snap_compare, tmp_path: Path, fixed_time) -> None:
    project = copy_project("snap", tmp_path)
    rules = without_delays(script_rules(project / "script.toml"))
    held = holding(rules, "lead", "runResult", chunkSize=38)
    app = snap_app(tmp_path / "app", fixed_time, providers=Providers(held))

    async def streaming(pilot) -> None:
        await app.wait_until(
            lambda: any(
                r.kind == "completion" and r.status == "streaming" and r.text for r in app.view.rows
            )
        )
        # The held stream sends nothing more: let the bridge hand over what it still holds,
        # then bring the throttled header and match count up to date before the picture.
        await app.wait_until(lambda: not app.bridge._buffer and not app.counts_pending)
        app._refresh_counts()
        await pilot.pause()

    assert snap_compare(app, terminal_size=WIDE, run_before=streaming)


def test_finished_run_with_a_parallel_delegation(snap_compare, tmp_path: Path, fixed_time) -> None:
    app = snap_app(tmp_path, fixed_time)

    async def done(pilot) -> None:
        await app.wait_until(lambda: finished(app))
        await pilot.pause()

    assert snap_compare(app, terminal_size=WIDE, run_before=done)


def test_detail_view(snap_compare, tmp_path: Path, fixed_time) -> None:
    app = snap_app(tmp_path, fixed_time)

    async def details(pilot) -> None:
        await app.wait_until(lambda: finished(app))
        timeline = app.query_one(Timeline)
        timeline.focus()
        shown = app.view.shown
        timeline.cursor = next(
            i for i in range(len(shown)) if shown.row_at(i).tool_name == "readTextFile"
        )
        await pilot.press("enter")
        await app.wait_until(lambda: isinstance(app.screen, DetailScreen) and app.screen.loaded)
        await pilot.pause()

    assert snap_compare(app, terminal_size=WIDE, run_before=details)


def test_filter_applied(snap_compare, tmp_path: Path, fixed_time) -> None:
    app = snap_app(tmp_path, fixed_time)

    async def filtered(pilot) -> None:
        await app.wait_until(lambda: finished(app))
        await pilot.press("ctrl+f", *'.toolCalls[].skillName == "scout"')
        await app.wait_until(lambda: len(app.view.shown) == 2)
        await pilot.pause()

    assert snap_compare(app, terminal_size=WIDE, run_before=filtered)


def test_invalid_filter(snap_compare, tmp_path: Path, fixed_time) -> None:
    app = snap_app(tmp_path, fixed_time)

    async def invalid(pilot) -> None:
        await app.wait_until(lambda: finished(app))
        await pilot.press("ctrl+f", *'.toolCalls[].toolName = "todo"')
        await app.wait_until(lambda: app.query_one("#filter").has_class("-invalid"))
        await pilot.pause()

    assert snap_compare(app, terminal_size=WIDE, run_before=invalid)


def test_interactive_modal(snap_compare, tmp_path: Path, fixed_time) -> None:
    app = snap_app(tmp_path, fixed_time, expert="asker")

    async def asked(pilot) -> None:
        await app.wait_until(lambda: isinstance(app.screen, AnswerScreen))
        await pilot.pause()
        await pilot.press(*"north")
        await pilot.pause()

    assert snap_compare(app, terminal_size=WIDE, run_before=asked)


def test_stored_jobs_dialog(snap_compare, tmp_path: Path, fixed_time, monkeypatch) -> None:
    from runtime.model import Job, Usage
    from runtime.storage import FileStorage
    from tests.workbench.helpers import FIXED_NOW_MS
    from workbench.screens.jobs import JobsScreen

    project = copy_project("snap", tmp_path)
    monkeypatch.setenv("PERSTACK_STORAGE_PATH", "perstack")
    monkeypatch.chdir(project)  # the dialog names the storage relative to where you are
    storage = FileStorage(project / "perstack")
    minute, hour, day = 60_000, 3_600_000, 86_400_000
    jobs = [
        ("job-lake", "completed", 9, 4_210, 3 * minute, "Survey the lake"),
        (
            "job-river",
            "stoppedByInteractiveTool",
            3,
            1_180,
            2 * hour,
            "Which bank of the river is safer?",
        ),
        (
            "job-hills",
            "running",
            5,
            2_950,
            day + hour,
            "Map the hills north of the lake, with every trail",
        ),
        ("job-coast", "stoppedByError", 2, 640, 3 * day, "Survey the coast"),
    ]
    for job_id, status, steps, tokens, age, query in jobs:
        started = FIXED_NOW_MS - age
        usage = Usage(total_tokens=tokens)
        storage.store_job(Job(id=job_id, status=status, coordinator_expert_key="lead", total_steps=steps,
                              usage=usage, started_at=started))  # fmt: skip
        storage.store_run_setting(
            job_id, "run-1", {"expertKey": "lead", "input": {"text": query}, "updatedAt": started}
        )
    app = make_app(project, expert="lead", providers=fast_snap(project), clock=fixed_time)

    async def listed(pilot) -> None:
        await pilot.press("f2")
        await app.wait_until(lambda: isinstance(app.screen, JobsScreen) and app.screen.jobs)
        await app.wait_until(lambda: app.screen.priced == len(app.screen.jobs))  # costs read
        await pilot.pause()

    assert snap_compare(app, terminal_size=WIDE, run_before=listed)


def test_finished_job_with_its_final_answer(snap_compare, tmp_path: Path, fixed_time) -> None:
    from tests.workbench.test_answer_panel import with_answer
    from workbench.widgets.answer_panel import AnswerPanel

    project = copy_project("snap", tmp_path)
    answer = "\n".join(
        [
            "## The lake survey",
            "Both shores are surveyed; the report is in **report.md**.",
            "",
            "- North shore: cliffs, no landing; scout from the water.",
            "- South shore: beaches, a landing near the old pier.",
            "- Next: chart the depths from the `south` landing.",
        ]
    )
    rules = with_answer(without_delays(script_rules(project / "script.toml")), answer)
    app = snap_app(tmp_path / "app", fixed_time, providers=Providers(rules))

    async def done(pilot) -> None:
        await app.wait_until(lambda: finished(app) and app.query_one(AnswerPanel).display)
        await pilot.pause()

    assert snap_compare(app, terminal_size=WIDE, run_before=done)


def test_maximised_editor(snap_compare, tmp_path: Path, fixed_time) -> None:
    from workbench.widgets.config_pane import ConfigPane

    app = snap_app(tmp_path, fixed_time)

    async def maximised(pilot) -> None:
        await app.wait_until(lambda: finished(app))
        app.query_one(ConfigPane).text_area.focus()
        await pilot.press("f7")
        app.clear_notifications()  # "perstack.toml fills the screen: F7 puts it back."
        await pilot.pause()

    assert snap_compare(app, terminal_size=WIDE, run_before=maximised)
