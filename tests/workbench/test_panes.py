"""Panes an author can work in (issue 13, point 6): proportions, F7, dividers, workbench.toml."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.workbench.helpers import copy_project, fast_snap, make_app
from workbench.pane_sizes import MIN_CENTRE, PaneSizes, read_pane_sizes, save_pane_sizes
from workbench.theming import config_dir, read_saved_theme, save_theme_name
from workbench.widgets.answer_panel import AnswerPanel
from workbench.widgets.config_pane import ConfigPane
from workbench.widgets.run_tree import RunTreePanel
from workbench.widgets.timeline import Timeline

WIDE = (160, 40)
PANE_IDS = ("#config", "#split-config", "#centre", "#split-tree", "#run-tree")


def settings() -> Path:
    return config_dir() / "workbench.toml"


def finished(app) -> bool:
    return not app.bridge.running and app.state not in ("ready", "running", "stopping", "loading")


def regions(app) -> dict[str, tuple[int, int, int, int]]:
    found = {}
    for selector in (*PANE_IDS, "#timeline", "#answer"):
        region = app.query_one(selector).region  # empty when it (or a parent) is hidden
        found[selector] = tuple(region) if region.area else None
    return found


def snap_app(tmp_path: Path, **options):
    project = copy_project("snap", tmp_path)
    return make_app(
        project, expert="lead", query="Survey the lake", providers=fast_snap(project), **options
    )


# --- proportions ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("width", "editor", "timeline", "tree"),
    [(120, 25, 61, 32), (140, 38, 68, 32), (160, 44, 79, 35), (200, 55, 99, 44)],
)
async def test_the_editor_takes_most_of_the_columns_beyond_120(
    tmp_path: Path, width: int, editor: int, timeline: int, tree: int
) -> None:
    # At 120 columns the layout of old (the timeline keeps 60 and its scrollbar); wider,
    # the editor grows fastest: 44 columns at 160 (it had 25 at any width before).
    app = snap_app(tmp_path)
    async with app.run_test(size=(width, 40)) as pilot:
        await pilot.pause()
        assert app.panes.sizes.automatic
        assert app.query_one(ConfigPane).region.width == editor
        assert app.query_one(Timeline).region.width == timeline
        assert app.query_one(RunTreePanel).region.width == tree
        assert editor + timeline + tree + 2 == width  # and two one-column dividers


async def test_at_80_columns_the_editor_hides_and_the_tree_keeps_its_floor(tmp_path: Path) -> None:
    app = snap_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert not app.query_one(ConfigPane).display
        assert not app.query_one("#split-config").display
        assert app.query_one(RunTreePanel).region.width == 30
        assert app.query_one(Timeline).region.width == 80 - 30 - 1
        await pilot.press("ctrl+b")  # shown on demand, with its divider
        await pilot.pause()
        assert app.query_one(ConfigPane).region.width == 20
        assert app.query_one("#split-config").display
        assert app.query_one(Timeline).region.width == 80 - 20 - 30 - 2


# --- maximising -------------------------------------------------------------------------


async def test_f7_maximises_each_pane_and_restores_it(tmp_path: Path) -> None:
    app = snap_app(tmp_path)
    async with app.run_test(size=WIDE) as pilot:
        await app.wait_until(lambda: finished(app) and app.query_one(AnswerPanel).display)
        await pilot.pause()
        before = regions(app)
        main = app.query_one("#main").region
        focus = {
            "config": app.query_one(ConfigPane).text_area,
            "timeline": app.query_one(Timeline),
            "answer": app.query_one(AnswerPanel),
            "run-tree": app.query_one(RunTreePanel),
            "centre": app.query_one("#query-input"),
        }
        for pane, widget in focus.items():
            widget.focus()
            await pilot.press("f7")
            await pilot.pause()
            assert app.panes.maximised == pane
            big = app.query_one(f"#{pane}")
            # The whole space between the header and the filter bar.
            assert big.region.width == main.width == 160
            if pane in ("config", "run-tree", "centre"):
                assert big.region == main
            else:  # the timeline or the answer: the centre column, alone
                assert big.region.height == main.height
            shown = {key for key, region in regions(app).items() if region is not None}
            expected = {
                "config": {"#config"},
                "run-tree": {"#run-tree"},
                "centre": {"#centre", "#timeline", "#answer"},
                "timeline": {"#centre", "#timeline"},
                "answer": {"#centre", "#answer"},
            }[pane]
            assert shown == expected
            assert app.focused is widget  # the focus stays where it was
            told = [n.message for n in app._notifications if "F7 puts it back" in n.message]
            if pane == "config":  # said the first time only (it fades after 4 s)
                assert told == ["perstack.toml fills the screen: F7 puts it back."]
            assert len(told) <= 1  # never once more
            await pilot.press("f7")
            await pilot.pause()
            assert app.panes.maximised is None
            assert regions(app) == before


async def test_going_to_a_hidden_pane_restores_the_maximised_one(tmp_path: Path) -> None:
    app = snap_app(tmp_path, still=True)
    async with app.run_test(size=WIDE) as pilot:
        await app.wait_until(lambda: finished(app))
        app.query_one(ConfigPane).text_area.focus()
        await pilot.press("f7")
        assert app.panes.maximised == "config"
        await pilot.press("ctrl+l")  # go to the timeline
        await pilot.pause()
        assert app.panes.maximised is None and app.query_one(Timeline).display
        assert app.focused is app.query_one(Timeline)
        # The query box lies outside the panes: going there keeps a pane maximised.
        await pilot.press("f7", "ctrl+g")
        await pilot.pause()
        assert app.panes.maximised == "timeline"
        # Ctrl+B shows or hides the editor: the layout comes back first.
        await pilot.press("ctrl+b")
        await pilot.pause()
        assert app.panes.maximised is None and not app.query_one(ConfigPane).display


async def test_a_maximised_answer_gives_way_when_a_new_job_starts(tmp_path: Path) -> None:
    app = snap_app(tmp_path)
    async with app.run_test(size=WIDE) as pilot:
        await app.wait_until(lambda: finished(app) and app.query_one(AnswerPanel).display)
        app.query_one(AnswerPanel).focus()
        await pilot.press("f7")
        assert app.panes.maximised == "answer"
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert app.panes.maximised is None
        assert app.query_one(Timeline).display and not app.query_one(AnswerPanel).display


# --- dividers ---------------------------------------------------------------------------


async def test_alt_arrows_move_the_dividers_and_workbench_toml_keeps_them(tmp_path: Path) -> None:
    save_theme_name("perstack-light", settings())  # a setting of another kind, kept
    app = snap_app(tmp_path)
    async with app.run_test(size=WIDE) as pilot:
        await app.wait_until(lambda: finished(app) and app.query_one(AnswerPanel).display)
        editor, tree = app.query_one(ConfigPane), app.query_one(RunTreePanel)
        assert (editor.region.width, tree.region.width) == (44, 35)  # automatic
        shown = 160 - 2  # the columns the panes share, the dividers aside
        editor.text_area.focus()
        await pilot.press("alt+right")  # the widths become the user's, the editor widens
        await pilot.pause()
        assert not app.panes.sizes.automatic
        # Each width as a share of the columns, taken mid-column (rounding keeps it).
        assert app.panes.sizes.editor == round(44.5 * 100 / shown + 2, 1)
        assert app.panes.sizes.tree == round(34.5 * 100 / shown, 1)
        assert editor.region.width == 47 and tree.region.width == 35  # 2% of 158 more
        await pilot.press("alt+right", "alt+right")
        await pilot.pause()
        editor_share = app.panes.sizes.editor
        assert editor.region.width == int(shown * editor_share / 100)
        assert read_pane_sizes(settings())[0].editor == editor_share  # kept at once
        app.query_one(Timeline).focus()
        tree_share = app.panes.sizes.tree
        await pilot.press("alt+left")  # the divider on the timeline's right: the tree widens
        await pilot.pause()
        assert app.panes.sizes.tree == round(tree_share + 2, 1)
        assert abs(tree.region.width - shown * app.panes.sizes.tree / 100) < 1
        tree.focus()
        await pilot.press("alt+right", "alt+right")  # the tree's own (left) divider
        await pilot.pause()
        assert app.panes.sizes.tree == round(tree_share - 2, 1)
        app.query_one("#query-input").focus()
        await pilot.press("alt+up")  # above the final answer: more room for it
        await pilot.pause()
        assert app.panes.sizes.answer == 42
        chosen = app.panes.sizes
        # Typing keys still type in the editor: Alt+arrows moved no text.
        assert (
            app.query_one(ConfigPane).text_area.text
            == (tmp_path / "snap" / "perstack.toml").read_text()
        )
    text = settings().read_text()
    assert 'theme = "perstack-light"' in text and "[layout]" in text
    assert read_pane_sizes(settings()) == (chosen, [])
    assert read_saved_theme(settings()) == "perstack-light"

    # The next start uses them, on a terminal of any width.
    again = make_app(tmp_path / "snap", expert="lead")
    async with again.run_test(size=(200, 40)) as pilot:
        await pilot.pause()
        assert again.panes.sizes == chosen
        shown = 200 - 2
        assert again.query_one(ConfigPane).region.width == int(shown * chosen.editor / 100)
        assert abs(again.query_one(RunTreePanel).region.width - shown * chosen.tree / 100) < 1


async def test_dragging_a_divider_resizes_and_the_release_keeps_it(tmp_path: Path) -> None:
    app = snap_app(tmp_path)
    async with app.run_test(size=WIDE) as pilot:
        await app.wait_until(lambda: finished(app) and app.query_one(AnswerPanel).display)
        await pilot.pause()
        main = app.query_one("#main").region
        # The editor's divider, from its place to column 70.
        await pilot.mouse_down("#split-config")
        await pilot.hover("#main", offset=(70, 10))
        await pilot.pause()
        assert app.query_one(ConfigPane).region.width == 70
        assert app.query_one("#split-config").region.x == 70
        assert not settings().exists()  # kept on release, not at every move
        await pilot.mouse_up("#main", offset=(70, 10))
        await pilot.pause()
        assert read_pane_sizes(settings())[0].editor == round(70.5 * 100 / 158, 1)
        # The tree's divider to column 120: the tree takes the columns right of it.
        await pilot.mouse_down("#split-tree")
        await pilot.hover("#main", offset=(120, 10))
        await pilot.mouse_up("#main", offset=(120, 10))
        await pilot.pause()
        tree = app.query_one(RunTreePanel).region
        assert tree.x == 121 and tree.right == main.right  # the divider sits at column 120
        # Not past the timeline's share: the editor is held back.
        await pilot.mouse_down("#split-config")
        await pilot.hover("#main", offset=(150, 10))
        await pilot.mouse_up("#main", offset=(150, 10))
        await pilot.pause()
        sizes = app.panes.sizes
        assert sizes.editor + sizes.tree == 100 - MIN_CENTRE
        # The answer's title line is its divider: drag it up, the answer grows (as far as
        # its text goes: the snap answer is two lines).
        answer = app.query_one(AnswerPanel)
        await pilot.mouse_down("#answer-split")
        centre = app.query_one("#centre").region
        await pilot.hover("#main", offset=(60, centre.y + centre.height // 2))
        await pilot.mouse_up("#main", offset=(60, centre.y + centre.height // 2))
        await pilot.pause()
        assert app.panes.sizes.answer == pytest.approx(50, abs=3)
        assert answer.styles.max_height.value == app.panes.sizes.answer


# --- workbench.toml ---------------------------------------------------------------------


def test_sizes_are_brought_into_range_and_leave_the_timeline_its_share() -> None:
    sizes = PaneSizes()
    assert sizes.automatic and sizes.as_settings() == {"answer_height": 40}
    assert sizes.with_size("answer", 50).automatic  # the widths stay automatic
    assert sizes.with_size("editor", 5) == PaneSizes(editor=10, tree=22)  # both fixed now
    assert not sizes.with_size("tree", 30).automatic
    assert sizes.with_size("answer", 99).answer == 90
    wide = sizes.with_size("editor", 75)
    assert wide.editor == 100 - MIN_CENTRE - 22  # the tree at its automatic share
    assert wide.with_size("tree", 60).tree == 100 - MIN_CENTRE - wide.editor
    assert PaneSizes(editor=75, tree=5).with_size("tree", 30).tree == 10  # the floor wins
    assert sizes.with_size("tree", 33.333).tree == 33.3
    assert PaneSizes(editor=30.5, tree=22).as_settings() == {
        "editor_width": 30.5,
        "tree_width": 22,
        "answer_height": 40,
    }


def test_bad_values_in_workbench_toml_are_named_and_ignored(tmp_path: Path) -> None:
    path = tmp_path / "workbench.toml"
    path.write_text('theme = "perstack-dark"\n[layout]\neditor_width = "wide"\ntree_width = 200\n')
    sizes, problems = read_pane_sizes(path)
    assert sizes == PaneSizes(editor=28, tree=100 - MIN_CENTRE - 28)  # brought into range
    assert problems == [
        f"{path}: layout.editor_width: expected a percentage such as 30, got 'wide' (ignored)"
    ]
    path.write_text("layout = 3\n")
    assert read_pane_sizes(path) == (
        PaneSizes(),
        [f"{path}: layout: expected a table, got 3 (ignored)"],
    )
    path.write_text("not toml [")  # the theme reports this one; the sizes are the defaults
    assert read_pane_sizes(path) == (PaneSizes(), [])
    with pytest.raises(Exception, match="cannot update the workbench settings"):
        save_pane_sizes(PaneSizes(), path)
    assert path.read_text() == "not toml ["  # never overwritten


async def test_a_bad_layout_value_is_a_notice_and_the_workbench_opens(tmp_path: Path) -> None:
    settings().parent.mkdir(parents=True, exist_ok=True)
    settings().write_text("[layout]\nanswer_height = true\n")
    app = snap_app(tmp_path)
    async with app.run_test(size=WIDE) as pilot:
        await pilot.pause()
        notices = [n.message for n in app._notifications]
        assert any("layout.answer_height: expected a percentage" in n for n in notices)
        assert app.panes.sizes == PaneSizes()
