"""Two jobs side by side: their steps aligned like a text diff (``perstack diff``).

Steps are aligned run by run (:func:`diff_jobs`): the coordinators' steps in order, then,
under each pair of steps that delegated, the delegates matched by Expert and order (the
first ``researcher`` of one job with the first ``researcher`` of the other), their own
steps aligned the same way, and so on down. Within one Expert's steps the alignment is
that of a text diff (:func:`align`, Myers' algorithm): a step inserted or missing on one
side is a pair with one side empty and shifts nothing after it; a stretch where both
sides did something else is paired side by side.

Two steps are the *same* when they did the same thing: the same tool calls with the same
arguments, the same delegations, the same text or answer, the same error. Tokens, times
and ids do not count. The first pair that is not the same is the *first divergence*.

:func:`align` works on any two sequences of comparable keys; :func:`align_many` and
:func:`align_jobs` align any number of jobs the same way (``perstack compare``): each
further job is aligned against the rows of the ones before it.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

from runtime.views.steps import JobStep, JobSteps, StepNode

__all__ = [
    "JobDiff", "StepPair", "StepRow", "align", "align_jobs", "align_many", "diff_jobs",
    "fold_pairs",
]  # fmt: skip

#: Beyond this many differences between two Experts' steps, the exact alignment (whose
#: cost grows with the square of the differences) gives way to a quicker, rougher one.
MAX_EXACT_DIFFERENCES = 500


@dataclass(frozen=True)
class StepPair:
    """Two aligned steps: ``a`` from the first job, ``b`` from the second (either may be
    ``None``: a step only one job took).

    Attributes:
        a: The first job's step, or ``None``.
        b: The second job's step, or ``None``.
        same: Both took it, and did the same thing.
        depth: Delegation depth of the Experts (0 for the coordinators).
    """

    a: JobStep | None
    b: JobStep | None
    same: bool
    depth: int

    def to_json(self) -> dict[str, Any]:
        return {
            "a": None if self.a is None else self.a.to_json(),
            "b": None if self.b is None else self.b.to_json(),
            "same": self.same,
        }


@dataclass(frozen=True)
class JobDiff:
    """The aligned steps of two jobs.

    Attributes:
        a: The first job's steps.
        b: The second job's steps.
        pairs: Every aligned pair, in order (a delegation's pairs follow the pair of
            steps that delegated).
        first_divergence: The index in ``pairs`` of the first pair that is not the same,
            or ``None`` when the jobs did the same things.
    """

    a: JobSteps
    b: JobSteps
    pairs: list[StepPair]
    first_divergence: int | None

    def to_json(self) -> dict[str, Any]:
        """``perstack diff --json``'s object: ``{"a": summary, "b": summary,
        "firstDivergence": {"a", "b", "index"} | null, "pairs": [...]}``."""
        first = None
        if self.first_divergence is not None:
            pair = self.pairs[self.first_divergence].to_json()
            first = {"a": pair["a"], "b": pair["b"], "index": self.first_divergence}
        return {
            "a": self.a.summary(),
            "b": self.b.summary(),
            "firstDivergence": first,
            "pairs": [pair.to_json() for pair in self.pairs],
        }


def diff_jobs(a: JobSteps, b: JobSteps) -> JobDiff:
    """Align the steps of jobs ``a`` and ``b`` (see the module docstring)."""
    rows = align_jobs([a, b])
    pairs = [StepPair(row.steps[0], row.steps[1], row.same, row.depth) for row in rows]
    first = next((index for index, pair in enumerate(pairs) if not pair.same), None)
    return JobDiff(a, b, pairs, first)


def fold_pairs(pairs: Sequence[StepPair]) -> list[range]:
    """The pairs as a diff shows them: each range is one line, a run of two or more
    equal pairs folded into one (``len(span) > 1``), any other pair alone."""
    lines: list[range] = []
    index = 0
    while index < len(pairs):
        end = index
        if pairs[index].same:
            while end + 1 < len(pairs) and pairs[end + 1].same:
                end += 1
        lines.append(range(index, end + 1))
        index = end + 1
    return lines


@dataclass(frozen=True)
class StepRow:
    """One row of several jobs' aligned steps: the k-th entry is job k's step, or
    ``None`` when that job took no step there.

    Attributes:
        steps: One entry per job, in the jobs' order.
        same: Every job took it, and all did the same thing.
        depth: Delegation depth of the Experts (0 for the coordinators).
    """

    steps: tuple[JobStep | None, ...]
    same: bool
    depth: int

    def to_json(self) -> dict[str, Any]:
        """``{"steps": [step | null, ...], "same": bool, "depth": int}``."""
        steps = [None if step is None else step.to_json() for step in self.steps]
        return {"steps": steps, "same": self.same, "depth": self.depth}


def align_jobs(jobs: Sequence[JobSteps]) -> list[StepRow]:
    """Align the steps of any number of jobs, run by run (as :func:`diff_jobs` does for
    two): coordinators with coordinators, delegates matched by Expert and order under
    the rows that delegated them, each Expert's steps aligned by :func:`align_many`."""
    rows: list[StepRow] = []
    roots = _matched([job.roots for job in jobs], jobs)
    for nodes in roots:
        _rows_of(jobs, nodes, 0, rows)
    return rows


def _rows_of(
    jobs: Sequence[JobSteps], node_ids: tuple[str | None, ...], depth: int, rows: list[StepRow]
) -> None:
    """Append the rows of matched nodes (one per job, any may be ``None``), then of their
    delegates, recursively."""
    nodes: list[StepNode | None] = [
        job.nodes.get(node_id) if node_id else None for job, node_id in zip(jobs, node_ids)
    ]
    steps = [node.steps if node else [] for node in nodes]
    for indexes in align_many([[step.key for step in own] for own in steps]):
        row = tuple(None if i is None else own[i] for i, own in zip(indexes, steps))
        keys = {step.key if step is not None else None for step in row}
        rows.append(StepRow(row, len(keys) == 1 and None not in keys, depth))
        children = [
            node.delegated.get(i, []) if node is not None and i is not None else []
            for node, i in zip(nodes, indexes)
        ]
        if any(children):
            for matched in _matched(children, jobs):
                _rows_of(jobs, matched, depth + 1, rows)


def _matched(
    ids: Sequence[list[str]], jobs: Sequence[JobSteps]
) -> list[tuple[str | None, ...]]:
    """Nodes matched across jobs by Expert and order: the k-th of an Expert in one job
    with the k-th of that Expert in the others. In the first job's order, then each
    later job's leftovers."""
    width = len(jobs)
    matched: list[list[str | None]] = []
    slots: dict[tuple[str, int], int] = {}  # (expert, ordinal) -> its index in matched
    for position, (node_ids, job) in enumerate(zip(ids, jobs)):
        seen: dict[str, int] = {}
        for node_id in node_ids:
            expert = job.nodes[node_id].expert_key
            ordinal = seen[expert] = seen.get(expert, -1) + 1
            slot = slots.get((expert, ordinal))
            if slot is None:
                slot = slots[(expert, ordinal)] = len(matched)
                matched.append([None] * width)
            matched[slot][position] = node_id
    return [tuple(row) for row in matched]


def align_many(
    sequences: Sequence[Sequence[Hashable]],
) -> list[tuple[int | None, ...]]:
    """Align any number of sequences: a tuple of indexes per row, ``None`` where a
    sequence has nothing there. Two sequences align exactly as :func:`align` does; each
    further one is aligned with :func:`align` against the rows so far, a row standing
    for the first sequence's element in it (or the first present)."""
    if not sequences:
        return []
    rows: list[list[int | None]] = [[i] for i in range(len(sequences[0]))]
    keys: list[Hashable] = list(sequences[0])
    for width, sequence in enumerate(sequences[1:], start=1):
        merged: list[list[int | None]] = []
        merged_keys: list[Hashable] = []
        for i, j in align(keys, sequence):
            if i is None:
                assert j is not None
                merged.append([None] * width + [j])
                merged_keys.append(sequence[j])
            else:
                merged.append([*rows[i], j])
                merged_keys.append(keys[i])
        rows, keys = merged, merged_keys
    return [tuple(row) for row in rows]


# --- aligning two sequences ---------------------------------------------------------------


def align(a: Sequence[Hashable], b: Sequence[Hashable]) -> list[tuple[int | None, int | None]]:
    """Align two sequences like a text diff: ``(i, j)`` for elements kept in both (or
    changed in place), ``(i, None)`` for one only in ``a``, ``(None, j)`` only in ``b``.

    Equal elements are matched so that as many match as possible (a longest common
    subsequence, found with Myers' O((N+M)·D) algorithm); between two matches, what only
    ``a`` has and what only ``b`` has are paired side by side, the rest left alone. Very
    different sequences (more than :data:`MAX_EXACT_DIFFERENCES` differences) are
    aligned by a quicker heuristic instead.
    """
    n, m = len(a), len(b)
    head = 0
    while head < n and head < m and a[head] == b[head]:
        head += 1
    tail = 0
    while tail < n - head and tail < m - head and a[n - 1 - tail] == b[m - 1 - tail]:
        tail += 1
    middle_a, middle_b = a[head : n - tail], b[head : m - tail]
    matches = _myers(middle_a, middle_b)
    if matches is None:
        matches = _rough(middle_a, middle_b)
    result: list[tuple[int | None, int | None]] = [(i, i) for i in range(head)]
    x = y = 0
    for mx, my in [*matches, (len(middle_a), len(middle_b))]:
        only_a, only_b = list(range(x, mx)), list(range(y, my))
        for k in range(max(len(only_a), len(only_b))):
            i = head + only_a[k] if k < len(only_a) else None
            j = head + only_b[k] if k < len(only_b) else None
            result.append((i, j))
        if mx < len(middle_a) and my < len(middle_b):
            result.append((head + mx, head + my))
        x, y = mx + 1, my + 1
    result += [(n - tail + k, m - tail + k) for k in range(tail)]
    return result


def _myers(a: Sequence[Hashable], b: Sequence[Hashable]) -> list[tuple[int, int]] | None:
    """The matched index pairs of a shortest edit script, or ``None`` past the limit."""
    n, m = len(a), len(b)
    if n == 0 or m == 0:
        return []
    offset = n + m + 1
    v = [0] * (2 * offset + 1)
    trace: list[list[int]] = []
    limit = min(n + m, MAX_EXACT_DIFFERENCES)
    for d in range(limit + 1):
        trace.append(v[offset - d : offset + d + 1])  # the diagonals in use so far
        for k in range(-d, d + 1, 2):
            if k == -d or (k != d and v[offset + k - 1] < v[offset + k + 1]):
                x = v[offset + k + 1]
            else:
                x = v[offset + k - 1] + 1
            y = x - k
            while x < n and y < m and a[x] == b[y]:
                x += 1
                y += 1
            v[offset + k] = x
            if x >= n and y >= m:
                return _backtrack(trace, a, b, d)
    return None


def _backtrack(
    trace: list[list[int]], a: Sequence[Hashable], b: Sequence[Hashable], d_end: int
) -> list[tuple[int, int]]:
    x, y = len(a), len(b)
    matches: list[tuple[int, int]] = []
    for d in range(d_end, 0, -1):
        window = trace[d]  # v before step d: diagonal k is at index k + d
        k = x - y

        def at(diagonal: int, _window: list[int] = window, _d: int = d) -> int:
            return _window[diagonal + _d]

        if k == -d or (k != d and at(k - 1) < at(k + 1)):
            previous_k = k + 1
        else:
            previous_k = k - 1
        previous_x = at(previous_k)
        previous_y = previous_x - previous_k
        while x > previous_x and y > previous_y and x > 0 and y > 0 and a[x - 1] == b[y - 1]:
            x -= 1
            y -= 1
            matches.append((x, y))
        x, y = previous_x, previous_y
    while x > 0 and y > 0:
        x -= 1
        y -= 1
        matches.append((x, y))
    matches.reverse()
    return matches


def _rough(a: Sequence[Hashable], b: Sequence[Hashable]) -> list[tuple[int, int]]:
    """Matches found by difflib's matching blocks (quick on very different sequences)."""
    from difflib import SequenceMatcher

    matcher = SequenceMatcher(None, a, b, autojunk=True)
    return [
        (block.a + k, block.b + k)
        for block in matcher.get_matching_blocks()
        for k in range(block.size)
    ]
