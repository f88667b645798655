"""The ``perstack`` group: ``perstack run``, ``log`` and ``install`` in their own modules.

Commands are loaded lazily, so ``perstack run`` imports neither the log viewer nor an SDK
it does not use. stdout carries only JSON events for ``run`` (D13); every diagnostic
goes to stderr as one line, with exit code 1 (spec §13).
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from runtime._version import __version__

__all__ = ["LazyGroup", "HEADLESS_COMMANDS", "make_cli", "main"]

#: name -> "module:attribute" of each headless command.
HEADLESS_COMMANDS: dict[str, str] = {
    "run": "runtime.cli.run:run_command",
    "log": "runtime.cli.log:log_command",
    "install": "runtime.cli.install:install_command",
    "serve": "runtime.cli.serve:serve_command",
    "create-expert": "runtime.cli.create_expert:create_expert_command",
    "fork": "runtime.cli.fork:fork_command",
    "diff": "runtime.cli.diff:diff_command",
    "worker": "runtime.cli.worker:worker_command",
    "compare": "runtime.cli.compare:compare_command",
}
#: Upstream registry commands we do not support yet (D11).
UNSUPPORTED_COMMANDS = ("publish", "unpublish", "tag", "status")


class LazyGroup(click.Group):
    """A group whose subcommands are imported only when used."""

    def __init__(self, *args: Any, lazy_commands: dict[str, str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_commands = lazy_commands

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *self.lazy_commands])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy_commands:
            module_name, attribute = self.lazy_commands[cmd_name].split(":")
            try:
                module = importlib.import_module(module_name)
            except ModuleNotFoundError as exc:
                if exc.name != module_name:
                    raise
                return None  # a command not shipped in this build
            return getattr(module, attribute)
        if cmd_name in UNSUPPORTED_COMMANDS:
            return _unsupported(cmd_name)
        return super().get_command(ctx, cmd_name)


def _unsupported(name: str) -> click.Command:
    @click.command(name, context_settings={"ignore_unknown_options": True}, hidden=True)
    @click.argument("args", nargs=-1, type=click.UNPROCESSED)
    def command(args: tuple[str, ...]) -> None:
        from runtime.errors import PerstackError

        raise PerstackError(
            f"perstack {name} is not supported yet: the registry is not available in this "
            "version; define Experts in perstack.toml"
        )

    return command


def make_cli(extra_commands: dict[str, str] | None = None) -> click.Group:
    """The ``perstack`` group with the headless commands plus ``extra_commands``."""

    @click.group(
        cls=LazyGroup,
        lazy_commands={**HEADLESS_COMMANDS, **(extra_commands or {})},
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    @click.version_option(__version__, "--version", "-v", prog_name="perstack")
    def cli() -> None:
        """Perstack: run agent Experts declared in perstack.toml."""

    return cli


def main(
    argv: list[str] | None = None,
    *,
    cli: click.Group | None = None,
) -> int:
    """Run the CLI and return its exit code (errors as one line on stderr, exit 1)."""
    from runtime.errors import ConfigError, PerstackError

    args = list(sys.argv[1:] if argv is None else argv)
    verbose = "--verbose" in args
    _library_logs(verbose)
    group = cli or make_cli()
    try:
        result = group.main(args=args, prog_name="perstack", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.exceptions.Abort:
        return 130
    except click.UsageError as exc:
        _error(f"Error: {exc.format_message()}")
        return 1
    except ConfigError as exc:
        for problem in exc.problems:
            _error(problem)
        return 1
    except PerstackError as exc:
        _error(f"Error: {exc}")
        return 1
    except KeyboardInterrupt:
        _error("Interrupted; resume with --continue")
        return 130
    except BrokenPipeError:
        return 1
    except Exception as exc:  # a bug: one line, the traceback only with --verbose
        if verbose:
            import traceback

            traceback.print_exc()
        _error(f"Error: {type(exc).__name__}: {exc} (run with --verbose for the traceback)")
        return 1
    return result if isinstance(result, int) else 0


def _library_logs(verbose: bool) -> None:
    """Where the libraries' own log records and warnings go: stderr with ``--verbose``,
    nowhere otherwise.

    The SDKs log what they survive (an MCP server that vanished mid-stream is logged with
    its traceback by the transport's task), and Python prints any record a program has no
    handler for on stderr. The CLI says what went wrong in its own one-line errors and
    events; tracebacks are for ``--verbose``.
    """
    import logging

    root = logging.getLogger()
    if root.handlers:
        return  # the embedding program configured logging itself
    logging.captureWarnings(True)
    if verbose:
        handler: logging.Handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    else:
        handler = logging.NullHandler()
    root.addHandler(handler)


def _error(line: str) -> None:
    sys.stderr.write(line.rstrip("\n") + "\n")
    sys.stderr.flush()
