"""Gives the app the Perstack themes, applies and keeps the user's choice, hot-reloads
user theme files. The files themselves are read by :mod:`workbench.theming`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runtime.errors import PerstackError
from workbench.theming import (
    DEFAULT_THEME,
    ThemeFile,
    bundled_themes,
    load_user_themes,
    read_saved_theme,
    save_theme_name,
    settings_path,
    user_themes_dir,
)

if TYPE_CHECKING:
    from textual.app import App
    from textual.theme import Theme

    from workbench.watching import DirectoryWatch

__all__ = ["ThemeManager"]


class ThemeManager:
    """Gives an app the Perstack themes, applies and keeps the user's choice, hot-reloads.

    Typical use, in the app's ``on_mount``::

        self.themes = ThemeManager(self)
        self.themes.install()
        self.themes.start_watching()

    Problems (a bad theme file, an unreadable ``workbench.toml``) are shown with
    ``notify`` (one line each) and kept in :attr:`problems`.
    """

    def __init__(
        self,
        app: App[Any],
        *,
        themes_dir: Path | None = None,
        settings: Path | None = None,
        notify: Callable[[str], None] | None = None,
    ) -> None:
        self.app = app
        self.themes_dir = user_themes_dir() if themes_dir is None else themes_dir
        self.settings = settings_path() if settings is None else settings
        self.problems: list[str] = []
        self.themes: dict[str, ThemeFile] = {}
        self._user_names: set[str] = set()
        # The theme in use; a change to another one is the user's choice and is saved.
        # Applying the saved theme (or falling back from a missing one) is not a choice.
        self._current: str | None = None
        self._notify = notify or (
            lambda line: app.notify(line, title="Themes", severity="warning", timeout=8)
        )
        self._watch: DirectoryWatch | None = None
        #: Called after user themes were reloaded (tests and the app may await it).
        self.reloaded_count = 0

    def install(self) -> str:
        """Register every theme and apply the saved one (else :data:`DEFAULT_THEME`).

        Returns:
            The name of the theme applied.
        """
        for item in bundled_themes():
            self._register(item)
        self._load_user_files()
        saved = None
        try:
            saved = read_saved_theme(self.settings)
        except PerstackError as error:
            self._problem(str(error))
        name = saved if saved in self.app.available_themes else DEFAULT_THEME
        if saved is not None and name != saved:
            self._problem(f'theme "{saved}" is not available; using {DEFAULT_THEME}')
        self._current = name
        self.app.theme = name
        self.app.theme_changed_signal.subscribe(self.app, self._theme_changed)
        return name

    def reload_user_themes(self) -> None:
        """Read the user theme files again; re-apply the current theme if it changed."""
        for name in self._user_names:
            self.app.unregister_theme(name)
            self.themes.pop(name, None)
        for item in bundled_themes():  # a removed user file may have shadowed one
            if item.name not in self.themes:
                self._register(item)
        self._load_user_files()
        current = self.app.theme
        if current not in self.app.available_themes:
            self._current = DEFAULT_THEME  # a fallback, not a choice: keep the saved name
            self.app.theme = DEFAULT_THEME
        else:
            # Same name, maybe new colours: rebuild the CSS and tell listeners (the editor).
            self.app.refresh_css(animate=False)
            self.app.theme_changed_signal.publish(self.app.current_theme)
        self.reloaded_count += 1

    def start_watching(self) -> DirectoryWatch:
        """Watch the user themes directory (created if missing) and reload on changes."""
        from workbench.watching import DirectoryWatch

        try:
            self.themes_dir.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            self._problem(f"{self.themes_dir}: cannot watch for user themes: {error}")

        async def changed(_paths: set[Path]) -> None:
            self.reload_user_themes()

        self._watch = DirectoryWatch([self.themes_dir], _is_theme_file, changed)
        self._watch.start()
        return self._watch

    async def stop_watching(self) -> None:
        """Stop the watch started by :meth:`start_watching`."""
        if self._watch is not None:
            await self._watch.stop()

    def _load_user_files(self) -> None:
        themes, problems = load_user_themes(self.themes_dir)
        for problem in problems:
            self._problem(problem)
        self._user_names = {item.name for item in themes}
        for item in themes:
            self._register(item)
            self._warn_if_hard_to_read(item)

    def _warn_if_hard_to_read(self, item: ThemeFile) -> None:
        from workbench.theme_contrast import readability_problems

        try:
            problems = readability_problems(item.theme)
        except Exception as error:  # an odd CSS value Textual itself may still accept
            problems = [f"cannot check contrast ({error})"]
        if problems:
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            self._problem(f"{item.source}: hard to read: {problems[0]}{more}")

    def _register(self, item: ThemeFile) -> None:
        self.themes[item.name] = item
        self.app.register_theme(item.theme)

    def _theme_changed(self, theme: Theme) -> None:
        if theme.name == self._current:
            return
        self._current = theme.name
        try:
            save_theme_name(theme.name, self.settings)
        except PerstackError as error:
            self._problem(str(error))

    def _problem(self, line: str) -> None:
        self.problems.append(line)
        self._notify(line)


def _is_theme_file(path: Path) -> bool:
    return path.suffix == ".toml" and not path.name.startswith(".")
