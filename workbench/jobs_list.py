"""F2's list of jobs: the project's stored jobs (priced as they are read), or the jobs of
the server the workbench is attached to."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from workbench.screens.jobs import JobsScreen

__all__ = ["jobs_screen"]


def jobs_screen(runs: Any) -> JobsScreen:
    """The jobs screen for a :class:`workbench.runs.RunControl`'s session."""
    remote = runs.remote
    if remote is not None:
        from workbench.remote import list_remote_jobs

        return JobsScreen(
            lambda: list_remote_jobs(remote),
            runs.app.clock(),
            runs.job_id,
            where=f"Jobs of application {remote.application_id} on {remote.url}",
            title="Server jobs",
        )
    from runtime.views.cost import PriceBook
    from workbench.stored_jobs import list_stored_jobs, price_jobs

    storage = runs.storage()
    location = runs.app.session.storage_location()
    shown = location if isinstance(location, str) else _display_path(location)
    where = f"Kept in {shown}"
    prices = PriceBook.from_config(runs.app.preflight.config)
    foreign, session = runs.foreign, runs.app.session
    return JobsScreen(
        lambda: list_stored_jobs(storage, also=foreign, cwd=session.cwd),
        runs.app.clock(),
        runs.job_id,
        where=where,
        price_jobs=lambda ids: price_jobs(storage, ids, prices),
    )


def _display_path(path: Path) -> str:
    """``path`` as the person at the terminal would type it: relative to where they are,
    else under ``~``, else absolute (the demo keeps its jobs in the cache directory)."""
    path = path.resolve()
    for base, prefix in ((Path.cwd().resolve(), ""), (Path.home().resolve(), f"~{os.sep}")):
        try:
            return f"{prefix}{path.relative_to(base)}{os.sep}"
        except ValueError:
            continue
    return f"{path}{os.sep}"
