"""Replay in the workbench (issue 13): the cursor, the job as it was, fork and diff.

Every job here is produced by a real run of the snap project on the scripted provider
(a lead delegating to two ``scout`` runs in parallel, then a ``scribe``), in the app.
"""

from __future__ import annotations

import json
from pathlib import Path

from runtime.storage import FileStorage
from runtime.storage.sources import open_job
from runtime.views.replay import JobReplay
from tests.workbench.helpers import copy_project, fast_snap, make_app
from tests.workbench.test_stored_jobs import finished
from workbench.formatting import STATUS_GLYPHS
from workbench.screens.diff import DiffScreen
from workbench.screens.fork import ForkScreen
from workbench.screens.jobs import JobsScreen
from workbench.widgets.checkpoint_panel import CheckpointPanel
from workbench.widgets.replay_bar import ReplayBar
from workbench.widgets.run_tree import RunTreePanel
from workbench.widgets.timeline import Timeline


def shown_tree(app) -> dict[str, str]:
    """The tree's nodes on screen: node id -> label text."""
    panel = app.query_one(RunTreePanel)
    # (Textual's Tree keeps its own int-keyed nodes in the same dict.)
    return {
        key: str(node.label) for key, node in panel._tree_nodes.items() if isinstance(key, str)
    }


def status_text(app) -> str:
    return str(app.query_one("#header").query_one("#status").render())


async def replaying(app, pilot) -> JobReplay:
    await app.wait_until(lambda: finished(app))
    await pilot.press("f8")
    await app.wait_until(lambda: app.replay.active)
    assert app.replay.replay is not None
    return app.replay.replay


async def test_the_cursor_shows_the_job_as_it_was(tmp_path: Path) -> None:
    project = copy_project("snap", tmp_path)
    app = make_app(project, expert="lead", query="Survey the lake", providers=fast_snap(project))
    async with app.run_test(size=(120, 36)) as pilot:
        replay = await replaying(app, pilot)
        timeline = app.query_one(Timeline)
        # It opens at the first event: one row (the query), the lead alone in the tree.
        assert replay.cursor == 0 and isinstance(app.focused, ReplayBar)
        assert timeline.shown_count == 1 and list(shown_tree(app)) == ["root"]
        assert "step 1 of 9" in status_text(app)
        # → moves a step at a time; the timeline, tree and header follow.
        await pilot.press("right", "right", "right")
        ends = [i for i, e in enumerate(replay.events) if e.type in
                {"continueToNextStep", "completeRun", "stopRunByDelegate"}]  # fmt: skip
        assert replay.cursor == ends[2]
        assert timeline.shown_count == replay.visible_count()
        assert timeline.shown_count < len(replay.rows)
        states = replay.nodes_at()
        tree = shown_tree(app)
        assert list(tree) == list(states)
        for node_id, state in states.items():
            assert tree[node_id].startswith(f"{STATUS_GLYPHS.get(state.status, '·')} {state.label}")
            assert f"{state.total_steps}st" in tree[node_id]
        assert any(s.status != app.view.tree.nodes[n].status for n, s in states.items())
        header = replay.header()
        assert f"step {header.step} of {header.last_step}" in status_text(app)
        # The checkpoint panel shows what the acting Expert held there.
        panel = app.query_one(CheckpointPanel)
        held = replay.checkpoint_at()
        assert held is not None
        await app.wait_until(lambda: panel.key is not None and panel.key[1] == held.event_index)
        assert held.checkpoint.id in panel.text
        assert f"messages: {len(held.messages)}" in panel.text
        # ← goes back; g goes to a step; End to the last event.
        await pilot.press("left")
        assert replay.cursor == ends[1]
        await pilot.press("g")
        await pilot.press("5", "enter")
        await app.wait_until(lambda: replay.event.step_number == 5)
        assert replay.event.type in {"continueToNextStep", "completeRun", "stopRunByDelegate"}
        await pilot.press("end")
        assert replay.cursor == len(replay) - 1
        assert timeline.shown_count == len(replay.rows)
        assert set(shown_tree(app)) == set(app.view.tree.nodes)
        # Jumps: the previous delegation and the previous tool call.
        await pilot.press("D")
        assert replay.event.type == "callDelegate"
        await pilot.press("home", "t")
        assert replay.event.type == "callTools"
        # Esc leaves: the job as it is, every node, the final answer.
        await pilot.press("escape")
        assert not app.replay.active and not app.screen.has_class("-replay")
        assert timeline.replay is None and timeline.shown_count == len(app.view.shown)
        assert set(shown_tree(app)) == set(app.view.tree.nodes)
        assert "completed" in status_text(app)


async def test_play_runs_to_the_end(tmp_path: Path) -> None:
    project = copy_project("snap", tmp_path)
    app = make_app(project, expert="lead", query="Survey the lake", providers=fast_snap(project))
    async with app.run_test(size=(120, 36)) as pilot:
        replay = await replaying(app, pilot)
        await pilot.press("space")  # at the recorded pace
        await app.wait_until(lambda: replay.cursor >= 3)
        await pilot.press("space", "home")
        assert not app.replay.playing and replay.cursor == 0
        await pilot.press("s", "s")  # 1× -> 4× -> 16×
        await pilot.press("space")
        await app.wait_until(lambda: replay.cursor >= 3)
        await pilot.press("space", "home", "s")  # -> as fast as it draws
        assert app.replay.speed is None
        await pilot.press("space")  # (at this speed it may be done before the press returns)
        await app.wait_until(lambda: not app.replay.playing)
        assert replay.cursor == len(replay) - 1
        assert app.query_one(Timeline).shown_count == len(replay.rows)


async def test_fork_from_the_cursor_runs_a_new_job_and_opens_the_diff(tmp_path: Path) -> None:
    project = copy_project("snap", tmp_path)
    app = make_app(project, expert="lead", query="Survey the lake", providers=fast_snap(project))
    async with app.run_test(size=(120, 36)) as pilot:
        replay = await replaying(app, pilot)
        original = app.view.job_id
        await pilot.press("g")
        await pilot.press("4", "enter")
        await app.wait_until(lambda: replay.event.step_number == 4)
        run_id, checkpoint_id = replay.fork_point()
        await pilot.press("f")
        await app.wait_until(lambda: isinstance(app.screen, ForkScreen))
        await pilot.press(*"Go north only")
        await pilot.click("#fork-model")
        await pilot.press(*"scripted-other")
        await pilot.click("#fork-go")
        # The fork runs live in the normal view, then the diff opens on its divergence.
        await app.wait_until(
            lambda: isinstance(app.screen, DiffScreen) and app.screen.diff is not None
        )
        assert not app.replay.active and app.state == "completed"
        forked = app.view.job_id
        assert forked != original and app.runs.job_id == forked
        storage = FileStorage(tmp_path / "storage")
        record = json.loads((storage.root / "jobs" / forked / "job.json").read_text())
        assert record["forkedFrom"] == {
            "jobId": original, "runId": run_id, "checkpointId": checkpoint_id
        }  # fmt: skip
        # Its own runs use the model picked (the history it copied keeps the old one).
        runs = storage.list_runs(forked)  # newest first
        assert runs[0].get("model") == "scripted-other"
        assert {s.get("model") for s in runs} == {"scripted-other", "scripted-snap"}
        screen = app.screen
        assert (screen.job_a, screen.job_b) == (original, forked)
        diff = screen.diff
        assert diff.first_divergence is not None
        assert screen.cursor_pair == diff.first_divergence
        first = diff.pairs[diff.first_divergence]
        assert first.b is not None and "Go north only" in json.dumps(first.b.action)
        # The original job is untouched; F2 shows the lineage.
        await pilot.press("escape")
        await pilot.press("f2")
        await app.wait_until(lambda: isinstance(app.screen, JobsScreen) and app.screen.jobs)
        lines = {job.job_id: job.forked_from for job in app.screen.jobs}
        assert lines == {forked: original, original: None}


async def test_two_jobs_picked_in_f2_open_the_diff(tmp_path: Path) -> None:
    project = copy_project("snap", tmp_path)
    for query in ("Survey the lake", "Survey the lake twice"):
        app = make_app(project, expert="lead", query=query, providers=fast_snap(project))
        async with app.run_test(size=(120, 36)):
            await app.wait_until(lambda: finished(app))
    app = make_app(project)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("f2")
        await app.wait_until(lambda: isinstance(app.screen, JobsScreen) and app.screen.jobs)
        newest, oldest = (job.job_id for job in app.screen.jobs)
        await pilot.press("m")
        assert app.screen.marked == newest
        await pilot.press("down", "enter")
        await app.wait_until(
            lambda: isinstance(app.screen, DiffScreen) and app.screen.diff is not None
        )
        assert (app.screen.job_a, app.screen.job_b) == (newest, oldest)
        assert app.screen.diff.first_divergence == 0  # the queries differ from the start
        assert app.screen.cursor_pair == 0
        # The main screen's keys neither show nor act behind the diff: its footer lists
        # the diff's own keys and Help, and Ctrl+R starts no run.
        def shown() -> set[str]:
            return {active.binding.action for active in app.screen.active_bindings.values()}

        assert {"close", "difference(1)", "help"} <= shown()
        assert not {"run", "new_job", "stop"} & shown()
        state = app.state
        await pilot.press("ctrl+r")
        await pilot.pause()
        assert isinstance(app.screen, DiffScreen) and app.state == state
        assert app.runs.job_id is None
        await pilot.press("escape")
        assert {"run", "new_job"} <= shown()


async def test_f2_replay_key_and_a_folder_elsewhere_in_the_list(tmp_path: Path) -> None:
    project = copy_project("snap", tmp_path)
    app = make_app(project, expert="lead", query="Survey the lake", providers=fast_snap(project))
    async with app.run_test(size=(120, 36)):
        await app.wait_until(lambda: finished(app))
        job_id = app.view.job_id
    elsewhere = tmp_path / "attachment" / job_id
    stored = tmp_path / "storage" / "jobs" / job_id
    stored.rename(elsewhere.parent.mkdir(parents=True) or elsewhere)
    app = make_app(project, open_job=str(elsewhere), providers=fast_snap(project))
    async with app.run_test(size=(120, 36)) as pilot:
        await app.wait_until(lambda: app.runs.job_id == job_id and finished(app))
        await pilot.press("f2")
        await app.wait_until(lambda: isinstance(app.screen, JobsScreen) and app.screen.jobs)
        (listed,) = app.screen.jobs
        assert listed.job_id == job_id and listed.location == str(elsewhere)
        await pilot.press("r")
        await app.wait_until(lambda: app.replay.active)
        assert app.replay.replay.cursor == 0 and app.replay.replay.job_id == job_id


async def test_start_open_in_replay(tmp_path: Path) -> None:
    project = copy_project("snap", tmp_path)
    app = make_app(project, expert="lead", query="Survey the lake", providers=fast_snap(project))
    async with app.run_test(size=(120, 36)):
        await app.wait_until(lambda: finished(app))
        job_id = app.view.job_id
    replay = JobReplay.from_source(open_job(job_id, cwd=project, storage_root=tmp_path / "storage"))
    app = make_app(project, open_job=job_id, providers=fast_snap(project))
    app.session.replay = True
    async with app.run_test(size=(120, 36)):
        await app.wait_until(lambda: app.replay.active)
        assert app.replay.replay.cursor == 0 and len(app.replay.replay) == len(replay)
        assert app.query_one(Timeline).shown_count == 1
