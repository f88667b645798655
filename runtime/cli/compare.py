"""``perstack compare <expert> <query> --model <provider>:<model> --model ...``: one Expert
on several models at once, side by side.

Every model runs the Expert (its delegates on the same model) concurrently, each as its
own job in its own copy of the workspace (see :mod:`runtime.compare`). Prints a
table (or, with ``--json``, one object ``{"runs": [...], "alignment": [...], ...}``).
Exit code 0 when every run completed, 1 when any did not (every run is reported either
way); bad input is one line on stderr and exit code 1, before anything runs.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from runtime.errors import PerstackError

__all__ = ["compare_command"]


@click.command("compare", context_settings={"max_content_width": 100})
@click.argument("expert_key", metavar="EXPERT")
@click.argument("query")
@click.option(
    "--model",
    "models",
    multiple=True,
    required=True,
    metavar="PROVIDER:MODEL",
    help="A model to compare (repeat the option: one column each).",
)
@click.option("--baseline", metavar="JOB", help="A recorded job shown as one more column.")
@click.option(
    "--repeat", type=click.IntRange(min=1), default=1, show_default=True,
    help="Runs per model (median and min–max of each figure).",
)  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--pretty", is_flag=True, help="Indent the JSON.")
@click.option("--config", "config", metavar="PATH", help="Path to perstack.toml.")
@click.option("--reasoning-budget", metavar="BUDGET", help="none|minimal|low|medium|high or a token count.")  # fmt: skip
@click.option("--max-steps", type=click.IntRange(min=1), help="Job-wide step limit, per run.")
@click.option("--max-retries", type=click.IntRange(min=0), help="Retries per failure.")
@click.option("--timeout", type=click.IntRange(min=1), help="Per-generation timeout in ms.")
@click.option("--env-path", multiple=True, metavar="PATH", help="A .env file (repeatable).")
@click.option("--workspace", metavar="PATH", help="The folder each run gets a copy of.")
@click.option("--verbose", is_flag=True, help="Tracebacks for unexpected errors.")
def compare_command(**kwargs: Any) -> int:
    """Run EXPERT on QUERY with several models at once and compare them side by side.

    Each --model runs as its own job in its own copy of the workspace (kept, under
    <storage>/comparisons/). --baseline JOB adds a recorded job (a job id, a job folder
    or a .jsonl capture) as the first column. Exit code 1 when any run did not complete.
    """
    request = build_request(**kwargs)
    import gc

    from runtime.compare import run_comparison

    # As perstack run does: what is loaded by now lives as long as the process, so keep it
    # out of the collector's full passes (which otherwise grow with every SDK loaded).
    gc.freeze()

    async def main() -> Any:
        task = asyncio.current_task()
        assert task is not None
        # SIGTERM cancels the comparison like Ctrl+C does: every run stops cleanly,
        # each job resumable.
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
        # A worker process per run when that helps (runtime.compare.processes).
        return await run_comparison(request, processes=True)

    try:
        comparison = asyncio.run(main())
    except asyncio.CancelledError:
        sys.stderr.write("warning: Terminated; resume with --continue\n")
        return 143
    try:
        if kwargs["as_json"]:
            import orjson

            option = orjson.OPT_INDENT_2 if kwargs["pretty"] else 0
            sys.stdout.buffer.write(orjson.dumps(comparison.to_json(), option=option) + b"\n")
            sys.stdout.flush()
        else:
            from runtime.views.comparison_text import render_comparison

            render_comparison(comparison, sys.stdout)
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    return 0 if comparison.all_completed else 1


def build_request(
    *,
    expert_key: str,
    query: str,
    models: tuple[str, ...],
    baseline: str | None = None,
    repeat: int = 1,
    config: str | None = None,
    reasoning_budget: str | None = None,
    max_steps: int | None = None,
    max_retries: int | None = None,
    timeout: int | None = None,
    env_path: tuple[str, ...] = (),
    workspace: str | None = None,
    cwd: Path | None = None,
    on_warning: Callable[[str], None] | None = None,
    **_: Any,
) -> Any:
    """Resolve the command line into a :class:`~runtime.compare.CompareRequest`
    (raising one-line :class:`PerstackError`\\ s before anything runs)."""
    from runtime.cli.run import _locked_tools
    from runtime.compare import CompareRequest, ModelChoice
    from runtime.config import find_config, load_config, load_env, resolve_env_paths, with_overrides
    from runtime.storage import default_storage_root
    from runtime.storage.sources import open_job
    from runtime.views.cost import PriceBook

    cwd = cwd or Path.cwd()
    choices = [ModelChoice.parse(text) for text in models]
    loaded = load_config(find_config(cwd, config))
    loaded = with_overrides(
        loaded,
        reasoning_budget=reasoning_budget,
        max_steps=max_steps,
        max_retries=max_retries,
        timeout=timeout,
    )
    for warning in loaded.warnings:
        if on_warning is None:
            sys.stderr.write(f"warning: {warning}\n")
        else:
            on_warning(warning)
    folder = Path(workspace).resolve() if workspace else cwd
    if not folder.is_dir():
        raise PerstackError(f"--workspace {workspace}: not a directory")
    root = default_storage_root(folder, os.environ)
    source = open_job(baseline, cwd=cwd, storage_root=root) if baseline else None
    env = load_env(resolve_env_paths(loaded, list(env_path)), cwd)
    return CompareRequest(
        expert=expert_key,
        query=query,
        models=choices,
        config=loaded,
        workspace=folder,
        storage_root=root,
        env=env,
        repeat=repeat,
        baseline=source,
        locked_tools=_locked_tools(loaded),
        prices=PriceBook.from_config(loaded),
    )
