"""The views over a finished job: details, the filter bar, the tree, interactive answers."""

from __future__ import annotations

from pathlib import Path

from runtime.model import ToolMessage
from tests.workbench.helpers import Messages, copy_project, fast_demo, fast_snap, make_app
from workbench.screens.answer import AnswerScreen
from workbench.screens.detail import DetailScreen
from workbench.widgets.filter_bar import FilterBar
from workbench.widgets.timeline import Timeline


def finished(app) -> bool:
    return not app.bridge.running and app.state not in ("ready", "running", "stopping")


async def run_snap(app) -> None:
    await app.wait_until(lambda: finished(app))
    assert app.state == "completed"


def shown_labels(app) -> list[str]:
    shown = app.view.shown
    return [shown.row_at(i).label for i in range(len(shown))]


async def test_details_show_the_call_the_messages_sent_and_the_raw_events(tmp_path: Path) -> None:
    project = copy_project("snap", tmp_path)
    app = make_app(project, expert="lead", query="Survey the lake", providers=fast_snap(project))
    async with app.run_test(size=(120, 36)) as pilot:
        await run_snap(app)
        timeline = app.query_one(Timeline)
        timeline.focus()
        read = next(i for i in range(len(app.view.shown)) if app.view.shown.row_at(i).tool_name == "readTextFile")
        timeline.cursor = read
        await pilot.press("enter")
        screen = app.screen
        assert isinstance(screen, DetailScreen)
        await app.wait_until(lambda: screen.loaded)
        call = screen.query_one("#call-text").text
        assert '"path": "brief.md"' in call and "Survey both shores of the lake" in call
        messages = screen.query_one("#messages-text").text
        assert "── instruction (system)" in messages and "Survey the lake" in messages
        events = screen.query_one("#events-text").text
        # Full events from storage: the callTools event and the results, with every field.
        assert '"type": "callTools"' in events and '"type": "resolveToolResults"' in events
        assert '"jobId"' in events and '"stepNumber": 1' in events
        # ] moves to the next row without closing.
        await pilot.press("right_square_bracket")
        await app.wait_until(lambda: screen.loaded)
        assert screen.row.index > read
        await pilot.press("escape")
        assert not isinstance(app.screen, DetailScreen)


async def test_filter_as_you_type_counts_and_marks_an_invalid_expression(tmp_path: Path) -> None:
    project = copy_project("snap", tmp_path)
    messages = Messages()
    app = make_app(project, expert="lead", query="Survey", providers=fast_snap(project))
    async with app.run_test(size=(120, 36), message_hook=messages) as pilot:
        await run_snap(app)
        total = len(app.view.rows)
        await pilot.press("ctrl+f")
        assert app.focused.id == "filter-expression"
        await pilot.press(*'.toolCalls[].toolName == "todo"')
        await app.wait_until(lambda: len(app.view.shown) == 2)
        assert shown_labels(app) == [
            "todo newTodos=[1 item]",
            "todo newTodos=[1 item]",
        ]
        assert app.query_one("#filter-count").render().plain == f"2 of {total}"
        # Break it: the marker points at the problem; the view keeps the last valid filter.
        await pilot.press("backspace")
        await app.wait_until(lambda: bool(messages.of(FilterBar.Invalid)))
        invalid = messages.of(FilterBar.Invalid)[-1]
        assert invalid.field == "expression" and invalid.error.position == 25
        bar = app.query_one(FilterBar)
        assert bar.has_class("-invalid")
        problem = app.query_one("#filter-problem").render().plain
        assert "unterminated string at column 26" in problem
        marker = problem.index("^")
        field = app.query_one("#filter-expression")
        assert marker == field.content_region.x - bar.content_region.x + 25
        assert len(app.view.shown) == 2
        # Fixing it applies at once; the step range narrows further.
        await pilot.press("ctrl+u", *'.type == "callDelegate"')
        await app.wait_until(lambda: not bar.has_class("-invalid"))
        assert [row.kind for row in map(app.view.shown.row_at, range(len(app.view.shown)))] == [
            "delegate", "delegate", "delegate"
        ]
        await pilot.press("tab", *"3-8")
        await app.wait_until(lambda: len(app.view.shown) == 1)
        assert shown_labels(app) == ["scribe: Write the report: cliffs north, beaches south."]
        # Escape gives the keyboard back to the timeline, the filter kept.
        await pilot.press("escape")
        assert app.focused is app.query_one("#timeline") and len(app.view.shown) == 1


async def test_quick_toggles_and_clearing_from_the_timeline(tmp_path: Path) -> None:
    project = copy_project("snap", tmp_path)
    app = make_app(project, expert="lead", query="Survey", providers=fast_snap(project))
    async with app.run_test(size=(120, 36)) as pilot:
        await run_snap(app)
        total = len(app.view.rows)
        await pilot.press("ctrl+l")
        assert app.focused.id == "timeline"
        await pilot.press("d")
        await app.wait_until(lambda: len(app.view.shown) == 3)
        assert {app.view.shown.row_at(i).kind for i in range(3)} == {"delegate"}
        await pilot.press("t")  # tools and delegations: the union
        await app.wait_until(lambda: len(app.view.shown) == 7)
        await pilot.press("e")
        await app.wait_until(lambda: len(app.view.shown) == 7)  # no errors in this job
        assert app.query_one("#toggle-errors").has_class("-on")
        await pilot.press("c")
        await app.wait_until(lambda: len(app.view.shown) == total)
        assert not app.query_one("#toggle-errors").has_class("-on")


async def test_choosing_a_tree_node_narrows_the_timeline_to_that_run(tmp_path: Path) -> None:
    project = copy_project("snap", tmp_path)
    app = make_app(project, expert="lead", query="Survey", providers=fast_snap(project))
    async with app.run_test(size=(120, 36)) as pilot:
        await run_snap(app)
        total = len(app.view.rows)
        await pilot.press("ctrl+y")
        tree = app.query_one("#run-tree")
        assert app.focused is tree
        # Lines: job, lead, scout (north), scout (south), scribe.
        await pilot.press("down", "down", "enter")
        await app.wait_until(lambda: app.node_filter == "call_north")
        rows = [app.view.shown.row_at(i) for i in range(len(app.view.shown))]
        assert {row.expert_key for row in rows} == {"scout"}
        assert rows[0].label == "Scout the north shore"
        await pilot.press("escape")
        await app.wait_until(lambda: len(app.view.shown) == total)
        assert app.node_filter is None


async def test_an_interactive_tool_asks_in_a_modal_and_the_answer_resumes(tmp_path: Path) -> None:
    project = copy_project("snap", tmp_path)
    providers = fast_snap(project)
    app = make_app(project, expert="asker", query="Survey", providers=providers)
    async with app.run_test(size=(120, 36)) as pilot:
        await app.wait_until(lambda: isinstance(app.screen, AnswerScreen))
        await pilot.pause()
        assert app.state == "waiting"
        screen = app.screen
        assert screen.call.tool_name == "askUser"
        assert "Which shore should we survey first?" in screen.query_one("#answer-args").render().plain
        # Put it off: the question stays pending, and `a` brings it back.
        await pilot.press("escape")
        assert not isinstance(app.screen, AnswerScreen)
        assert app.query_one("#query-prompt").render().plain == "Answer"
        await pilot.press("ctrl+l", "a")
        assert isinstance(app.screen, AnswerScreen)
        await pilot.pause()
        await pilot.press(*"north", "enter")
        await app.wait_until(lambda: finished(app) and app.state != "waiting")
        assert app.state == "completed"
        asked = next(row for row in app.view.rows if row.kind == "interactive")
        assert asked.status == "done" and asked.result == "north"
        # The answer went back to the model as the tool's result (the -i path).
        tool_message = providers.built[-1].requests[-1].messages[-1]
        assert isinstance(tool_message, ToolMessage)
        assert tool_message.contents[0].contents[0].text == "north"


def test_the_problem_goes_after_the_caret_or_before_it_when_it_does_not_fit() -> None:
    from workbench.widgets.filter_bar import problem_line

    assert problem_line("Invalid x: y (bad at column 3)", 4, 80) == "    ^ bad at column 3"
    line = problem_line("Invalid step filter: 3-x (expected a number at column 3)", 70, 80)
    assert line.endswith("expected a number at column 3 ^") and line.index("^") == 70
    cut = problem_line("x" * 200, 50, 80)
    assert cut.startswith("…x") and cut.index("^") == 50


def painted_cursor_lines(app, timeline: Timeline) -> list[int]:
    """Viewport lines of the timeline that the screen paints with the cursor's background.

    Reads the compositor's output, which reuses every line not marked for repaint: a
    line the timeline forgot to refresh shows what it showed before.
    """
    cursor_bg = timeline.get_component_rich_style("timeline--cursor").bgcolor
    region = timeline.content_region
    strips = app.screen._compositor.render_strips()
    painted = []
    for line in range(1, region.height):
        strip = strips[region.y + line].crop(region.x, region.right)
        if any(segment.style and segment.style.bgcolor == cursor_bg for segment in strip):
            painted.append(line)
    return painted


async def test_moving_the_cursor_of_a_scrolled_timeline_repaints_both_lines(tmp_path: Path) -> None:
    app = make_app(tmp_path, providers=fast_demo())  # no perstack.toml: the demo
    async with app.run_test(size=(100, 24)) as pilot:
        await pilot.press("enter")  # the demo's query is in the box
        await app.wait_until(lambda: finished(app))
        timeline = app.query_one(Timeline)
        timeline.focus()
        await pilot.press("end")
        await pilot.pause()
        top = int(timeline.scroll_y)
        assert top > 0, "the job must be longer than the timeline to test a scrolled view"
        assert painted_cursor_lines(app, timeline) == [timeline.cursor - top + 1]
        await pilot.press("up")
        await pilot.pause()
        assert int(timeline.scroll_y) == top  # moved within the view: no scrolling repaint
        assert painted_cursor_lines(app, timeline) == [timeline.cursor - top + 1]
