"""Running jobs in the workbench: run, batches of events, stop, continue, follow-ups."""

from __future__ import annotations

from pathlib import Path

from runtime.storage import FileStorage
from tests.workbench.helpers import (
    Messages,
    Providers,
    copy_project,
    fast_demo,
    fast_snap,
    holding,
    make_app,
    script_rules,
    without_delays,
)
from workbench.bridge import RunBridge
from workbench.jobview import JobUpdate
from workbench.widgets.run_tree import RunTreePanel


def finished(app) -> bool:
    return not app.bridge.running and app.state not in ("ready", "running", "stopping")


async def test_the_demo_runs_to_completion_with_a_parallel_delegation(empty_dir: Path) -> None:
    messages = Messages()
    app = make_app(empty_dir, providers=fast_demo())
    async with app.run_test(size=(120, 36), message_hook=messages) as pilot:
        assert app.session.project.is_demo
        await pilot.press("enter")  # the demo's query is in the box
        await app.wait_until(lambda: finished(app))
        assert app.state == "completed"
        view = app.view
        # The tree: the coordinator, two researchers side by side, then the writer.
        root = view.tree.nodes["root"]
        children = [view.tree.nodes[c] for c in root.children]
        assert [c.expert_key for c in children] == ["researcher", "researcher", "writer"]
        assert all(c.status == "completed" for c in children) and root.status == "completed"
        assert root.total_tokens == view.tokens > 0
        # The timeline: every step, indented by delegation depth.
        kinds = {row.kind for row in view.rows}
        assert {"query", "reasoning", "tool", "delegate", "completion"} <= kinds
        assert {row.depth for row in view.rows if row.expert_key != "coordinator"} == {1}
        assert view.rows[-1].text.startswith("Your three-day Kyoto plan is ready")
        # The same job is in storage, where `perstack run` keeps jobs.
        storage = FileStorage(app.session.storage_root())
        job = storage.retrieve_job(view.job_id)
        assert job is not None and job.status == "completed"
        # Messages: started, some batches, finished; the tree shows the job.
        assert len(messages.of(RunBridge.Started)) == 1
        assert len(messages.of(RunBridge.Finished)) == 1
        tree = app.query_one(RunTreePanel)
        assert str(tree.root.label) == f"job {view.job_id[:8]}"
        assert len(tree.root.children) == 1 and len(tree.root.children[0].children) == 3
        assert "completed" in str(app.query_one("#status").render())


async def test_events_arrive_in_batches_not_one_message_each(tmp_path: Path) -> None:
    project = copy_project("snap", tmp_path)
    looping = [
        {"expert": "lead", "turn": "<300", "toolCalls": [{"name": "todo", "args": {"newTodos": ["x"]}}]},
        {"expert": "lead", "text": "done"},
    ]
    messages = Messages()
    app = make_app(project, expert="lead", query="loop", providers=Providers(looping), max_steps=400)
    settled: list[int] = []
    settle = app.bridge.settle

    def counting_settle():
        tail = settle()
        settled.append(len(tail))
        return tail

    app.bridge.settle = counting_settle
    async with app.run_test(size=(120, 36), message_hook=messages):
        await app.wait_until(lambda: finished(app))
        batches = messages.of(RunBridge.Events)
        delivered = sum(len(batch.events) for batch in batches)
        assert app.state == "completed" and app.view.max_step == 300
        # Every event arrives once: in batches, plus the tail the Finished handler drains.
        assert delivered + sum(settled) == app.view.events > 1_500
        # ~1,500 events arrive in far fewer messages: the UI is never flooded.
        assert len(batches) < app.view.events / 10


def pending_timers(app, name: str) -> int:
    return sum(1 for timer in app._timers if timer.name == name and timer._task is not None and not timer._task.done())


async def test_the_status_line_keeps_one_refresh_pending_however_often_the_clock_ticks(
    tmp_path: Path,
) -> None:
    project = copy_project("snap", tmp_path)
    app = make_app(project, expert="lead", providers=fast_snap(project))
    async with app.run_test(size=(120, 36)):
        app.after_update(JobUpdate(), live=True)  # a batch: the status follows later
        assert app.counts_pending and pending_timers(app, "counts") == 1
        for _ in range(3):  # the elapsed-time clock refreshes the status meanwhile
            app._tick()
            assert not app.counts_pending and pending_timers(app, "counts") == 0
            app.after_update(JobUpdate(), live=True)
            assert pending_timers(app, "counts") == 1


async def test_stop_cancels_the_run_and_a_follow_up_resumes_the_same_job(tmp_path: Path) -> None:
    project = copy_project("snap", tmp_path)
    rules = without_delays(script_rules(project / "script.toml"))
    held = holding(rules, "lead", "runResult", chunkSize=10)
    providers = Providers(held, rules)
    app = make_app(project, expert="lead", query="Survey the lake", providers=providers)
    async with app.run_test(size=(120, 36)) as pilot:
        # The first chunk is on screen: the run holds after it until it is stopped.
        await app.wait_until(
            lambda: any(
                r.kind == "completion" and r.status == "streaming" and r.text for r in app.view.rows
            )
        )
        job_id = app.view.job_id
        await pilot.press("ctrl+t")
        await app.wait_until(lambda: app.state == "stopped")
        streaming = [r for r in app.view.rows if r.kind == "completion"]
        assert streaming[-1].status == "stopped" and streaming[-1].text == "Both shore"
        assert app.view.tree.nodes["root"].status == "stopped"
        # The job stays resumable: still "running" in storage, with its checkpoints.
        storage = FileStorage(app.session.storage_root())
        assert storage.retrieve_job(job_id).status == "running"

        await pilot.click("#query-input")
        await pilot.press(*"Which shore first?", "enter")
        await app.wait_until(lambda: finished(app))
        assert app.state == "completed" and app.view.job_id == job_id
        assert [r.label for r in app.view.rows if r.kind == "query"][-1] == "Which shore first?"
        # Resumed from the last stored checkpoint (before the cut-off step), the job
        # redoes that step and completes this time.
        assert app.view.rows[-1].text.startswith("Both shores are surveyed")
        # The follow-up's request holds the whole history of the job.
        request = providers.built[-1].requests[-1]
        texts = [getattr(p, "text", "") for m in request.messages for p in m.contents]
        assert "Survey the lake" in texts and "Which shore first?" in texts
        assert storage.retrieve_job(job_id).status == "completed"


async def test_new_job_clears_the_screen_and_starts_fresh(tmp_path: Path) -> None:
    project = copy_project("snap", tmp_path)
    app = make_app(project, expert="lead", query="Survey", providers=fast_snap(project))
    async with app.run_test(size=(120, 36)) as pilot:
        await app.wait_until(lambda: finished(app))
        first_job = app.view.job_id
        assert app.query_one("#query-prompt").render().plain == "Follow-up"
        await pilot.press("ctrl+n")
        assert app.view.rows == [] and app.runs.job_id is None
        assert app.query_one("#query-prompt").render().plain == "Ask"
        await pilot.press(*"Again", "enter")
        await app.wait_until(lambda: finished(app) and app.view.job_id is not None)
        assert app.view.job_id != first_job
        assert [r.label for r in app.view.rows if r.kind == "query"][0] == "Again"


async def test_start_with_expert_and_query_runs_at_once(tmp_path: Path) -> None:
    project = copy_project("snap", tmp_path)
    app = make_app(
        project, expert="scribe", query="Write it", providers=fast_snap(project), job_id="job-fixed-1"
    )
    async with app.run_test(size=(120, 36)):
        await app.wait_until(lambda: finished(app))
        assert app.view.job_id == "job-fixed-1"
        assert app.view.rows[0].label == "Write it" and app.view.rows[0].expert_key == "scribe"


async def test_a_run_that_cannot_start_says_why_and_keeps_the_app(tmp_path: Path) -> None:
    project = copy_project("snap", tmp_path)
    app = make_app(project, expert="lead", workspace="no-such-dir")
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press(*"hello", "enter")
        await app.wait_until(lambda: app.state == "error")
        assert not app.bridge.running
        assert any("--workspace no-such-dir: not a directory" in n.message for n in app._notifications)
