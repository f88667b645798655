"""The perstack.toml editor (issue 7): problems while typing, save, edits made elsewhere,
find, undo, highlighting."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.workbench.editor_apps import EditorApp, config_home, wait_for, wait_until  # noqa: F401
from tests.workbench.toml_samples import SMALL_CONFIG
from workbench.widgets.config_editor import DEFAULT_DEBOUNCE, ConfigEditor
from workbench.widgets.diagnostics import DiagnosticsList, parse_problem, validate_text
from workbench.widgets.find_bar import FindBar

pytestmark = pytest.mark.usefixtures("config_home")

Changed = ConfigEditor.DiagnosticsChanged


@pytest.fixture
def project(tmp_path: Path) -> Path:
    path = tmp_path / "project" / "perstack.toml"
    path.parent.mkdir()
    path.write_text(SMALL_CONFIG)
    return path


def _problem_rows(app: EditorApp) -> list[str]:
    listing = app.query_one(DiagnosticsList)
    return [listing.render_line(y).text.rstrip() for y in range(listing.option_count)]


async def test_typing_an_error_shows_it_at_its_line_after_the_debounce(project: Path) -> None:
    app = EditorApp(project)
    async with app.run_test(size=(90, 30)) as pilot:
        await wait_for(pilot, app, Changed)  # the file as opened: valid
        assert app.editor.diagnostics == []
        area = app.editor.text_area
        area.focus()
        line = SMALL_CONFIG.splitlines().index('instruction = "Write a note."')
        area.move_cursor((line, len("instruction = ")))
        typing_started = time.monotonic()
        await pilot.press("1", "2")  # instruction = 12"Write a note." : not TOML
        await wait_until(pilot, lambda: bool(app.of(Changed)[-1].diagnostics))
        # Debounced: no validation comes sooner than the debounce after a keystroke.
        assert time.monotonic() - typing_started >= DEFAULT_DEBOUNCE
        await wait_until(pilot, lambda: not app.editor.validation_pending)
        changed = app.of(Changed)[-1]
        assert area.text.splitlines()[line] == 'instruction = 12"Write a note."'
        [problem] = changed.diagnostics
        assert problem.line == line + 1 and problem.severity == "error"
        assert problem.text.startswith(f"{project}:{line + 1}: ")
        assert area.marks == {line: "error"}
        # The gutter shows the mark beside that line's number, and only there.
        gutter = area.gutter_width
        assert area.render_line(line - area.scroll_offset.y).text[gutter - 2] == "●"
        assert area.render_line(0).text[gutter - 2] == " "
        assert _problem_rows(app) == [f"{line + 1:>4} ● {problem.message}"]
        assert "1 problem" in str(app.query_one("#editor-title").render())

        await pilot.press("backspace", "backspace")  # fixed again
        await wait_until(pilot, lambda: not app.editor.validation_pending)
        assert area.text == SMALL_CONFIG and app.editor.diagnostics == [] and area.marks == {}
        assert _problem_rows(app) == ["✓ No problems"]


async def test_schema_problems_are_the_runtimes_own_lines(project: Path) -> None:
    project.write_text(SMALL_CONFIG.replace('instruction = "Read the notes."', "maxSteps = 0"))
    app = EditorApp(project)
    async with app.run_test(size=(90, 30)) as pilot:
        changed = await wait_for(pilot, app, Changed)
        from runtime.config import ConfigError, load_config

        with pytest.raises(ConfigError) as error:
            load_config(project)
        assert [d.text for d in changed.diagnostics] == error.value.problems
        lines = {d.line for d in changed.diagnostics}
        assert set(app.editor.text_area.marks) == {line - 1 for line in lines}


async def test_choosing_a_problem_moves_the_cursor_there(project: Path) -> None:
    lines = SMALL_CONFIG.splitlines()
    lines[1] = "model = 5"
    project.write_text("\n".join(lines) + "\n")
    app = EditorApp(project)
    async with app.run_test(size=(90, 30)) as pilot:
        changed = await wait_for(pilot, app, Changed)
        [problem] = changed.diagnostics
        assert problem.line == 2 and "model" in problem.message
        listing = app.query_one(DiagnosticsList)
        listing.focus()
        await pilot.press("down", "enter")
        assert app.editor.text_area.cursor_location == (1, 0)
        assert app.focused is app.editor.text_area


async def test_ctrl_s_writes_the_buffer_as_is_with_comments(project: Path) -> None:
    app = EditorApp(project)
    async with app.run_test(size=(90, 30)) as pilot:
        area = app.editor.text_area
        area.focus()
        area.move_cursor((len(SMALL_CONFIG.splitlines()), 0))
        await pilot.press(*"# my note", "enter")
        assert app.editor.modified
        await pilot.press("ctrl+s")
        saved = await wait_for(pilot, app, ConfigEditor.Saved)
        on_disk = project.read_text()
        assert on_disk == saved.text == area.text
        assert on_disk.startswith(SMALL_CONFIG)  # every comment and space kept
        assert "# my note" in on_disk and "# a comment the editor must keep" in on_disk
        assert not app.editor.modified
        assert [m.modified for m in app.of(ConfigEditor.ModifiedChanged)] == [True, False]
        assert not list(project.parent.glob(".*.tmp"))  # the temporary file is gone


async def test_save_failure_is_a_notice_not_a_crash(project: Path) -> None:
    app = EditorApp(project)
    async with app.run_test(size=(90, 30)) as pilot:
        area = app.editor.text_area
        area.insert("# x\n", (0, 0))
        project.parent.rename(project.parent.with_name("moved"))  # nowhere to write now
        assert app.editor.save() is False
        await pilot.pause()
        assert app.editor.modified and not app.of(ConfigEditor.Saved)
        assert [n.message for n in app._notifications][-1].startswith(f"Cannot save {project}")


async def test_external_write_reloads_an_unchanged_buffer(project: Path) -> None:
    app = EditorApp(project)
    async with app.run_test(size=(90, 30)) as pilot:
        area = app.editor.text_area
        area.move_cursor((4, 3))
        theirs = SMALL_CONFIG.replace("Write a note.", "Write two notes.")
        project.write_text(theirs)
        app.editor.disk_changed()
        await wait_for(pilot, app, ConfigEditor.LoadedFromDisk)
        assert area.text == theirs and not app.editor.modified
        assert area.cursor_location == (4, 3)  # the cursor stays where it was
        app.editor.disk_changed(theirs)  # the same text again (e.g. our own save): nothing
        await pilot.pause()
        assert len(app.of(ConfigEditor.LoadedFromDisk)) == 1


async def test_external_write_over_unsaved_changes_asks(project: Path) -> None:
    app = EditorApp(project)
    async with app.run_test(size=(90, 30)) as pilot:
        area = app.editor.text_area
        area.insert("# mine\n", (0, 0))
        mine = area.text
        theirs = SMALL_CONFIG.replace("Write a note.", "Theirs.")
        project.write_text(theirs)
        app.editor.disk_changed()
        conflict = await wait_for(pilot, app, ConfigEditor.ExternalChange)
        assert conflict.disk_text == theirs and conflict.path == project
        assert area.text == mine and app.editor.conflict_pending

        app.editor.keep_mine()
        assert area.text == mine and app.editor.modified and not app.editor.conflict_pending
        app.editor.disk_changed(theirs)  # already decided: not asked again
        await pilot.pause()
        assert len(app.of(ConfigEditor.ExternalChange)) == 1

        third = theirs.replace("Theirs.", "Third.")
        project.write_text(third)
        app.editor.disk_changed()
        await wait_for(pilot, app, ConfigEditor.ExternalChange, 2)
        app.editor.load_theirs()
        assert area.text == third and not app.editor.modified


async def test_hot_reload_brings_an_outside_edit_into_the_editor(project: Path) -> None:
    app = EditorApp(project, watch=True)
    async with app.run_test(size=(90, 30)) as pilot:
        theirs = SMALL_CONFIG.replace("Write a note.", "Edited in another editor.")
        tmp = project.with_name("perstack.toml.swp")
        tmp.write_text(theirs)
        tmp.replace(project)  # as editors save: a new file renamed over the old one
        await wait_for(pilot, app, ConfigEditor.LoadedFromDisk)
        assert app.editor.text_area.text == theirs


async def test_find_bar_moves_through_matches(project: Path) -> None:
    app = EditorApp(project)
    async with app.run_test(size=(90, 30)) as pilot:
        area = app.editor.text_area
        area.focus()
        await pilot.press("ctrl+f")
        bar = app.query_one(FindBar)
        assert bar.is_open and app.focused is bar.query_one("Input")
        await pilot.press(*"notes")
        lines = SMALL_CONFIG.splitlines()
        first = next(i for i, text in enumerate(lines) if "notes" in text.lower())
        assert area.selected_text.lower() == "notes" and area.selection.start[0] == first
        assert str(bar.query_one("#find-count").render()) == "1/2"
        await pilot.press("enter")
        second = area.selection.start[0]
        assert second > first and str(bar.query_one("#find-count").render()) == "2/2"
        await pilot.press("enter")  # wraps around
        assert area.selection.start[0] == first
        await pilot.press("shift+enter")  # previous, wrapping backwards
        assert area.selection.start[0] == second
        await pilot.press("escape")
        assert not bar.is_open and app.focused is area
        await pilot.press("ctrl+f", *"zzz")
        assert str(bar.query_one("#find-count").render()) == "no matches"


async def test_undo_and_redo(project: Path) -> None:
    app = EditorApp(project)
    async with app.run_test(size=(90, 30)) as pilot:
        area = app.editor.text_area
        area.focus()
        area.move_cursor((0, 0))
        await pilot.press(*"abc")
        assert area.text.startswith("abc#")
        await pilot.press("ctrl+z")
        assert area.text == SMALL_CONFIG
        await pilot.press("ctrl+y")
        assert area.text.startswith("abc#")


async def test_highlighting_and_plain_text_fallback(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = EditorApp(project)
    async with app.run_test(size=(90, 30)) as pilot:
        await pilot.pause()
        area = app.editor.text_area
        assert area.language == "toml" and area.is_syntax_aware
        # The comment on line 1 is drawn in the theme's comment colour.
        comment = app.current_theme.variables["syntax-comment"].lower()
        colours = {
            segment.style.color.triplet.hex.lower()
            for segment in area.render_line(0)
            if segment.text.startswith("#") and segment.style and segment.style.color
        }
        assert comment in colours
    monkeypatch.setattr("workbench.widgets.toml_text_area.highlighting_available", lambda: False)
    app = EditorApp(project)
    async with app.run_test(size=(90, 30)) as pilot:
        area = app.editor.text_area
        assert area.language is None and area.text == SMALL_CONFIG
        await pilot.press("ctrl+s")  # everything else still works
        await wait_for(pilot, app, ConfigEditor.Saved)


async def test_garbage_never_raises_out_of_the_editor(project: Path) -> None:
    app = EditorApp(project, debounce=0.05)
    async with app.run_test(size=(90, 30)) as pilot:
        area = app.editor.text_area
        for count, garbage in enumerate(["[[[", "experts = 3", '\x00\ufeff"""', "a.b.c = {"], 2):
            area.load_text(garbage)
            changed = await wait_for(pilot, app, Changed, count)
            assert changed.diagnostics and all(d.severity == "error" for d in changed.diagnostics)
        assert app.return_code is None  # still running


def test_parse_problem_lines() -> None:
    label = "/p/a:1: b/perstack.toml"  # a path that itself looks like "file:line:"
    parsed = parse_problem(f"{label}:12: experts.x.instruction: required field is missing", label)
    assert (parsed.line, parsed.message) == (12, "experts.x.instruction: required field is missing")
    assert parse_problem("perstack.toml:3: bad").line == 3
    assert parse_problem("no line here").line is None


def test_validate_text_reports_warnings_of_a_valid_file(tmp_path: Path) -> None:
    text = (
        SMALL_CONFIG + '[experts.reader.skills."@perstack/base"]\ntype = "mcpStdioSkill"\n'
        'command = "npx"\npackageName = "@perstack/base@1.2.3"\n'
    )
    diagnostics = validate_text(text, tmp_path / "perstack.toml")
    assert diagnostics and {d.severity for d in diagnostics} == {"warning"}
