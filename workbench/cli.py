"""The ``perstack`` command: the runtime's headless commands plus ``start`` (the workbench).

Textual is imported only when ``start`` opens the workbench, so ``perstack run`` starts as
fast as the runtime alone. Even the runtime's imports wait until bytecode caching is
settled (:mod:`runtime._bytecode`), so that they too load compiled.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import click

__all__ = ["main", "make_perstack_cli"]


def make_perstack_cli() -> click.Group:
    """The ``perstack`` command group: ``run``, ``log``, ``install`` … and ``start``."""
    from runtime.cli import make_cli

    return make_cli({"start": "workbench.cli_start:start_command"})


def main() -> None:
    """Console-script entry point."""
    from runtime._bytecode import cache_bytecode

    cache_bytecode()
    from runtime.cli import main as runtime_main

    sys.exit(runtime_main(cli=make_perstack_cli()))
