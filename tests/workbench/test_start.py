"""Opening the workbench: the demo, broken projects, layout, keys, palette and help."""

from __future__ import annotations

from pathlib import Path

from textual.command import CommandPalette

from tests.workbench.helpers import copy_project, make_app
from workbench.commands import ACTIONS, bindings, palette_provider
from workbench.screens.help import HelpScreen
from workbench.session import find_project, provider_help
from workbench.widgets.config_pane import ConfigPane
from workbench.widgets.notice import Notice
from workbench.widgets.timeline import Timeline


async def test_no_perstack_toml_opens_the_bundled_demo(empty_dir: Path, tmp_path: Path) -> None:
    project = find_project(empty_dir)
    assert project.is_demo
    # The demo runs from a copy in the user's cache, never in the current directory.
    assert project.config_path == tmp_path / "cache" / "perstack" / "demo" / "perstack.toml"
    assert not any(empty_dir.iterdir())
    app = make_app(empty_dir)
    async with app.run_test(size=(120, 36)):
        assert app.preflight.experts == ["coordinator", "researcher", "writer", "concierge"]
        await app.wait_until(lambda: app.preflight.provider_checked)
        assert app.preflight.provider_problem is None and not app.preflight.problems
        assert app.query_one("#expert").value == "coordinator"
        assert app.query_one("#query-input").value.startswith("Plan three days in Kyoto")
        assert "bundled demo" in app.query_one(Timeline).empty_text
        assert not app.query_one(Notice).has_class("-shown")
        config = app.query_one("#config-text").text
        assert 'providerName = "scripted"' in config
        assert app.focused.id == "query-input"


async def test_a_missing_api_key_opens_anyway_and_says_what_to_do(tmp_path: Path) -> None:
    project = tmp_path / "keyless"
    project.mkdir()
    (project / "perstack.toml").write_text('[experts.writer]\ninstruction = "Write."\n')
    app = make_app(project)
    async with app.run_test(size=(120, 36)) as pilot:
        # The provider is checked off the UI thread, after the first screen.
        await app.wait_until(lambda: app.preflight.provider_checked)
        notice = app.query_one(Notice)
        assert notice.has_class("-shown") and not notice.has_class("-error")
        text = notice.render().plain
        assert "ANTHROPIC_API_KEY is not set" in text
        assert "export ANTHROPIC_API_KEY=" in text and ".env" in text
        assert 'providerName = "scripted"' in text
        # Running says the same thing as `perstack run`, and the app stays up.
        await pilot.press(*"hello", "enter")
        await app.wait_until(lambda: app.state == "error")
        assert any("ANTHROPIC_API_KEY is not set" in n.message for n in app._notifications)


async def test_problems_in_perstack_toml_are_listed_and_runs_refused(tmp_path: Path) -> None:
    project = tmp_path / "broken"
    project.mkdir()
    (project / "perstack.toml").write_text('[experts.writer]\ninstrucion = "typo"\n')
    app = make_app(project)
    async with app.run_test(size=(120, 36)) as pilot:
        notice = app.query_one(Notice)
        assert notice.has_class("-error")
        assert "perstack.toml:" in notice.render().plain
        assert app.preflight.experts == []
        await pilot.press(*"hello", "enter")
        assert app.state == "ready" and not app.bridge.running


def test_provider_help_names_both_remedies() -> None:
    text = provider_help("OPENAI_API_KEY is not set", "openai")
    assert "export OPENAI_API_KEY=..." in text and "scripted" in text
    assert provider_help("Unknown provider x", "x").startswith("Unknown provider x (")


async def test_80x24_hides_the_config_pane_until_ctrl_b(tmp_path: Path) -> None:
    project = copy_project("snap", tmp_path)
    app = make_app(project)
    async with app.run_test(size=(80, 24)) as pilot:
        assert not app.query_one(ConfigPane).display
        timeline = app.query_one(Timeline)
        assert timeline.size.width >= 48
        await pilot.press("ctrl+b")
        assert app.query_one(ConfigPane).display
        await pilot.press("ctrl+b")
        assert not app.query_one(ConfigPane).display
    wide = make_app(project)
    async with wide.run_test(size=(120, 36)) as pilot:
        assert wide.query_one(ConfigPane).display
        await pilot.press("ctrl+b")
        assert not wide.query_one(ConfigPane).display


def test_every_action_has_a_key_and_a_palette_entry() -> None:
    bound = {binding.action for binding in bindings()}
    for item in ACTIONS:
        assert item.keys and item.title and item.help
        assert item.action in bound or item.keys == "enter"
    actions = [item.action for item in ACTIONS]
    assert len(actions) == len(set(actions))


async def test_palette_and_help(tmp_path: Path) -> None:
    project = copy_project("snap", tmp_path)
    app = make_app(project)
    async with app.run_test(size=(120, 36)) as pilot:
        assert palette_provider in app.COMMANDS
        provider = palette_provider()(app.screen)
        found = [hit.text async for hit in provider.search("stop")]
        assert "Stop the run  (Ctrl+T)" in found
        discovered = [hit.text async for hit in provider.discover()]
        assert len(discovered) == len(ACTIONS)
        # The palette opens on Ctrl+P and runs what is chosen.
        await pilot.press("ctrl+p")
        assert isinstance(app.screen, CommandPalette)
        await pilot.press(*"perstack.toml")
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        assert not app.query_one(ConfigPane).display
        # ? outside text fields and F1 anywhere show the keys.
        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        await pilot.press("ctrl+l", "question_mark")
        assert isinstance(app.screen, HelpScreen)


def test_help_lists_every_key() -> None:
    from rich.console import Console

    from workbench.commands import CONTEXT_KEYS
    from workbench.screens.help import help_table

    console = Console(width=200, record=True)
    console.print(help_table())
    text = console.export_text()
    for item in ACTIONS:
        assert item.key_display in text and item.title in text
    for _where, keys, what in CONTEXT_KEYS:
        assert keys in text and what in text


def test_docs_list_every_key_and_show_every_screenshot() -> None:
    from workbench.commands import key_name
    from workbench.screenshots import COMPARE_SHOTS, CREATE_SHOTS, SHOTS

    root = Path(__file__).parents[2]
    docs = (root / "docs" / "workbench.md").read_text()
    for item in ACTIONS:
        assert item.title.split()[0] in docs
        for key in item.keys.split(","):
            assert f"| {key_name(key)}" in docs or f", {key_name(key)} " in docs, key
    for name in [*SHOTS, *CREATE_SHOTS, *COMPARE_SHOTS]:
        assert f"../screenshots/{name}.svg" in docs
        assert (root / "screenshots" / f"{name}.svg").is_file()
