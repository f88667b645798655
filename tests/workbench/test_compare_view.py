"""The compare view driven by Pilot: picking models, live columns, the finished
comparison (marks, answers, aligned steps), opening a column's job, and the export."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from textual.widgets import Input, OptionList

from runtime.errors import PerstackError
from runtime.providers._script import parse_script
from runtime.providers.scripted import ScriptedProvider
from tests.workbench.helpers import (
    Messages,
    copy_project,
    holding,
    make_app,
    script_rules,
    without_delays,
)
from workbench.comparing import model_choices
from workbench.screens.compare import CompareScreen


class ByModel:
    """Scripted providers whose rules depend on the run's model; ``broken`` fails to build."""

    def __init__(self, project: Path, *, broken: str = "", held: str = "") -> None:
        rules = without_delays(script_rules(project / "script.toml"))
        self.rules = {"default": rules, held: holding(rules, "lead", "runResult", chunkSize=8)}
        self.broken = broken

    def __call__(self, setting: Any) -> ScriptedProvider:
        if setting.model == self.broken:
            raise PerstackError(f"{setting.model}: no such model here")
        rules = self.rules.get(setting.model, self.rules["default"])
        return ScriptedProvider(parse_script({"rules": rules}, "test rules"))


def posted(messages: Messages, cls: type) -> list[Any]:
    """Each message once (the hook sees it on the screen and again on the app)."""
    return list({id(message): message for message in messages.of(cls)}.values())


async def open_view(app: Any, pilot: Any) -> CompareScreen:
    app.query_one("#query-input", Input).value = "Survey the lake"
    await pilot.press("f10")
    await pilot.pause()
    screen = app.screen
    assert isinstance(screen, CompareScreen)
    return screen


async def test_two_models_run_side_by_side_and_a_column_opens_its_job(tmp_path: Path) -> None:
    project = copy_project("snap", tmp_path)
    app = make_app(project, expert="lead", providers=ByModel(project))
    messages = Messages()
    async with app.run_test(size=(140, 40), message_hook=messages) as pilot:
        screen = await open_view(app, pilot)
        assert screen.phase == "setup"
        assert screen.models() == ["scripted:scripted-snap"]  # the project's own model first
        # Enter on a known model fills the next free slot; a typed one is kept as typed.
        known = screen.query_one("#known-models", OptionList)
        assert known.option_count >= 1
        screen.query_one("#model-2", Input).value = "scripted:other-model"
        await pilot.press("ctrl+r")
        await app.wait_until(lambda: screen.phase == "done")
        assert [c.label.split("\n")[0] for c in screen.columns] == [
            "scripted:scripted-snap",
            "scripted:other-model",
        ]
        comparison = screen.comparison
        assert comparison is not None
        assert [run.status for run in comparison.runs] == ["completed", "completed"]
        # Both columns show the same aligned steps and the same answer, marked as best.
        first, second = screen.columns
        assert first.steps == second.steps and first.steps
        assert first.answer == second.answer == comparison.runs[0].final_answer
        assert "◆ fewest steps" in first.label and "◆ fewest steps" in second.label
        assert first.status == "completed"
        finished = posted(messages, CompareScreen.Finished)
        assert len(finished) == 1 and finished[0].comparison is comparison
        # The workspaces are copies, kept.
        for run in comparison.runs:
            assert Path(run.workspace, "perstack.toml").exists()
        # Export: Markdown and JSON beside the workspaces.
        await pilot.press("ctrl+e")
        (exported,) = posted(messages, CompareScreen.Exported)
        markdown, data = exported.paths
        assert markdown.read_text().startswith("# Comparison: lead")
        assert orjson.loads(data.read_bytes())["runs"][1]["model"] == "other-model"
        # Enter on the second column opens its job in the main view.
        await pilot.press("right")
        assert screen.selected == 1 and second.selected
        await pilot.press("enter")
        (opened,) = posted(messages, CompareScreen.OpenJob)
        assert opened.name == comparison.runs[1].job_id
        await app.wait_until(lambda: app.view.job_id == comparison.runs[1].job_id)
        assert app.screen is not screen


async def test_a_failing_model_is_reported_while_the_other_completes(tmp_path: Path) -> None:
    project = copy_project("snap", tmp_path)
    app = make_app(project, expert="lead", providers=ByModel(project, broken="nope"))
    async with app.run_test(size=(140, 40)) as pilot:
        screen = await open_view(app, pilot)
        screen.query_one("#model-2", Input).value = "scripted:nope"
        await pilot.press("ctrl+r")
        await app.wait_until(lambda: screen.phase == "done")
        runs = screen.comparison.runs
        assert [run.status for run in runs] == ["completed", "failed"]
        assert "no such model here" in screen.columns[1].answer
        assert screen.columns[1].status == "failed"
        # Leaving and coming back finds the comparison as it was.
        await pilot.press("escape")
        assert app.screen is not screen
        await pilot.press("f10")
        await pilot.pause()
        assert app.screen is screen and screen.phase == "done"


async def test_setup_refuses_too_few_models_and_bad_input(tmp_path: Path) -> None:
    project = copy_project("snap", tmp_path)
    app = make_app(project, expert="lead", providers=ByModel(project))
    async with app.run_test(size=(140, 40)) as pilot:
        screen = await open_view(app, pilot)
        await pilot.press("ctrl+r")  # one model, no baseline
        assert screen.phase == "setup" and screen.runner is None
        screen.query_one("#model-2", Input).value = "gpt-4.1"
        await pilot.press("ctrl+r")
        assert screen.phase == "setup" and screen.runner is None
        notes = [n.message for n in app._notifications]
        assert any("expected <provider>:<model>" in note for note in notes)


async def test_the_view_needs_a_query(tmp_path: Path) -> None:
    project = copy_project("snap", tmp_path)
    app = make_app(project, expert="lead", providers=ByModel(project))
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.press("f10")
        await pilot.pause()
        assert not isinstance(app.screen, CompareScreen)


async def test_after_a_run_the_view_compares_the_job_s_query(tmp_path: Path) -> None:
    project = copy_project("snap", tmp_path)
    app = make_app(project, expert="lead", query="Survey the lake", providers=ByModel(project))
    async with app.run_test(size=(140, 40)) as pilot:
        await app.wait_until(lambda: app.state == "completed")
        assert app.query_one("#query-input", Input).value == ""  # the box awaits a follow-up
        await pilot.press("f10")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, CompareScreen)
        assert screen.setup.title == "Compare lead on: Survey the lake"


def test_model_choices_offer_the_project_model_then_keyed_providers() -> None:
    class Config:
        model = "claude-sonnet-4-5"

        class provider:  # noqa: N801 - shaped like the config's table
            provider_name = "anthropic"

    without = model_choices(Config(), {})  # type: ignore[arg-type]
    assert without == ["anthropic:claude-sonnet-4-5"]
    keyed = model_choices(Config(), {"ANTHROPIC_API_KEY": "k", "OPENAI_API_KEY": "k"})  # type: ignore[arg-type]
    assert keyed[0] == "anthropic:claude-sonnet-4-5"
    assert "anthropic:claude-haiku-4-5" in keyed and "openai:gpt-4.1" in keyed
    assert len(keyed) == len(set(keyed))
