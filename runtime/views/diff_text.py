"""``perstack diff`` for people: two jobs' aligned steps side by side, equal ones folded.

::

    A  k3f…  completed  lead  9 steps · 7 tool calls · 10.2k in / 310 out · 1.2s
    B  p9x…  completed  lead  10 steps · 8 tool calls · 11.0k in / 350 out · 1.4s  (forked from k3f… at step 4)

         … 4 equal steps (1–4) …
    ▶ ~  5 lead   writeTextFile path=plan.txt, …    │  5 lead   editTextFile path=plan.txt, …
      +                                             │  6 lead   readTextFile path=plan.txt
      =  6 lead   attemptCompletion                 │  7 lead   attemptCompletion

``~`` marks a pair whose sides did different things, ``-`` a step only A took, ``+`` one
only B took, ``▶`` the first divergence. Delegates' steps are indented under the step
that delegated. The final answers follow in full.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from typing import IO, Any

from runtime.views._row_text import short_args
from runtime.views.diff import JobDiff, StepPair, fold_pairs
from runtime.views.steps import JobStep, JobSteps

__all__ = [
    "render_diff",
    "describe_action",
    "fold_label",
    "format_seconds",
    "format_tokens",
    "pair_mark",
]

_MARKS = {"same": "=", "changed": "~", "only_a": "-", "only_b": "+"}
_STYLES = {"=": "dim", "~": "yellow", "-": "red", "+": "green"}


def describe_action(action: dict[str, Any]) -> str:
    """A step's action on one line: ``readTextFile path=notes.txt``, ``→ helper: Read the
    notes``, ``answer: Done.``, ``error: RateLimitError: …``."""
    kind = action.get("type")
    if kind in ("tools", "interactive"):
        calls = [
            f"{c.get('toolName')} {short_args(c.get('args'), 24)}".strip()
            for c in action.get("toolCalls") or []
        ]
        text = "; ".join(calls)
        if kind == "interactive":
            text = f"asks: {text}"
    elif kind == "delegate":
        text = "; ".join(
            f"→ {d.get('expert')}: {d.get('query')}" for d in action.get("delegates") or []
        )
    elif kind == "answer":
        text = f"answer: {action.get('text', '')}"
    elif kind == "results":
        names = ", ".join(str(r.get("toolName")) for r in action.get("results") or [])
        text = f"results of {names}"
    elif kind == "error":
        text = f"error: {action.get('error')}"
    else:
        text = f"retry: {action.get('reason', '')}"
    if action.get("stopped"):
        text += " (step limit)"
    return " ".join(text.split())


def format_tokens(tokens: int) -> str:
    """A token count for a narrow column: ``310``, ``10.2k``, ``1.4M``."""
    if tokens >= 1_000_000:
        return f"{tokens / 1_000_000:.1f}M"
    if tokens >= 1_000:
        return f"{tokens / 1_000:.1f}k"
    return str(tokens)


def format_seconds(ms: int) -> str:
    """A duration for a narrow column: ``1.2s``, ``3m05s``."""
    return f"{ms / 1000:.1f}s" if ms < 60_000 else f"{ms // 60_000}m{(ms % 60_000) // 1000:02d}s"


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _summary_line(side: str, steps: JobSteps) -> str:
    summary = steps.summary()
    tokens = summary["tokens"]
    line = (
        f"{side}  {summary['jobId']}  {summary['status']}  {summary['coordinator']}  "
        f"{_count(summary['steps'], 'step')} · {_count(summary['toolCalls'], 'tool call')} · "
        f"{format_tokens(tokens['input'])} in / {format_tokens(tokens['output'])} out · "
        f"{format_seconds(summary['durationMs'])}"
    )
    forked = summary.get("forkedFrom")
    if forked:
        line += f"  (forked from {forked.get('jobId')} at checkpoint {forked.get('checkpointId')})"
    return line


def _cell(step: JobStep | None, depth: int, width: int) -> str:
    if step is None:
        return " " * width
    head = f"{step.step_number:>4} {'  ' * depth}{step.actor}  "
    text = head + describe_action(step.action)
    if len(text) > width:
        text = text[: width - 1] + "…"
    return f"{text:<{width}}"


def pair_mark(pair: StepPair) -> str:
    """``=`` same, ``~`` changed, ``-`` only in A, ``+`` only in B."""
    if pair.same:
        return _MARKS["same"]
    if pair.a is None:
        return _MARKS["only_b"]
    if pair.b is None:
        return _MARKS["only_a"]
    return _MARKS["changed"]


def fold_label(pairs: Sequence[StepPair], span: range) -> str:
    """A folded run of equal pairs: ``9 equal steps (3–11)``.

    The range is A's job-wide step numbers, shown only when the folded steps are exactly
    those numbers: delegates' steps sit under the step that delegated, so a fold that
    spans a delegation may hold numbers out of order, and a range would then claim steps
    it does not hold.
    """
    numbers = [pairs[index].a.step_number for index in span if pairs[index].a is not None]
    label = f"{len(span)} equal steps"
    if len(numbers) == len(span) and numbers == list(range(numbers[0], numbers[0] + len(span))):
        label += f" ({numbers[0]}–{numbers[-1]})"
    return label


def _lines(diff: JobDiff, width: int) -> list[tuple[str, str]]:
    side = max(20, (width - 9) // 2)
    lines = [(_summary_line("A", diff.a), "bold"), (_summary_line("B", diff.b), "bold"), ("", "")]
    pairs = diff.pairs
    for span in fold_pairs(pairs):
        if len(span) > 1:
            lines.append((f"       … {fold_label(pairs, span)} …", "dim"))
            continue
        index = span[0]
        pair = pairs[index]
        mark = pair_mark(pair)
        pointer = "▶" if index == diff.first_divergence else " "
        text = (
            f"{pointer} {mark} {_cell(pair.a, pair.depth, side)} │ "
            f"{_cell(pair.b, pair.depth, side).rstrip()}"
        )
        lines.append((text.rstrip(), _STYLES[mark]))
    if diff.first_divergence is None:
        lines += [("", ""), ("The jobs did the same things, step by step.", "green")]
    for name, steps in (("A", diff.a), ("B", diff.b)):
        lines += [("", ""), (f"Final answer ({name}):", "bold")]
        answer = steps.final_answer
        lines += [(line, "") for line in (answer or "(none)").splitlines() or [""]]
    return lines


def render_diff(diff: JobDiff, out: IO[str], *, width: int | None = None) -> None:
    """Print ``diff`` for a person to ``out`` (in colour on a colour terminal)."""
    width = width or shutil.get_terminal_size((140, 24)).columns
    lines = _lines(diff, width)
    from rich.console import Console

    console = Console(file=out, highlight=False, soft_wrap=True, emoji=False, markup=False)
    if not console.is_terminal or console.no_color or console.color_system is None:
        out.write("".join(f"{text}\n" for text, _ in lines))
        return
    from rich.text import Text

    for text, style in lines:
        console.print(Text(text, style=style))
