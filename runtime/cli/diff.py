"""``perstack diff <jobA> <jobB> [--json]``: how two jobs differ, step by step.

Each job may be a job id in the storage, a job folder or a ``.jsonl`` capture. Exit code
0 whether or not they differ; 1 on an error (a job not found, a file that cannot be
read), with one line on stderr.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from runtime.errors import PerstackError

__all__ = ["diff_command"]


@click.command("diff", context_settings={"max_content_width": 100})
@click.argument("job_a", metavar="JOB_A")
@click.argument("job_b", metavar="JOB_B")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--pretty", is_flag=True, help="Indent the JSON.")
def diff_command(job_a: str, job_b: str, as_json: bool, pretty: bool) -> None:
    """Align two jobs' steps like a text diff and show where they part.

    JOB_A and JOB_B are each a job id, a job folder or a .jsonl capture of
    `perstack run`. Equal steps are folded; the first divergence is marked.
    """
    from runtime.storage import storage_location
    from runtime.storage.sources import open_job
    from runtime.views.diff import diff_jobs
    from runtime.views.steps import load_steps

    try:
        root = storage_location(Path.cwd(), os.environ)
        steps = [load_steps(open_job(name, storage_root=root)) for name in (job_a, job_b)]
        diff = diff_jobs(*steps)
        if as_json:
            import orjson

            option = orjson.OPT_INDENT_2 if pretty else 0
            sys.stdout.buffer.write(orjson.dumps(diff.to_json(), option=option) + b"\n")
        else:
            from runtime.views.diff_text import render_diff

            render_diff(diff, sys.stdout)
    except PerstackError as error:
        click.echo(f"Error: {error}", err=True)
        sys.exit(1)
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(0)
    except OSError as error:
        where = f": {error.filename}" if error.filename else ""
        click.echo(f"Error: {error.strerror or error}{where}", err=True)
        sys.exit(1)
