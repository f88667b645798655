"""``perstack start [expertKey] [query]``: the workbench (coming in the workbench issue)."""

from __future__ import annotations

import click

__all__ = ["start_command"]


@click.command("start")
@click.argument("expert_key", required=False)
@click.argument("query", required=False)
def start_command(expert_key: str | None, query: str | None) -> None:
    """Open the workbench."""
    click.echo("The Perstack workbench is coming soon; use `perstack run` meanwhile.", err=True)
