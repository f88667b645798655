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

:func:`align` works on any two sequences of comparable keys, so comparing more than two
jobs (``perstack compare``) can align each against a reference the same way.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

from runtime.views.steps import JobStep, JobSteps, StepNode

__all__ = ["JobDiff", "StepPair", "align", "diff_jobs", "fold_pairs"]

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
    pairs: list[StepPair] = []
    for root_a, root_b in _matched(a.roots, b.roots, a, b):
        _pair_nodes(a, b, root_a, root_b, 0, pairs)
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


def _pair_nodes(
    a: JobSteps, b: JobSteps, node_a: str | None, node_b: str | None, depth: int,
    pairs: list[StepPair],
) -> None:  # fmt: skip
    """Append the pairs of two matched nodes (either may be ``None``), then of their
    delegates, recursively."""
    left: StepNode | None = a.nodes.get(node_a) if node_a else None
    right: StepNode | None = b.nodes.get(node_b) if node_b else None
    steps_a = left.steps if left else []
    steps_b = right.steps if right else []
    for i, j in align([s.key for s in steps_a], [s.key for s in steps_b]):
        step_a = None if i is None else steps_a[i]
        step_b = None if j is None else steps_b[j]
        same = step_a is not None and step_b is not None and step_a.key == step_b.key
        pairs.append(StepPair(step_a, step_b, same, depth))
        children_a = left.delegated.get(i, []) if left and i is not None else []
        children_b = right.delegated.get(j, []) if right and j is not None else []
        for child_a, child_b in _matched(children_a, children_b, a, b):
            _pair_nodes(a, b, child_a, child_b, depth + 1, pairs)


def _matched(
    ids_a: list[str], ids_b: list[str], a: JobSteps, b: JobSteps
) -> list[tuple[str | None, str | None]]:
    """Nodes paired by Expert and order: the k-th of an Expert on one side with the k-th
    of that Expert on the other; the rest alone. In the first side's order, then the
    second's leftovers."""
    by_expert: dict[str, list[str]] = {}
    for node_id in ids_b:
        by_expert.setdefault(b.nodes[node_id].expert_key, []).append(node_id)
    matched: list[tuple[str | None, str | None]] = []
    used: set[str] = set()
    for node_id in ids_a:
        candidates = by_expert.get(a.nodes[node_id].expert_key) or []
        partner = candidates.pop(0) if candidates else None
        if partner is not None:
            used.add(partner)
        matched.append((node_id, partner))
    matched += [(None, node_id) for node_id in ids_b if node_id not in used]
    return matched


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
