"""Money beside every token count in the workbench: the timeline's cost column, the tree's
roll-ups, the header and the step details (the figures come from runtime/views/cost.py)."""

from __future__ import annotations

import json
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

from runtime.views.cost import format_cost, format_usd
from tests.workbench.helpers import copy_project, fast_snap, make_app
from tests.workbench.test_snapshots import WIDE, finished
from workbench.screens.detail import DetailScreen
from workbench.widgets.timeline import Timeline

#: $1000 per million tokens of any kind: a token costs exactly $0.001.
PRICES = """
[prices."scripted:scripted-snap"]
inputPerMillion = 1000
outputPerMillion = 1000
"""


def priced_project(tmp_path: Path) -> Path:
    project = copy_project("snap", tmp_path)
    config = project / "perstack.toml"
    config.write_text(config.read_text() + PRICES)
    return project


def status_text(app) -> str:
    return str(app.query_one("#status").render())


def timeline_lines(app) -> list[str]:
    timeline = app.query_one(Timeline)
    return [timeline.render_line(y).text for y in range(timeline.size.height)]


async def open_details(app, pilot, row_index: int) -> DetailScreen:
    timeline = app.query_one(Timeline)
    timeline.focus()
    shown = app.view.shown
    timeline.cursor = next(i for i in range(len(shown)) if shown.row_at(i).index == row_index)
    await pilot.press("enter")
    await app.wait_until(lambda: isinstance(app.screen, DetailScreen) and app.screen.loaded)
    return app.screen


async def test_a_priced_run_shows_money_in_the_column_tree_header_and_details(
    tmp_path: Path,
) -> None:
    project = priced_project(tmp_path)
    app = make_app(project, expert="lead", query="Survey the lake", providers=fast_snap(project))
    async with app.run_test(size=WIDE) as pilot:
        await app.wait_until(lambda: finished(app))
        await pilot.pause()
        view = app.view
        # The job: every token at $0.001.
        assert view.tokens > 0 and view.cost.usd == Decimal(view.tokens) / 1000
        header = f"{format_usd(view.cost.usd)} ·"
        await app.wait_until(lambda: header in status_text(app), timeout=10)
        # The tree: each node's label carries its rolled-up cost beside its tokens.
        panel = app.query_one("#run-tree")
        labels = {key: str(shown.label) for key, shown in panel._tree_nodes.items()}
        for key, node in view.tree.nodes.items():
            assert node.total_cost.usd == Decimal(node.total_tokens) / 1000
            assert format_cost(node.total_cost) in labels[key]
        # The timeline: a cost column, and each row with tokens shows its generation's cost.
        lines = timeline_lines(app)
        assert "cost" in lines[0].split()
        shown = [view.shown.row_at(i) for i in range(len(view.shown))]
        priced = [row for row in shown if row.tokens]
        assert priced
        for row in priced:
            assert row.cost is not None and row.cost.usd == Decimal(row.tokens) / 1000
        shown_costs = [line.split()[-2] for line in lines[1:] if "$" in line]
        assert shown_costs == [format_cost(row.cost) for row in priced][: len(shown_costs)]
        # The details: the generation's tokens, cost and how it was priced.
        screen = await open_details(app, pilot, priced[0].index)
        text = screen.query_one("#call-text").text
        assert text.startswith(
            f"generation: {priced[0].tokens:,} tokens · cost {format_cost(priced[0].cost)} "
            "(scripted:scripted-snap at perstack.toml prices)"
        )


async def test_a_stored_job_on_an_unknown_model_shows_a_dash_and_says_why(tmp_path: Path) -> None:
    project = copy_project("snap", tmp_path)
    first = make_app(project, expert="lead", query="Survey the lake", providers=fast_snap(project))
    async with first.run_test(size=WIDE):
        await first.wait_until(lambda: finished(first))
        # Offline: every figure is $0.
        assert first.view.cost.known and first.view.cost.usd == 0
        # The header's figures follow the last counted events (a moment after the state).
        await first.wait_until(lambda: "· $0 ·" in status_text(first), timeout=10)
        storage_root = first.session.storage_root()
    # As if the job had run on a private model no price table knows.
    for setting in Path(storage_root).glob("jobs/*/runs/*/run-setting.json"):
        data = json.loads(setting.read_text())
        data["model"], data["providerConfig"]["providerName"] = "in-house-7b", "openai"
        setting.write_text(json.dumps(data))
    app = make_app(project, continue_latest=True, providers=fast_snap(project))
    async with app.run_test(size=WIDE) as pilot:
        await app.wait_until(lambda: app.runs.job_id is not None and finished(app))
        await pilot.pause()
        cost = app.view.cost
        assert not cost.known and "has no price for openai:in-house-7b" in (cost.reason or "")
        await app.wait_until(lambda: "tokens · — ·" in status_text(app), timeout=10)
        labels = [str(shown.label) for shown in app.query_one("#run-tree")._tree_nodes.values()]
        assert labels and all(" — " in label for label in labels)
        row = next(row for row in app.view.rows if row.tokens)
        screen = await open_details(app, pilot, row.index)
        text = screen.query_one("#call-text").text
        assert text.startswith(f"generation: {row.tokens:,} tokens · cost — (genai-prices ")
        assert '[prices."openai:in-house-7b"]' in text.splitlines()[0]


def test_finished_run_with_costs(snap_compare, tmp_path: Path, fixed_time) -> None:
    project = priced_project(tmp_path)
    app = make_app(
        project,
        expert="lead",
        query="Survey the lake",
        providers=fast_snap(project),
        clock=fixed_time,
        job_id="job-snapshot",
    )

    async def done(pilot) -> None:
        await app.wait_until(lambda: finished(app))
        app.action_toggle_config()  # the timeline at its widest: every column in view
        await pilot.pause()

    assert snap_compare(app, terminal_size=WIDE, run_before=done)


async def test_the_stored_jobs_list_prices_each_job_after_listing_it(tmp_path: Path) -> None:
    from textual.widgets import OptionList

    from workbench.screens.jobs import JobsScreen

    project = priced_project(tmp_path)
    first = make_app(project, expert="lead", query="Survey the lake", providers=fast_snap(project))
    async with first.run_test(size=WIDE):
        await first.wait_until(lambda: finished(first))
        job_id, tokens, cost = first.view.job_id, first.view.tokens, first.view.cost
    app = make_app(project, expert="lead", providers=fast_snap(project))
    async with app.run_test(size=WIDE) as pilot:
        await pilot.press("f2")
        screen = app.screen
        assert isinstance(screen, JobsScreen)
        await app.wait_until(lambda: screen.jobs is not None and screen.priced == 1)
        # The same figure as the job's header showed, read back from its stored events.
        assert screen.jobs[0].job_id == job_id and screen.jobs[0].cost == cost
        assert cost.usd == Decimal(tokens) / 1000
        prompt = str(screen.query_one(OptionList).get_option_at_index(0).prompt)
        assert f" tok{format_cost(cost):>8}" in prompt


def test_a_job_line_shows_the_cost_once_priced() -> None:
    from runtime.views.cost import Cost
    from workbench.screens.jobs import job_line
    from workbench.stored_jobs import JobSummary

    now = 1_767_225_600_000
    job = JobSummary("abcdefghijkl", "lead", "completed", 12, 3400, now, "Survey")
    assert job_line(job, now).split()[5:8] == ["3.4k", "tok", "just"]  # not priced yet
    priced = Cost(Decimal("0.0421"), generations=12)
    assert job_line(replace(job, cost=priced), now).split()[5:8] == ["3.4k", "tok", "$0.042"]
    unknown = Cost(unpriced=1, reason="no price", generations=1)
    assert job_line(replace(job, cost=unknown), now).split()[5:8] == ["3.4k", "tok", "—"]


async def test_replay_shows_money_as_it_was_at_the_cursor(tmp_path: Path) -> None:
    project = priced_project(tmp_path)
    app = make_app(project, expert="lead", query="Survey the lake", providers=fast_snap(project))
    async with app.run_test(size=WIDE) as pilot:
        await app.wait_until(lambda: finished(app))
        total = app.view.cost
        await pilot.press("f8")
        await app.wait_until(lambda: app.replay.active)
        replay = app.replay.replay
        # At the first event nothing is spent; at the end, what the live view showed.
        replay.seek(0)
        assert replay.header().cost.usd == 0
        replay.seek(len(replay) - 1)
        assert replay.header().cost == total and total.usd > 0
        # Mid-job: each row's cost is its generation's, once generated, and the tree's
        # roll-ups and the header add up to what had been generated by then.
        middle = len(replay) // 2
        replay.seek(middle)
        rows = replay.rows_at()
        generated = [row for row in rows if row.tokens]
        assert generated and all(row.cost.usd == Decimal(row.tokens) / 1000 for row in generated)
        header = replay.header()
        assert header.cost.usd == Decimal(header.tokens) / 1000 < total.usd
        for state in replay.nodes_at().values():
            assert state.total_cost.usd == Decimal(state.total_tokens) / 1000
        # On screen: the header and the tree at the cursor.
        app.replay.seek(middle)
        await pilot.pause()
        assert f"tokens · {format_cost(header.cost)} ·" in status_text(app)
        labels = [str(shown.label) for shown in app.query_one("#run-tree")._tree_nodes.values()]
        for state in replay.nodes_at().values():
            if state.total_tokens:
                assert any(format_cost(state.total_cost) in label for label in labels)
