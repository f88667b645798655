"""The N-way step alignment and the comparison's figures (best runs, repeat summaries,
the Markdown export), on plain data."""

from __future__ import annotations

import pytest

from runtime.views.comparison import Comparison, RunFigures, best_runs, repeat_summaries
from runtime.views.comparison_text import comparison_markdown
from runtime.views.diff import align, align_many


@pytest.mark.parametrize(
    ("a", "b"),
    [("abcde", "abxde"), ("abc", "abcd"), ("", "ab"), ("kitten", "sitting"), ("aaa", "")],
)
def test_two_sequences_align_as_align_does(a: str, b: str) -> None:
    assert align_many([a, b]) == align(a, b)


def test_a_third_sequence_is_aligned_against_the_rows_so_far() -> None:
    rows = align_many(["abc", "abc", "axbc"])
    assert rows == [(0, 0, 0), (None, None, 1), (1, 1, 2), (2, 2, 3)]
    # Something only the second has, and the third lines up with the first.
    rows = align_many(["ac", "abc", "ac"])
    assert rows == [(0, 0, 0), (None, 1, None), (1, 2, 1)]


def test_every_index_of_every_sequence_appears_once_in_order() -> None:
    sequences = ["abcdef", "bcxdf", "aef", "", "fedcba"]
    rows = align_many(sequences)
    assert all(len(row) == len(sequences) for row in rows)
    for k, sequence in enumerate(sequences):
        column = [row[k] for row in rows if row[k] is not None]
        assert column == list(range(len(sequence)))


def test_no_sequences_no_rows() -> None:
    assert align_many([]) == []
    assert align_many(["ab"]) == [(0,), (1,)]


def _run(model: str, *, status: str = "completed", steps: int = 3, cost: float | None = 0.1,
         ms: int = 1000, repeat: int = 1) -> RunFigures:  # fmt: skip
    return RunFigures(model=model, provider="p", status=status, steps=steps, cost_usd=cost,
                      duration_ms=ms, repeat=repeat, final_answer=f"{model} says")  # fmt: skip


def test_best_runs_mark_ties_and_skip_failed_and_unknown_costs() -> None:
    runs = [
        _run("a", steps=3, cost=None, ms=500),
        _run("b", steps=2, cost=0.2, ms=900),
        _run("c", steps=2, cost=0.1, ms=900),
        _run("d", status="failed", steps=0, cost=0.0, ms=0),
    ]
    assert best_runs(runs) == {"fastest": [0], "cheapest": [2], "fewestSteps": [1, 2]}
    assert best_runs([runs[1]]) == {"fastest": [], "cheapest": [], "fewestSteps": []}


def test_repeat_summaries_give_median_and_range_and_completed_count() -> None:
    runs = [
        _run("a", ms=100, repeat=1),
        _run("a", ms=300, repeat=2, status="stoppedByError"),
        _run("a", ms=200, repeat=3),
        _run("b", ms=50),
    ]
    a, b = repeat_summaries(runs)
    assert (a.label, a.runs, a.completed) == ("p:a", 3, 2)
    assert a.figures["durationMs"] == {"median": 200, "min": 100, "max": 300}
    assert a.figures["timeToFirstTokenMs"] == {"median": None, "min": None, "max": None}
    assert (b.runs, b.completed) == (1, 1)


def test_the_markdown_export_has_the_table_the_marks_and_the_answers() -> None:
    comparison = Comparison("writer", "Write", [_run("a", ms=100), _run("b", ms=200, cost=0.05)])
    text = comparison_markdown(comparison)
    assert text.startswith("# Comparison: writer\n\nQuery: Write\n")
    assert "| p:a | completed | 3 ◆ |" in text
    assert "$0.050 $" in text and "0.1s ⚡" in text
    assert "## Final answer: p:b\n\nb says" in text
    assert comparison.to_json()["best"] == {"fastest": [0], "cheapest": [1], "fewestSteps": [0, 1]}
