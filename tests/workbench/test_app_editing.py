"""The edit–reload–re-run loop inside the workbench app (issue 7): diagnostics while
typing, Ctrl+S, outside edits, auto re-run, coalesced saves, themes."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from tests.workbench.editor_apps import wait_until
from tests.workbench.helpers import (
    Messages,
    Providers,
    copy_project,
    fast_snap,
    holding,
    make_app,
    script_rules,
    without_delays,
)
from workbench.bridge import RunBridge
from workbench.reload import ConfigInvalid, ConfigReloaded
from workbench.theming import read_saved_theme, settings_path
from workbench.widgets.config_editor import DEFAULT_DEBOUNCE
from workbench.widgets.config_pane import ConfigPane
from workbench.widgets.header_bar import HeaderBar

WIDE = (120, 36)
OLD_INSTRUCTION = "Read the brief, send two scouts at once, have the scribe write it up."
NEW_INSTRUCTION = "Read the brief twice, then send the scouts."


def finished(app: Any) -> bool:
    return not app.bridge.running and app.state not in ("ready", "running", "stopping")


def first_instruction(provider: Any) -> str:
    """The instruction message the model received first from ``provider``."""
    return provider.requests[0].messages[0].model_dump_json()


def first_request(provider: Any) -> str:
    """Every message of the first request ``provider`` received, as JSON."""
    return " ".join(message.model_dump_json() for message in provider.requests[0].messages)


async def test_typing_an_error_shows_it_at_its_line_and_fixing_clears_it(tmp_path: Path) -> None:
    project = copy_project("snap", tmp_path)
    app = make_app(project, expert="lead")
    async with app.run_test(size=WIDE) as pilot:
        editor = app.query_one(ConfigPane)
        await wait_until(pilot, lambda: not editor.validation_pending)
        assert editor.diagnostics == []
        area = editor.text_area
        area.focus()
        line = area.text.splitlines().index('model = "scripted-snap"')
        area.move_cursor((line, len("model = ")))
        typed = time.monotonic()
        await pilot.press("1", "2")  # model = 12"scripted-snap" : not TOML
        await wait_until(pilot, lambda: bool(editor.diagnostics))
        # It appears once the debounce has passed, not sooner and not much later.
        assert DEFAULT_DEBOUNCE <= time.monotonic() - typed < DEFAULT_DEBOUNCE + 5
        [problem] = editor.diagnostics
        assert problem.line == line + 1 and problem.severity == "error"
        assert area.marks == {line: "error"}
        # Typing never touches the file, nor the runs' config.
        assert 'model = "scripted-snap"' in (project / "perstack.toml").read_text()
        assert not app.preflight.problems

        await pilot.press("backspace", "backspace")
        await wait_until(pilot, lambda: not editor.validation_pending and not editor.diagnostics)
        assert area.marks == {}


async def test_ctrl_s_saves_with_comments_and_reloads_the_experts(tmp_path: Path) -> None:
    project = copy_project("snap", tmp_path)
    messages = Messages()
    app = make_app(project, expert="lead")
    async with app.run_test(size=WIDE, message_hook=messages) as pilot:
        editor = app.query_one(ConfigPane)
        area = editor.text_area
        area.focus()
        end = area.document.end
        area.insert('\n# the reviewer comes last\n[experts.reviewer]\ninstruction = "Review."\n', end)
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: bool(messages.of(ConfigReloaded)))
        text = (project / "perstack.toml").read_text()
        assert text == area.text
        assert text.startswith("# A small project for the workbench tests")
        assert "# the reviewer comes last" in text
        reloaded = messages.of(ConfigReloaded)[0]
        assert reloaded.diff.added == ("reviewer",)
        select = app.query_one("#expert")
        assert [key for _label, key in select._options if key != select.NULL] == [
            "lead", "scout", "scribe", "asker", "reviewer"
        ]
        assert app.query_one(HeaderBar).expert == "lead"  # the pick stays
        assert any("added reviewer" in n.message for n in app._notifications)
        assert not editor.modified


async def test_an_outside_write_reloads_and_an_invalid_one_keeps_the_run_going(tmp_path: Path) -> None:
    project = copy_project("snap", tmp_path)
    rules = without_delays(script_rules(project / "script.toml"))
    held = holding(rules, "lead", "runResult", chunkSize=10)
    messages = Messages()
    app = make_app(project, expert="lead", query="Survey the lake", providers=Providers(held))
    async with app.run_test(size=WIDE, message_hook=messages) as pilot:
        await app.editing.watching.wait()
        config = project / "perstack.toml"
        text = config.read_text()
        await pilot.press("enter")
        await app.wait_until(lambda: any(r.kind == "completion" for r in app.view.rows))
        assert app.bridge.running

        config.write_text(text.replace(OLD_INSTRUCTION, NEW_INSTRUCTION))
        await wait_until(pilot, lambda: bool(messages.of(ConfigReloaded)))
        editor = app.query_one(ConfigPane)
        assert NEW_INSTRUCTION in editor.text and not editor.modified
        assert messages.of(ConfigReloaded)[0].diff.changed == ("lead",)
        # The job on screen ran the old lead: its tree line says so.
        tree = app.query_one("#run-tree")
        labels = [str(node.label) for node in tree.root.children]
        assert len(labels) == 1 and "lead (edited)" in labels[0]

        config.write_text(text + "\n[experts.lead\n")  # not TOML
        await wait_until(pilot, lambda: bool(messages.of(ConfigInvalid)))
        assert app.bridge.running and app.state == "running"  # the job carries on
        assert app.preflight.problems == messages.of(ConfigInvalid)[0].problems
        assert "has problems" in str(app.query_one("#notice").render())
        assert "[experts.lead" in editor.text

        config.write_text(text)  # fixed: the banner goes, runs are on again
        await wait_until(pilot, lambda: len(messages.of(ConfigReloaded)) == 2)
        assert not app.preflight.problems
        assert not app.query_one("#notice").has_class("-shown")
        app.action_stop()
        await app.wait_until(lambda: finished(app))


async def test_rapid_saves_give_one_reload(tmp_path: Path) -> None:
    project = copy_project("snap", tmp_path)
    messages = Messages()
    app = make_app(project, expert="lead")
    app._reload_step_ms = 300  # a burst written within this time is one change
    async with app.run_test(size=WIDE, message_hook=messages) as pilot:
        await app.editing.watching.wait()
        config = project / "perstack.toml"
        text = config.read_text()
        versions = [text.replace(OLD_INSTRUCTION, f"Version {n}.") for n in range(4)]
        for version in versions[:3]:
            config.write_text(version)
        await wait_until(pilot, lambda: bool(messages.of(ConfigReloaded)))
        # A later, separate write is the next reload: nothing came in between.
        config.write_text(versions[3])
        await wait_until(pilot, lambda: len(messages.of(ConfigReloaded)) >= 2)
        first, second = messages.of(ConfigReloaded)[:2]
        assert "Version 2." in first.text and "Version 3." in second.text
        # Saving the same text again from the editor, twice, reloads nothing more.
        editor = app.query_one(ConfigPane)
        editor.text_area.focus()
        await pilot.press("ctrl+s", "ctrl+s")
        await pilot.pause()
        await app.workers.wait_for_complete()
        assert len(messages.of(ConfigReloaded)) == 2 and app.editing.reloads == 2


async def _save_new_instruction(app: Any, pilot: Any) -> None:
    editor = app.query_one(ConfigPane)
    area = editor.text_area
    area.focus()
    start = area.document.get_location_from_index(area.text.index(OLD_INSTRUCTION))
    end = area.document.get_location_from_index(area.text.index(OLD_INSTRUCTION) + len(OLD_INSTRUCTION))
    area.replace(NEW_INSTRUCTION, start, end)
    await pilot.press("ctrl+s")


async def test_auto_rerun_starts_a_new_job_with_the_new_instruction(tmp_path: Path) -> None:
    project = copy_project("snap", tmp_path)
    providers = fast_snap(project)
    app = make_app(project, expert="lead", query="Survey the lake", providers=providers)
    async with app.run_test(size=WIDE) as pilot:
        assert not app.editing.auto_rerun.enabled  # off by default
        await pilot.press("enter")
        await app.wait_until(lambda: finished(app))
        first_job = app.view.job_id
        assert OLD_INSTRUCTION in first_instruction(providers.built[0])

        await pilot.press("f5")
        assert app.editing.auto_rerun.enabled
        assert app.query_one("#auto-rerun").has_class("-on")
        await _save_new_instruction(app, pilot)
        await app.wait_until(lambda: len(providers.built) == 2 and finished(app))
        assert app.state == "completed" and app.view.job_id != first_job
        received = first_instruction(providers.built[1])
        assert NEW_INSTRUCTION in received and OLD_INSTRUCTION not in received
        assert "Survey the lake" in first_request(providers.built[1])


async def test_auto_rerun_stops_a_running_job_first(tmp_path: Path) -> None:
    project = copy_project("snap", tmp_path)
    rules = without_delays(script_rules(project / "script.toml"))
    held = holding(rules, "lead", "runResult", chunkSize=10)
    providers = Providers(held, rules)
    messages = Messages()
    app = make_app(project, expert="lead", query="Survey the lake", providers=providers)
    async with app.run_test(size=WIDE, message_hook=messages) as pilot:
        await pilot.press("enter")
        await app.wait_until(lambda: any(r.kind == "completion" for r in app.view.rows))
        first_job = app.view.job_id
        app.action_toggle_auto_rerun()
        await _save_new_instruction(app, pilot)
        # The hook sees a message when it is posted, before the app handles it: wait for
        # the re-run's job to be on screen and done, not just for its messages.
        def rerun_shown() -> bool:
            started = messages.of(RunBridge.Started)
            return (
                len(messages.of(RunBridge.Finished)) == 2
                and len(started) == 2
                and app.view.job_id == started[1].job_id
                and app.state == "completed"
            )

        await app.wait_until(rerun_shown)
        first_end, second_end = messages.of(RunBridge.Finished)
        assert first_end.cancelled and not second_end.cancelled  # stopped, then re-run
        started = [m.job_id for m in messages.of(RunBridge.Started)]
        assert len(started) == 2 and started[0] == first_job != started[1]
        assert app.state == "completed" and app.view.job_id == started[1]
        assert NEW_INSTRUCTION in first_instruction(providers.built[1])


async def test_theme_switch_from_the_palette_is_remembered(tmp_path: Path) -> None:
    project = copy_project("snap", tmp_path)
    app = make_app(project, expert="lead")
    async with app.run_test(size=WIDE) as pilot:
        assert app.theme == "perstack-dark"
        await pilot.press("f6")
        await pilot.pause()
        await pilot.press(*"perstack-light")
        await pilot.pause()
        await wait_until(pilot, lambda: app.screen.query("CommandList Option") is not None)
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.theme == "perstack-light")
    assert read_saved_theme(settings_path()) == "perstack-light"
    again = make_app(project, expert="lead")
    async with again.run_test(size=WIDE):
        assert again.theme == "perstack-light"


async def test_an_outside_write_over_unsaved_edits_asks_and_f4_loads_it(tmp_path: Path) -> None:
    project = copy_project("snap", tmp_path)
    messages = Messages()
    app = make_app(project, expert="lead")
    async with app.run_test(size=WIDE, message_hook=messages) as pilot:
        await app.editing.watching.wait()
        editor = app.query_one(ConfigPane)
        editor.text_area.insert("# mine\n", (0, 0))
        await pilot.pause()
        assert editor.modified
        config = project / "perstack.toml"
        theirs = config.read_text().replace(OLD_INSTRUCTION, NEW_INSTRUCTION)
        config.write_text(theirs)
        await wait_until(pilot, lambda: bool(messages.of(ConfigReloaded)))
        await wait_until(pilot, lambda: editor.conflict_pending)
        assert editor.text.startswith("# mine\n")  # nothing of the user's is lost unasked
        assert any("F4 loads the file" in n.message for n in app._notifications)
        await pilot.press("f4")
        assert editor.text == theirs and not editor.modified
