"""``perstack log``: view execution history and events for debugging (spec §13.3)."""

from __future__ import annotations

import os
import re
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from runtime.errors import ConfigError, PerstackError

if TYPE_CHECKING:
    from runtime.storage import Storage

__all__ = ["log_command", "parse_count"]

_INTEGER = re.compile(r"\s*\+?\d+\s*\Z")
_NEGATIVE = re.compile(r"\s*-\d+\s*\Z")


def parse_count(value: str | None, option: str, default: int) -> int:
    """A non-negative integer option (``--take``, ``--offset``, ``--context``).

    Raises:
        PerstackError: ``Invalid value for <option>: "<v>" is not a valid number`` or
            ``… must be non-negative``.
    """
    if value is None:
        return default
    if _NEGATIVE.match(value):
        raise PerstackError(f'Invalid value for {option}: "{value}" must be non-negative')
    if not _INTEGER.match(value):
        raise PerstackError(f'Invalid value for {option}: "{value}" is not a valid number')
    return int(value)


@click.command(
    "log",
    help="View execution history and events for debugging",
    context_settings={"max_content_width": 100},
)
@click.option(
    "--job",
    "job_id",
    metavar="<job>",
    help="Show events for a specific job: its id, a job folder or a .jsonl capture",
)
@click.option("--run", "run_id", metavar="<runId>", help="Show events for a specific run")
@click.option(
    "--checkpoint", "checkpoint_id", metavar="<checkpointId>", help="Show checkpoint details"
)
@click.option("--step", metavar="<step>", help="Filter by step number (e.g., 5, >5, 1-10)")
@click.option("--type", "event_type", metavar="<type>", help="Filter by event type")
@click.option("--errors", is_flag=True, help="Show error-related events only")
@click.option("--tools", is_flag=True, help="Show tool call events only")
@click.option("--delegations", is_flag=True, help="Show delegation events only")
@click.option(
    "--filter",
    "expression",
    metavar="<expression>",
    help="Simple filter expression (e.g., '.toolCalls[].toolName == \"exec\"')",
)
@click.option("--json", "as_json", is_flag=True, help="Output as JSON")
@click.option("--pretty", is_flag=True, help="Pretty-print JSON output")
@click.option("--verbose", is_flag=True, help="Show full event details")
@click.option(
    "--take", metavar="<n>", help="Number of events to display (default: 100, use 0 for all)"
)
@click.option("--offset", metavar="<n>", help="Number of events to skip (default: 0)")
@click.option("--context", metavar="<n>", help="Include N events before/after matches")
@click.option("--messages", is_flag=True, help="Show message history for checkpoint")
@click.option("--summary", is_flag=True, help="Show summarized view")
def log_command(
    job_id: str | None,
    run_id: str | None,
    checkpoint_id: str | None,
    step: str | None,
    event_type: str | None,
    errors: bool,
    tools: bool,
    delegations: bool,
    expression: str | None,
    as_json: bool,
    pretty: bool,
    verbose: bool,
    take: str | None,
    offset: str | None,
    context: str | None,
    messages: bool,
    summary: bool,
) -> None:
    """Print a stored job's events: the latest job unless told otherwise."""
    from runtime.storage import describe_location, open_storage, storage_location
    from runtime.views.filtering import parse_filter, parse_step_range
    from runtime.views.logview import DEFAULT_TAKE, LogQuery, select_log

    try:
        query = LogQuery(
            job=job_id,
            run=run_id,
            checkpoint=checkpoint_id,
            step=None if step is None else parse_step_range(step),
            type=event_type,
            errors=errors,
            tools=tools,
            delegations=delegations,
            filter=None if expression is None else parse_filter(expression),
            take=parse_count(take, "--take", DEFAULT_TAKE),
            offset=parse_count(offset, "--offset", 0),
            context=parse_count(context, "--context", 0),
        )
        location = storage_location(Path.cwd(), os.environ)
        storage: Storage = open_storage(location)
        where = describe_location(location)
        if job_id is not None and _names_a_path(job_id, storage):  # a job folder or a capture
            from runtime.storage.sources import open_job

            source = open_job(job_id, storage_root=location)
            storage, where = source.storage, source.location
            query = replace(query, job=source.job_id)
        selection = select_log(storage, query, where)
        if selection is None:
            click.echo("No data found")
            return
        cost = _summary_cost(storage, selection) if summary else None
        if as_json:
            from runtime.views.logview import write_json

            write_json(storage, selection, sys.stdout.buffer, pretty=pretty, cost=cost)
        else:
            from runtime.views.logview_text import render_text

            render_text(
                storage,
                selection,
                sys.stdout,
                verbose=verbose,
                messages=messages,
                summary=summary,
                cost=cost,
            )
    except ConfigError as error:
        click.echo("\n".join(error.problems), err=True)
        sys.exit(1)
    except PerstackError as error:
        click.echo(f"Error: {error}", err=True)
        sys.exit(1)
    except BrokenPipeError:
        # `perstack log | head`: the reader has all it wanted. Point stdout at nothing so
        # the interpreter's final flush does not complain again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(0)
    except OSError as error:
        where = f": {error.filename}" if error.filename else ""
        click.echo(f"Error: {error.strerror or error}{where}", err=True)
        sys.exit(1)


def _summary_cost(storage: Any, selection: Any) -> Any:
    """The tokens and cost of the job (or ``--run``) shown, priced with the prices of the
    ``perstack.toml`` found from the current directory, if any.

    Raises:
        ConfigError: That ``perstack.toml`` is not valid (its ``[prices]`` may matter).
    """
    from runtime.config import find_config, load_config
    from runtime.views.cost import PriceBook, stored_cost

    try:
        config_path = find_config(Path.cwd())
    except PerstackError:
        config = None  # no perstack.toml: the price library's prices alone
    else:
        config = load_config(config_path)
    prices = PriceBook.from_config(config)
    return stored_cost(storage, str(selection.job["id"]), selection.run_id, prices)


def _names_a_path(name: str, storage: Storage) -> bool:
    """``--job`` names a folder or a capture, not a job id of the storage (an id that is
    nowhere keeps upstream's answer, "No data found")."""
    from runtime.storage.sources import holds_job, looks_like_path

    if looks_like_path(name):
        return True
    return Path(name).exists() and not holds_job(storage, name)


if __name__ == "__main__":  # `python -m runtime.cli.log`, before `perstack` mounts it
    log_command()
