"""The job's final answer under the timeline, in full (issue 13, point 5).

Real runs of the snap project on the scripted provider; the answer panel's state and what
the screen paints are asserted after the job completes, while a run is in progress, after
a follow-up, for a stored job and after Ctrl+N.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from tests.workbench.helpers import (
    Providers,
    copy_project,
    fast_snap,
    holding,
    make_app,
    script_rules,
    without_delays,
)
from workbench.widgets.answer_panel import AnswerPanel
from workbench.widgets.stream_panel import StreamPanel

FIRST_ANSWER = (
    "Both shores are surveyed: cliffs to the north, beaches to the south. The report is written."
)
#: A long answer, in Markdown, with text that markup would act on if it were read as such.
LONG_ANSWER = "\n".join(
    [
        "## The survey",
        "Cliffs to the north; beaches to the south.",
        "[bold red]not bold[/] and [@click=app.quit]no action[/] stay as typed.",
        "",
        *[f"- Point {n}: a sentence long enough to wrap in a narrow pane, number {n}." for n in range(1, 25)],
        "",
        "The end of the answer.",
    ]
)  # fmt: skip


def finished(app: Any) -> bool:
    return not app.bridge.running and app.state not in ("ready", "running", "stopping", "loading")


def painted(app: Any, widget: Any) -> str:
    """The text the screen paints over ``widget``'s region, line by line."""
    region = widget.region
    strips = app.screen._compositor.render_strips()
    return "\n".join(
        strips[y].crop(region.x, region.right).text.rstrip() for y in range(region.y, region.bottom)
    )


def with_answer(rules: list[dict[str, Any]], text: str) -> list[dict[str, Any]]:
    """The snap rules with the lead's final answer replaced by ``text``."""
    changed = []
    for rule in rules:
        if rule.get("expert") == "lead" and rule.get("purpose") == "runResult":
            rule = {**rule, "text": text}
        changed.append(rule)
    return changed


async def test_a_finished_job_shows_its_whole_answer_and_a_follow_up_replaces_it(
    tmp_path: Path,
) -> None:
    project = copy_project("snap", tmp_path)
    app = make_app(project, expert="lead", query="Survey the lake", providers=fast_snap(project))
    async with app.run_test(size=(120, 36)) as pilot:
        panel = app.query_one(AnswerPanel)
        await app.wait_until(lambda: finished(app))
        await pilot.pause()
        assert app.state == "completed"
        assert panel.display and panel.text == FIRST_ANSWER
        assert app.view.activity.final_answer.text == FIRST_ANSWER
        # All of it on screen, wrapped (the timeline's row is cut at its width).
        shown = painted(app, panel)
        assert shown.splitlines()[0].startswith("─ ✓ Final answer · lead · step 9")
        assert " ".join(" ".join(shown.splitlines()[1:]).split()) == FIRST_ANSWER
        assert not app.query_one(StreamPanel).display

        # A follow-up: no answer while it runs, then its own.
        await pilot.click("#query-input")
        shown_while_running: list[bool] = []

        def started() -> bool:  # checked at every state change: the "running" one too
            if app.state == "running":
                shown_while_running.append(panel.display)
            return bool(shown_while_running)

        await pilot.press(*"Which shore first?")
        waiting = asyncio.ensure_future(app.wait_until(started))
        await pilot.press("enter")
        await waiting
        assert shown_while_running[0] is False  # hidden as soon as the run starts
        await app.wait_until(lambda: finished(app))
        await pilot.pause()
        follow_up = app.view.activity.final_answer
        assert follow_up is not None and follow_up.text != FIRST_ANSWER
        assert panel.display and panel.text == follow_up.text
        assert follow_up.text in " ".join(painted(app, panel).split())

        # Ctrl+N: a new job has no answer yet.
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert not panel.display and panel.text == ""


async def test_no_answer_while_streaming_nor_after_a_stop(tmp_path: Path) -> None:
    project = copy_project("snap", tmp_path)
    rules = without_delays(script_rules(project / "script.toml"))
    held = holding(rules, "lead", "runResult", chunkSize=20)
    app = make_app(project, expert="lead", query="Survey the lake", providers=Providers(held))
    async with app.run_test(size=(120, 36)) as pilot:
        panel = app.query_one(AnswerPanel)
        await app.wait_until(
            lambda: any(r.kind == "completion" and r.status == "streaming" and r.depth == 0 and r.text
                        for r in app.view.rows)
        )  # fmt: skip
        # The stream panel shows the answer growing; the answer panel waits for the end.
        assert app.query_one(StreamPanel).display and not panel.display
        await pilot.press("ctrl+t")
        await app.wait_until(lambda: app.state == "stopped")
        await pilot.pause()
        assert app.view.activity.final_answer is None and not panel.display


async def test_a_long_markdown_answer_wraps_scrolls_and_is_never_read_as_markup(
    tmp_path: Path,
) -> None:
    project = copy_project("snap", tmp_path)
    rules = with_answer(without_delays(script_rules(project / "script.toml")), LONG_ANSWER)
    app = make_app(project, expert="lead", query="Survey the lake", providers=Providers(rules))
    async with app.run_test(size=(120, 36)) as pilot:
        panel = app.query_one(AnswerPanel)
        await app.wait_until(lambda: finished(app) and panel.display)
        await pilot.pause()
        assert app.is_running  # [@click=app.quit] was not an action
        assert panel.text == LONG_ANSWER
        # At most 40% of the centre column, the rest scrolls.
        centre = app.query_one("#centre").region
        assert panel.region.height == int(centre.height * 0.4)
        assert panel.max_scroll_y > 0
        top = painted(app, panel)
        assert top.splitlines()[1].strip() == "The survey"  # a heading, not "## …"
        words = " ".join(top.split())
        assert "[bold red]not bold[/] and [@click=app.quit]no action[/] stay as typed." in words
        assert "The end of the answer." not in words
        # The keyboard scrolls it once it has the focus; the title line stays.
        panel.focus()
        await pilot.press("end")
        await pilot.pause()
        bottom = painted(app, panel)
        assert bottom.splitlines()[0].startswith("─ ✓ Final answer")
        assert "The end of the answer." in bottom
        # Every line was wrapped to the panel's width (nothing cut).
        assert "number 24." in " ".join(bottom.split())


async def test_a_stored_job_opens_with_its_answer(tmp_path: Path) -> None:
    project = copy_project("snap", tmp_path)
    first = make_app(project, expert="lead", query="Survey the lake", providers=fast_snap(project))
    async with first.run_test(size=(120, 36)):
        await first.wait_until(lambda: finished(first))
        job_id = first.view.job_id
    app = make_app(project, continue_latest=True, providers=fast_snap(project))
    async with app.run_test(size=(120, 36)) as pilot:
        panel = app.query_one(AnswerPanel)
        await app.wait_until(lambda: app.runs.job_id == job_id and finished(app))
        await pilot.pause()
        assert panel.display and panel.text == FIRST_ANSWER
        assert FIRST_ANSWER in " ".join(painted(app, panel).split())


async def test_links_open_only_when_they_are_web_addresses(tmp_path: Path, monkeypatch) -> None:
    project = copy_project("snap", tmp_path)
    answer = "See [the map](https://example.com/map) or [this](file:///etc/passwd)."
    rules = with_answer(without_delays(script_rules(project / "script.toml")), answer)
    app = make_app(project, expert="lead", query="Survey the lake", providers=Providers(rules))
    opened: list[str] = []
    monkeypatch.setattr(app, "open_url", lambda url, **kwargs: opened.append(url))
    async with app.run_test(size=(120, 36)) as pilot:
        panel = app.query_one(AnswerPanel)
        await app.wait_until(lambda: finished(app) and panel.display)
        await pilot.pause()
        from textual.widgets import Markdown

        markdown = panel.markdown
        for href in ("https://example.com/map", "file:///etc/passwd"):
            markdown.post_message(Markdown.LinkClicked(markdown, href))
            await pilot.pause()
        assert opened == ["https://example.com/map"]
