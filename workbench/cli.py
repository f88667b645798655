"""The ``perstack`` command: the runtime's headless commands plus ``start`` (the workbench).

Textual is imported only when ``start`` opens the workbench, so ``perstack run`` starts as
fast as the runtime alone.
"""

from __future__ import annotations

import sys

from runtime.cli import main as runtime_main
from runtime.cli import make_cli

__all__ = ["main", "cli"]

cli = make_cli({"start": "workbench.cli_start:start_command"})


def main() -> None:
    """Console-script entry point."""
    sys.exit(runtime_main(cli=cli))
