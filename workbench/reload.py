"""Hot reload: ``perstack.toml`` and its ``.env`` files are watched; a change reloads the
config with the runtime's own loader and tells the app what changed.

The app creates a :class:`ConfigWatcher` aimed at itself and handles two messages:
:class:`ConfigReloaded` (a valid config, with :class:`~runtime.config.diff.ExpertsDiff`
against the last valid one) and :class:`ConfigInvalid` (the problems, one line each, as
``perstack run`` prints them; the last valid config stays in use, nothing running stops).

Saves that come quickly one after the other reach the watcher as one batch (watchfiles
waits ``step_ms`` for more) and a batch whose files hold what was last loaded is ignored,
so a burst of saves gives one reload. When the workbench itself saved, the app calls
:meth:`ConfigWatcher.reload` at once instead of waiting for the watch.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from textual.message import Message

from runtime.config.diff import ExpertsDiff, diff_experts
from workbench.watching import DEFAULT_STEP_MS, DirectoryWatch

if TYPE_CHECKING:
    from textual.message_pump import MessagePump

    from runtime.config.models import PerstackConfig

__all__ = ["ConfigInvalid", "ConfigReloaded", "ConfigWatcher"]


class ConfigReloaded(Message):
    """The files changed and the config is valid.

    Attributes:
        config: The config just loaded.
        diff: Against the previous valid config (falsy for comment-only changes).
        changed: The watched files whose content changed.
        text: ``perstack.toml``'s text (for the editor), None when not UTF-8.
        env_changed: Whether a ``.env`` file changed.
    """

    def __init__(
        self,
        config: PerstackConfig,
        diff: ExpertsDiff,
        changed: frozenset[Path],
        text: str | None,
        env_changed: bool,
    ) -> None:
        super().__init__()
        self.config = config
        self.diff = diff
        self.changed = changed
        self.text = text
        self.env_changed = env_changed


class ConfigInvalid(Message):
    """The files changed and ``perstack.toml`` does not load.

    Attributes:
        problems: One line each: ``<file>:<line>: <path>: <message>``.
        changed: The watched files whose content changed.
        text: ``perstack.toml``'s text, None when missing or not UTF-8.
    """

    def __init__(self, problems: list[str], changed: frozenset[Path], text: str | None) -> None:
        super().__init__()
        self.problems = problems
        self.changed = changed
        self.text = text


class ConfigWatcher:
    """Watches a project's ``perstack.toml`` and ``.env`` files for the app.

    Args:
        target: Where messages go (the app, or a widget).
        config_path: The ``perstack.toml``.
        cwd: The directory runs start in (``.env`` paths are relative to it).
        env_paths: ``--env-path`` values; when empty, the config's ``envPath`` or the
            defaults (``.env``, ``.env.local``), as ``perstack run`` resolves them.
        config: The config as the app loaded it (None: loaded by :meth:`start`).
        step_ms: How long the watch waits for further changes before a reload.
    """

    def __init__(
        self,
        target: MessagePump,
        config_path: Path,
        *,
        cwd: Path,
        env_paths: Sequence[str] = (),
        config: PerstackConfig | None = None,
        step_ms: int = DEFAULT_STEP_MS,
    ) -> None:
        self.target = target
        self.config_path = Path(config_path).absolute()
        self.cwd = Path(cwd).absolute()
        self.cli_env_paths = list(env_paths)
        self.config = config
        #: Reloads that posted a message (tests and benchmarks count them).
        self.reload_count = 0
        self._step_ms = step_ms
        self._contents: dict[Path, bytes | None] = {}
        self._lock = asyncio.Lock()
        self._watch: DirectoryWatch | None = None
        self._snapshot()

    @property
    def ready(self) -> asyncio.Event:
        """Set once changes are being watched."""
        assert self._watch is not None, "start() first"
        return self._watch.ready

    def env_files(self) -> list[Path]:
        """The ``.env`` files watched (whether or not they exist)."""
        from runtime.config import resolve_env_paths

        names = resolve_env_paths(self.config, self.cli_env_paths)
        return [(self.cwd / Path(name).expanduser()).absolute() for name in names]

    def watched_files(self) -> set[Path]:
        """``perstack.toml`` and the ``.env`` files."""
        return {self.config_path, *self.env_files()}

    async def start(self) -> None:
        """Load the config if needed and start watching; returns once the watch is live."""
        if self.config is None:
            await self._load()
            self._snapshot()
        self._watch = DirectoryWatch(
            self._directories(), self._accept, self._changed, step_ms=self._step_ms
        )
        self._watch.start()
        await self._watch.ready.wait()

    async def stop(self) -> None:
        """Stop watching."""
        if self._watch is not None:
            await self._watch.stop()

    async def reload(self, *, force: bool = False) -> Message | None:
        """Reload now if a watched file's content changed (or ``force``); post and return
        the message, or None when nothing changed."""
        async with self._lock:
            before = dict(self._contents)
            self._snapshot()
            changed = frozenset(p for p, data in self._contents.items() if before.get(p) != data)
            if not changed and not force:
                return None
            env_before = self.env_files()
            message = await self._load(changed)
            self.reload_count += 1
            self.target.post_message(message)
        if self._watch is not None and self.env_files() != env_before:
            # envPath changed: watch the new files' directories (in a task of its own, as
            # this may run inside the watch task that restart() cancels).
            self._snapshot()
            asyncio.get_running_loop().create_task(self._watch.restart(self._directories()))
        return message

    async def _load(self, changed: frozenset[Path] = frozenset()) -> Message:
        from runtime.config import load_config
        from runtime.errors import ConfigError, PerstackError

        text = self._config_text()
        try:
            config = await asyncio.to_thread(load_config, self.config_path)
        except ConfigError as error:
            return ConfigInvalid(list(error.problems), changed, text)
        except PerstackError as error:
            return ConfigInvalid([str(error)], changed, text)
        old, self.config = self.config, config
        diff = (
            diff_experts(old, config)
            if old is not None
            else ExpertsDiff(added=tuple(config.experts))
        )
        env_changed = any(path != self.config_path for path in changed)
        return ConfigReloaded(config, diff, changed, text, env_changed)

    async def _changed(self, _paths: set[Path]) -> None:
        await self.reload()

    def _accept(self, path: Path) -> bool:
        return path.absolute() in self._contents

    def _directories(self) -> set[Path]:
        return {path.parent for path in self.watched_files()}

    def _snapshot(self) -> None:
        contents: dict[Path, bytes | None] = {}
        for path in self.watched_files():
            try:
                contents[path] = path.read_bytes()
            except OSError:
                contents[path] = None
        self._contents = contents

    def _config_text(self) -> str | None:
        data = self._contents.get(self.config_path)
        if data is None:
            return None
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError:
            return None
