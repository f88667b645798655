"""Themes (issue 7): theme files, readability, the saved choice, user themes, hot reload."""

from __future__ import annotations

from pathlib import Path

import pytest
import tomlkit

from tests.workbench.editor_apps import EditorApp, config_home, wait_until  # noqa: F401
from tests.workbench.toml_samples import SMALL_CONFIG
from workbench.theme_contrast import contrast_ratio, readability_checks, readability_problems
from workbench.theming import (
    DEFAULT_THEME,
    SYNTAX_VARIABLES,
    ThemeError,
    bundled_themes,
    config_dir,
    load_user_themes,
    parse_theme,
    read_saved_theme,
    save_theme_name,
)

pytestmark = pytest.mark.usefixtures("config_home")

USER_THEME = """
name = "sunrise"
dark = false
primary = "#8A3B00"
foreground = "#201A14"
background = "#FFF8EE"
surface = "#FFFDF8"
panel = "#F1E6D6"
error = "#A3161A"
warning = "#7A4F00"
success = "#226B2B"
[variables]
syntax-string = "#1F5F2A"
"""


def _comment_colours(area) -> set[str]:
    return {
        segment.style.color.triplet.hex.lower()
        for segment in area.render_line(0)
        if segment.text.startswith("#") and segment.style and segment.style.color
    }


@pytest.fixture
def project(tmp_path: Path) -> Path:
    path = tmp_path / "project" / "perstack.toml"
    path.parent.mkdir()
    path.write_text(SMALL_CONFIG)
    return path


def test_bundled_themes_are_dark_light_and_high_contrast() -> None:
    themes = {item.name: item for item in bundled_themes()}
    assert {"perstack-dark", "perstack-light", "perstack-high-contrast"} <= set(themes)
    assert DEFAULT_THEME == "perstack-dark" and themes[DEFAULT_THEME].theme.dark
    assert not themes["perstack-light"].theme.dark
    for item in themes.values():
        assert set(SYNTAX_VARIABLES) <= set(item.theme.variables), item.name
        for key in (
            "primary",
            "secondary",
            "accent",
            "foreground",
            "background",
            "surface",
            "panel",
            "success",
            "warning",
            "error",
            "boost",
        ):
            assert getattr(item.theme, key), (item.name, key)


@pytest.mark.parametrize("name", ["perstack-dark", "perstack-light", "perstack-high-contrast"])
def test_bundled_themes_are_readable_in_every_pane(name: str) -> None:
    theme = {item.name: item for item in bundled_themes()}[name].theme
    checks = readability_checks(theme)
    # Body text on every pane background, muted text, status colours and syntax colours.
    assert {(c.text, c.background) for c in checks} >= {
        ("foreground", "background"),
        ("foreground", "surface"),
        ("foreground", "panel"),
        ("text", "panel"),
        ("text-muted", "background"),
        ("text-muted", "panel"),
        ("syntax-comment", "surface"),
        ("syntax-string", "surface"),
        ("error", "surface"),
    }
    assert readability_problems(theme) == []
    body = [c for c in checks if c.text == "foreground"]
    assert all(c.ratio >= 4.5 for c in body) and all(c.minimum == 4.5 for c in body)
    assert all(c.ratio >= 3 for c in checks if c.text == "text-muted")


def test_the_contrast_check_catches_an_unreadable_theme() -> None:
    from textual.color import Color

    assert contrast_ratio(Color.parse("#000000"), Color.parse("#FFFFFF")) == pytest.approx(21)
    assert contrast_ratio(Color.parse("#777777"), Color.parse("#777777")) == pytest.approx(1)
    murky = parse_theme(
        'primary = "#444444"\nforeground = "#555555"\nbackground = "#333333"\n'
        'surface = "#333333"\npanel = "#3A3A3A"\n',
        "murky.toml",
        "murky",
    )
    problems = readability_problems(murky.theme)
    assert any(line.startswith("$foreground on $background: contrast") for line in problems)


def test_a_theme_file_becomes_a_textual_theme() -> None:
    item = parse_theme(USER_THEME, "sunrise.toml", "ignored")
    assert item.name == "sunrise" and item.theme.primary == "#8A3B00"
    assert item.theme.dark is False and item.theme.variables == {"syntax-string": "#1F5F2A"}
    assert parse_theme('primary = "red"', "x.toml", "from-file-name").name == "from-file-name"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('primary = "#12"', 'primary: "#12" is not a colour'),
        ('dark = "yes"\nprimary = "#123456"', "dark: expected true or false"),
        ('background = "#000000"', "primary: required colour is missing"),
        ('primary = "#123456"\nprimery = "#123456"', "unknown key 'primery'"),
        ('primary = "#123456"\n[variables]\nsyntax-key = 3', "variables.syntax-key: expected"),
        ('name = "two words"\nprimary = "#123456"', "name: expected letters"),
        ('primary = "#123456"\ntext_alpha = 3', "text_alpha: expected a number from 0 to 1"),
        ("primary = ", "not valid TOML"),
    ],
)
def test_a_bad_theme_file_is_one_line_naming_the_file(text: str, message: str) -> None:
    with pytest.raises(ThemeError) as error:
        parse_theme(text, "/home/me/themes/bad.toml", "bad")
    line = str(error.value)
    assert line.startswith("/home/me/themes/bad.toml: ") and message in line
    assert "\n" not in line


def test_config_dir_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert config_dir() == tmp_path / "xdg" / "perstack"
    monkeypatch.setenv("XDG_CONFIG_HOME", "relative/ignored")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert config_dir() == tmp_path / "home" / ".config" / "perstack"


def test_saving_the_theme_keeps_the_rest_of_the_settings(tmp_path: Path) -> None:
    assert config_dir().is_relative_to(tmp_path)  # the fixture keeps the home untouched
    settings = config_dir() / "workbench.toml"
    assert read_saved_theme(settings) is None
    save_theme_name("perstack-light", settings)  # creates the directory and the file
    assert read_saved_theme(settings) == "perstack-light"
    settings.write_text('# mine\ntheme = "perstack-light"  # chosen\nother = 1\n')
    save_theme_name("perstack-dark", settings)
    text = settings.read_text()
    assert text.startswith("# mine\n") and "other = 1" in text
    assert tomlkit.parse(text)["theme"] == "perstack-dark"


def test_user_themes_load_and_bad_files_are_skipped() -> None:
    themes_dir = config_dir() / "themes"
    themes_dir.mkdir(parents=True)
    (themes_dir / "sunrise.toml").write_text(USER_THEME)
    (themes_dir / "broken.toml").write_text('primary = "not a colour"')
    (themes_dir / "notes.txt").write_text("not a theme")
    themes, problems = load_user_themes(themes_dir)
    assert [item.name for item in themes] == ["sunrise"]
    assert themes[0].source == str(themes_dir / "sunrise.toml")
    [problem] = problems
    assert problem.startswith(str(themes_dir / "broken.toml")) and "(theme skipped)" in problem


async def test_theme_switch_applies_everywhere_and_persists(project: Path) -> None:
    app = EditorApp(project)
    async with app.run_test(size=(90, 30)) as pilot:
        assert app.theme == DEFAULT_THEME
        area = app.editor.text_area
        dark_syntax = area.theme
        app.theme = "perstack-light"
        await wait_until(
            pilot, lambda: read_saved_theme(config_dir() / "workbench.toml") == "perstack-light"
        )
        await wait_until(pilot, lambda: area.theme != dark_syntax)
        # The editor's comment (line 1) is drawn in the light theme's comment colour.
        light_comment = app.get_theme("perstack-light").variables["syntax-comment"].lower()
        await wait_until(pilot, lambda: light_comment in _comment_colours(area))
    app = EditorApp(project)  # the next start opens with the saved choice
    async with app.run_test(size=(90, 30)):
        assert app.theme == "perstack-light"


async def test_command_palette_lists_the_perstack_themes(project: Path) -> None:
    app = EditorApp(project)
    async with app.run_test(size=(90, 30)) as pilot:
        app.action_change_theme()
        await pilot.pause()
        await pilot.press(*"contrast")
        await wait_until(
            pilot,
            lambda: (
                "perstack-high-contrast"
                in str(app.screen.query_one("CommandList").get_option_at_index(0).prompt)
            ),
        )
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.theme == "perstack-high-contrast")


async def test_user_theme_is_offered_and_a_bad_one_is_a_notice(project: Path) -> None:
    themes_dir = config_dir() / "themes"
    themes_dir.mkdir(parents=True)
    (themes_dir / "sunrise.toml").write_text(USER_THEME)
    (themes_dir / "broken.toml").write_text("primary = ")
    save_theme_name("sunrise", config_dir() / "workbench.toml")
    app = EditorApp(project)
    async with app.run_test(size=(90, 30)) as pilot:
        await pilot.pause()
        assert app.theme == "sunrise"
        assert "perstack-dark" in app.available_themes
        [problem] = app.themes.problems
        assert "broken.toml: not valid TOML" in problem
        assert problem.endswith("(theme skipped)")
        assert any("broken.toml" in str(n.message) for n in app._notifications)


async def test_saved_theme_that_is_gone_falls_back_to_the_default(project: Path) -> None:
    save_theme_name("deleted-theme", config_dir() / "workbench.toml")
    app = EditorApp(project)
    async with app.run_test(size=(90, 30)) as pilot:
        await pilot.pause()
        assert app.theme == DEFAULT_THEME
        assert 'theme "deleted-theme" is not available' in app.themes.problems[0]
    # The fallback is not the user's choice: the saved name stays for when it is back.
    assert read_saved_theme(config_dir() / "workbench.toml") == "deleted-theme"


async def test_first_start_writes_no_settings(project: Path) -> None:
    app = EditorApp(project)
    async with app.run_test(size=(90, 30)) as pilot:
        await pilot.pause()
        assert app.theme == DEFAULT_THEME
    assert not (config_dir() / "workbench.toml").exists()


async def test_user_theme_files_are_hot_reloaded(project: Path) -> None:
    themes_dir = config_dir() / "themes"
    themes_dir.mkdir(parents=True)
    theme_file = themes_dir / "sunrise.toml"
    theme_file.write_text(USER_THEME)
    app = EditorApp(project)
    async with app.run_test(size=(90, 30)) as pilot:
        watch = app.themes.start_watching()
        await watch.ready.wait()
        app.theme = "sunrise"
        await pilot.pause()
        theme_file.write_text(USER_THEME.replace("#8A3B00", "#6A2B00"))
        await wait_until(pilot, lambda: app.themes.reloaded_count >= 1)
        assert app.current_theme.primary == "#6A2B00" and app.theme == "sunrise"
        # A new file appears in the palette; a removed current theme falls back.
        (themes_dir / "dusk.toml").write_text(USER_THEME.replace('"sunrise"', '"dusk"'))
        await wait_until(pilot, lambda: "dusk" in app.available_themes)
        theme_file.unlink()
        await wait_until(pilot, lambda: "sunrise" not in app.available_themes)
        assert app.theme == DEFAULT_THEME
        await pilot.pause()
        assert read_saved_theme(config_dir() / "workbench.toml") == "sunrise"
        await app.themes.stop_watching()


async def test_a_hard_to_read_user_theme_is_offered_with_a_notice(project: Path) -> None:
    themes_dir = config_dir() / "themes"
    themes_dir.mkdir(parents=True)
    (themes_dir / "murky.toml").write_text(
        'primary = "#444444"\nforeground = "#555555"\nbackground = "#333333"\n'
    )
    app = EditorApp(project)
    async with app.run_test(size=(90, 30)):
        assert "murky" in app.available_themes
        [problem] = app.themes.problems
        assert problem.startswith(f"{themes_dir / 'murky.toml'}: hard to read: $foreground on")
