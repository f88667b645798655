"""A comparison for people: ``perstack compare``'s table and the Markdown export.

::

    Model                      Status     Steps  Tools  Deleg.  In / out     Cost   TTFT   Time
    anthropic:claude-sonnet-4  completed  9 ◆    7      2       10.2k / 310  $0.04  0.8s   12.1s ⚡
    openai:gpt-4.1             completed  11     9      2       11.0k / 350  $0.02$ 0.6s   14.0s

``⚡`` marks the fastest completed run, ``$`` the cheapest, ``◆`` the one with the fewest
steps. The aligned steps follow (equal rows folded, as ``perstack diff`` shows them), then
each run's final answer. :func:`comparison_markdown` writes the same as Markdown.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from typing import IO, TYPE_CHECKING

from runtime.views.comparison import Comparison, RunFigures, best_runs, repeat_summaries
from runtime.views.cost import format_usd
from runtime.views.diff import StepRow
from runtime.views.diff_text import describe_action, format_seconds, format_tokens
from runtime.views.steps import JobStep

if TYPE_CHECKING:
    from rich.console import Console

__all__ = [
    "BEST_MARKS",
    "comparison_markdown",
    "figure_cells",
    "render_comparison",
    "step_line",
]

#: How the best runs are marked, by :func:`~runtime.views.comparison.best_runs`' names.
BEST_MARKS = {"fastest": "⚡", "cheapest": "$", "fewestSteps": "◆"}
_HEADERS = ("Model", "Status", "Steps", "Tools", "Deleg.", "In / out", "Cost", "TTFT", "Time")


def _seconds(ms: float | None) -> str:
    return "—" if ms is None else format_seconds(int(ms))


def figure_cells(run: RunFigures, marks: set[str] | frozenset[str] = frozenset()) -> list[str]:
    """One run's cells in :data:`_HEADERS`' order, best figures marked."""

    def mark(text: str, name: str) -> str:
        return f"{text} {BEST_MARKS[name]}" if name in marks else text

    tokens = run.tokens
    return [
        run.label,
        run.status,
        mark(str(run.steps), "fewestSteps"),
        str(run.tool_calls),
        str(run.delegations),
        f"{format_tokens(tokens['input'])} / {format_tokens(tokens['output'])}",
        mark(format_usd(run.cost_usd), "cheapest"),
        _seconds(run.time_to_first_token_ms),
        mark(_seconds(run.duration_ms), "fastest"),
    ]


def _marks(comparison: Comparison) -> list[set[str]]:
    marks: list[set[str]] = [set() for _ in comparison.runs]
    for name, indexes in best_runs(comparison.runs).items():
        for index in indexes:
            marks[index].add(name)
    return marks


def step_line(step: JobStep | None, depth: int = 0, width: int | None = None) -> str:
    """One aligned step on a line: ``3 writer  readTextFile path=a.txt`` (delegates
    indented by ``depth``; ``""`` for no step), cut to ``width`` with ``…``."""
    if step is None:
        return ""
    text = f"{step.step_number} {'  ' * depth}{step.actor}  {describe_action(step.action)}"
    return text if width is None or len(text) <= width else text[: width - 1] + "…"


def _rows(comparison: Comparison) -> list[tuple[str, StepRow | None]]:
    """The alignment with runs of equal rows folded: ``(fold text, None)`` or
    ``(mark, row)``."""
    rows = comparison.alignment
    out: list[tuple[str, StepRow | None]] = []
    index = 0
    while index < len(rows):
        end = index
        while rows[index].same and end + 1 < len(rows) and rows[end + 1].same:
            end += 1
        if end > index:
            out.append((f"… {end - index + 1} equal steps …", None))
            index = end + 1
            continue
        row = rows[index]
        pointer = "▶" if index == comparison.first_divergence else " "
        out.append((pointer + ("=" if row.same else "~"), row))
        index += 1
    return out


def render_comparison(comparison: Comparison, out: IO[str], *, width: int | None = None) -> None:
    """Print ``comparison`` for a person to ``out`` (a rich table; colour on a terminal)."""
    from rich.console import Console
    from rich.table import Table

    if width is None:  # a pipe or a file gets every cell whole
        width = shutil.get_terminal_size((140, 24)).columns if out.isatty() else 200
    console = Console(file=out, width=width, highlight=False, emoji=False, markup=False)
    table = Table(title=f"{comparison.expert}: {comparison.query}", title_justify="left")
    for header in _HEADERS:
        table.add_column(header, no_wrap=header == "Model")
    for run, marks in zip(comparison.runs, _marks(comparison)):
        style = None if run.completed else "red"
        table.add_row(*figure_cells(run, marks), style=style)
    console.print(table)
    legend = "  ".join(f"{mark} {name}" for name, mark in BEST_MARKS.items())
    console.print(f"Best of the completed runs: {legend}")
    for run in comparison.runs:
        where = f"job {run.job_id}" if run.job_id else "no job"
        line = f"  {run.label}: {where}, workspace {run.workspace}"
        console.print(line + (f"  ({run.error})" if run.error else ""), soft_wrap=True)
    if any(run.repeat > 1 for run in comparison.runs):
        _print_repeats(comparison, console)
    _print_alignment(comparison, console, width)
    for run in comparison.runs:
        console.print(f"\nFinal answer ({run.label}):", style="bold")
        console.print(run.final_answer or "(none)")


def _spread(values: dict[str, float | None], show: Callable[[float], str]) -> str:
    """``median (min–max)``, or ``—`` when no run has the figure."""
    median, low, high = values["median"], values["min"], values["max"]
    if median is None or low is None or high is None:
        return "—"
    return f"{show(median)} ({show(low)}–{show(high)})"


def _print_repeats(comparison: Comparison, console: Console) -> None:
    from rich.table import Table

    table = Table(title="Repeated runs: median (min–max)", title_justify="left")
    for header in ("Model", "Completed", "Steps", "Cost", "TTFT", "Time"):
        table.add_column(header)
    for summary in repeat_summaries(comparison.runs):
        figures = summary.figures
        table.add_row(
            summary.label,
            f"{summary.completed}/{summary.runs}",
            _spread(figures["steps"], lambda value: f"{value:g}"),
            _spread(figures["costUsd"], format_usd),
            _spread(figures["timeToFirstTokenMs"], _seconds),
            _spread(figures["durationMs"], _seconds),
        )
    console.print(table)


def _print_alignment(comparison: Comparison, console: Console, width: int) -> None:
    names = [comparison.runs[i].label for i in comparison.aligned]
    if not names:
        return
    if len(names) == 1:
        # One column aligns with nothing: "every run did the same things" would be vacuous.
        console.print(f"\nSteps aligned: only {names[0]} has a job, nothing to align.", style="dim")
        return
    side = max(16, (width - 4) // len(names) - 3)
    print_ = console.print
    print_("\nSteps aligned (" + " │ ".join(names) + "):", style="bold")
    for mark, row in _rows(comparison):
        if row is None:
            print_(f"     {mark}", style="dim")
            continue
        cells = [step_line(step, row.depth, side).ljust(side) for step in row.steps]
        style = "dim" if row.same else "yellow"
        print_(f"{mark} " + " │ ".join(cells).rstrip(), style=style)
    if comparison.first_divergence is None:
        print_("Every run did the same things, step by step.", style="green")


def comparison_markdown(comparison: Comparison) -> str:
    """The comparison as a Markdown document (the workbench's export)."""
    lines = [f"# Comparison: {comparison.expert}", "", f"Query: {comparison.query}", ""]
    lines += ["| " + " | ".join(_HEADERS) + " | Job | Workspace |"]
    lines += ["|" + "---|" * (len(_HEADERS) + 2)]
    for run, marks in zip(comparison.runs, _marks(comparison)):
        cells = [*figure_cells(run, marks), run.job_id or "—", f"`{run.workspace}`"]
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    legend = ", ".join(f"{mark} {name}" for name, mark in BEST_MARKS.items())
    lines += ["", f"Best of the completed runs: {legend}.", ""]
    names = [comparison.runs[i].label for i in comparison.aligned]
    if names:
        lines += ["## Steps aligned", ""]
        lines += ["| | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
        for mark, row in _rows(comparison):
            if row is None:
                lines.append(f"| | {mark} |" + " |" * (len(names) - 1))
                continue
            cells = [step_line(step, row.depth, 80).replace("|", "\\|") for step in row.steps]
            lines.append(f"| {mark.strip()} | " + " | ".join(cells) + " |")
        lines.append("")
    for run in comparison.runs:
        lines += [f"## Final answer: {run.label}", "", run.final_answer or "(none)", ""]
        if run.error:
            lines += [f"Error: {run.error}", ""]
    return "\n".join(lines)
