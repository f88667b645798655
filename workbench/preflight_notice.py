"""What the workbench says about the project before any run: the preflight's problems in
the notice banner, its warnings, and the empty timeline's hint (demo, remote server)."""

from __future__ import annotations

from typing import Any

from workbench.widgets.notice import Notice
from workbench.widgets.timeline import Timeline

__all__ = ["show_preflight", "show_problems"]


def show_problems(app: Any) -> None:
    """Show the preflight's problems (config, provider) in the notice banner."""
    notice = app.query_one(Notice)
    preflight = app.preflight
    if preflight.problems:
        notice.show_problem(
            f"{app.session.project.config_path.name} has problems; runs are off until "
            "they are fixed:",
            preflight.problems,
            error=True,
        )
    elif preflight.provider_problem:
        notice.show_problem(
            "Runs will fail until the provider is set up:", [preflight.provider_problem]
        )


def show_preflight(app: Any) -> None:
    """The preflight on screen: problems, one-off warnings, the empty timeline's hint."""
    show_problems(app)
    preflight = app.preflight
    if preflight.provider_checked:
        return
    for warning in preflight.warnings:
        app.notify(warning, severity="warning")
    if app.session.remote is not None:
        app.query_one(Timeline).empty_text = (
            f"Jobs run on {app.session.remote.url}. Press Enter to run the query below, "
            "or F2 to open one of the server's jobs."
        )
    elif app.session.project.is_demo:
        app.query_one(Timeline).empty_text = (
            "No perstack.toml here, so this is the bundled demo: it runs offline, with no "
            "API key. Press Enter to run the query below."
        )
