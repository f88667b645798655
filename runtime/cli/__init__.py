"""The headless commands: the ``perstack`` group (:mod:`.group`) and its subcommands.

Each subcommand lives in its own module (``run``, ``log``, ``install``) and is imported
only when it is used, so ``perstack run`` never loads the log viewer.
"""

from __future__ import annotations

from runtime.cli.group import HEADLESS_COMMANDS, LazyGroup, main, make_cli

__all__ = ["HEADLESS_COMMANDS", "LazyGroup", "main", "make_cli"]
