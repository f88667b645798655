"""Several jobs of one Expert side by side: their figures and their aligned steps.

What ``perstack compare``, the workbench's compare view and their exports show. Every
figure comes from the stored job through the same views the rest of the project uses
(:func:`~runtime.views.steps.load_steps` for steps, tool calls, delegations and the final
answer; :func:`~runtime.views.cost.stored_cost` for tokens and money), so a run of the
comparison and a recorded baseline job are measured alike.

* :class:`RunFigures`: one job's figures (the ``runs`` entries of ``--json``);
* :func:`job_figures`: them, for a stored job;
* :class:`Comparison`: the runs, their step alignment (:func:`~runtime.views.diff.align_jobs`)
  and, with ``--repeat``, each model's median and min–max (:func:`repeat_summaries`);
* :func:`best_runs`: the fastest, the cheapest and the one with the fewest steps.

Time to first token is measured from the stored events: from the job's first request to a
model (``startGeneration``) to the first thing the model sent back (a streamed delta, or
the end of a generation that streamed nothing, such as a tool call).
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from runtime.views.cost import PriceBook, run_models, stored_cost
from runtime.views.diff import StepRow, align_jobs
from runtime.views.steps import JobSteps, load_steps

if TYPE_CHECKING:
    from runtime.storage.sources import JobSource

__all__ = [
    "FIRST_OUTPUT_TYPES",
    "Comparison",
    "RunFigures",
    "RepeatSummary",
    "best_runs",
    "job_figures",
    "repeat_summaries",
]

#: The events that say a model has begun to answer (for time to first token).
FIRST_OUTPUT_TYPES = frozenset(
    {
        "startStreamingReasoning",
        "streamReasoning",
        "startStreamingRunResult",
        "streamRunResult",
        "callTools",
        "callInteractiveTool",
        "callDelegate",
        "completeRun",
        "retry",
    }
)
#: The figures ``--repeat`` summarises (median and min–max), by their JSON names.
REPEATED_FIGURES = (
    "steps",
    "toolCalls",
    "delegations",
    "costUsd",
    "timeToFirstTokenMs",
    "durationMs",
)
_TOKEN_KINDS = ("input", "output", "cached", "reasoning")


@dataclass
class RunFigures:
    """One job of a comparison (a run of it, or the baseline).

    Attributes:
        model: The model, as asked for (or as the job recorded it).
        provider: The provider name.
        job_id: The job's id (``None`` when the run failed before it began).
        workspace: The folder the job worked in (its own copy), or where a baseline
            was found.
        status: The job's status (``completed``, ``stoppedByError`` …), ``failed`` when
            it never ran, ``running`` while it runs.
        steps: Steps taken, delegates' included.
        tool_calls: Tool calls made (delegations included).
        delegations: Delegates run.
        tokens: ``{"input", "output", "cached", "reasoning"}``.
        cost_usd: The money cost (``None``: not known, see ``cost_reason``).
        cost_reason: Why the cost is unknown.
        time_to_first_token_ms: From the first request to the model's first output.
        duration_ms: Time the job's runs were running.
        final_answer: The coordinator's last answer.
        error: Why it failed (one line), if it did.
        baseline: A recorded job shown beside the runs, not run.
        repeat: Which repetition of its model this is (1-based).
    """

    model: str
    provider: str
    job_id: str | None = None
    workspace: str | None = None
    status: str = "pending"
    steps: int = 0
    tool_calls: int = 0
    delegations: int = 0
    tokens: dict[str, int] = field(default_factory=lambda: dict.fromkeys(_TOKEN_KINDS, 0))
    cost_usd: float | None = 0.0
    cost_reason: str | None = None
    time_to_first_token_ms: int | None = None
    duration_ms: int = 0
    final_answer: str | None = None
    error: str | None = None
    baseline: bool = False
    repeat: int = 1

    @property
    def label(self) -> str:
        """``provider:model`` (with ``#2`` for a second repetition; ``baseline`` marked)."""
        text = f"{self.provider}:{self.model}"
        if self.repeat > 1:
            text += f" #{self.repeat}"
        return f"{text} (baseline)" if self.baseline else text

    @property
    def completed(self) -> bool:
        return self.status == "completed"

    def to_json(self) -> dict[str, Any]:
        """The run as ``perstack compare --json`` prints it."""
        data: dict[str, Any] = {
            "model": self.model,
            "provider": self.provider,
            "jobId": self.job_id,
            "workspace": self.workspace,
            "status": self.status,
            "steps": self.steps,
            "toolCalls": self.tool_calls,
            "delegations": self.delegations,
            "tokens": dict(self.tokens),
            "costUsd": self.cost_usd,
            "timeToFirstTokenMs": self.time_to_first_token_ms,
            "durationMs": self.duration_ms,
            "finalAnswer": self.final_answer,
        }
        if self.cost_reason:
            data["costReason"] = self.cost_reason
        if self.error:
            data["error"] = self.error
        if self.baseline:
            data["baseline"] = True
        if self.repeat > 1:
            data["repeat"] = self.repeat
        return data

    def figure(self, name: str) -> float | None:
        """A figure by its JSON name (for summaries)."""
        value = self.to_json().get(name)
        return value if isinstance(value, int | float) else None


def job_figures(
    source: JobSource,
    *,
    prices: PriceBook | None = None,
    steps: JobSteps | None = None,
    into: RunFigures | None = None,
) -> tuple[RunFigures, JobSteps]:
    """A stored job's figures (filled into ``into`` when given) and its steps."""
    steps = steps or load_steps(source)
    storage, job_id = source.storage, source.job_id
    figures = into
    if figures is None:
        runs = run_models(storage.list_runs(job_id))
        first = next(iter(runs.values()), None)
        figures = RunFigures(
            model=first.model if first else "?",
            provider=first.provider if first else "?",
            workspace=source.location,
        )
    summary = steps.summary()
    cost = stored_cost(storage, job_id, prices=prices)
    usage = cost.usage
    figures.job_id = job_id
    figures.status = str(summary.get("status") or "running")
    figures.steps = summary["steps"]
    figures.tool_calls = summary["toolCalls"]
    figures.delegations = sum(1 for node in steps.nodes.values() if node.parent_id is not None)
    figures.tokens = {
        "input": usage.input_tokens,
        "output": usage.output_tokens,
        "cached": usage.cached_input_tokens,
        "reasoning": usage.reasoning_tokens,
    }
    figures.cost_usd = cost.cost.usd_or_none
    figures.cost_reason = None if cost.cost.known else cost.cost.reason
    figures.time_to_first_token_ms = _first_token_ms(source)
    figures.duration_ms = steps.duration_ms
    figures.final_answer = steps.final_answer
    return figures, steps


def _first_token_ms(source: JobSource) -> int | None:
    """From the first ``startGeneration`` to the first output after it (file names only)."""
    refs = source.storage.list_event_files(
        source.job_id, types=FIRST_OUTPUT_TYPES | {"startGeneration"}
    )
    start = None
    for ref in sorted(refs, key=lambda ref: ref.timestamp):
        if ref.type == "startGeneration":
            start = ref.timestamp if start is None else start
        elif start is not None:
            return max(0, ref.timestamp - start)
    return None


@dataclass
class RepeatSummary:
    """One model's repetitions: each figure's median and min–max, and how many completed.

    Attributes:
        label: ``provider:model``.
        runs: How many runs it had.
        completed: How many of them completed.
        figures: JSON name -> ``{"median", "min", "max"}`` (``None`` each when no run
            has the figure).
    """

    label: str
    runs: int
    completed: int
    figures: dict[str, dict[str, float | None]]

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.label,
            "runs": self.runs,
            "completed": self.completed,
            **self.figures,
        }


def repeat_summaries(runs: Iterable[RunFigures]) -> list[RepeatSummary]:
    """Each model's figures over its repetitions (baselines left out), in first-run order."""
    groups: dict[str, list[RunFigures]] = {}
    for run in runs:
        if not run.baseline:
            groups.setdefault(f"{run.provider}:{run.model}", []).append(run)
    summaries = []
    for label, group in groups.items():
        figures: dict[str, dict[str, float | None]] = {}
        for name in (*REPEATED_FIGURES, *(f"tokens.{kind}" for kind in _TOKEN_KINDS)):
            if name.startswith("tokens."):
                values = [float(run.tokens[name[7:]]) for run in group]
            else:
                values = [v for run in group if (v := run.figure(name)) is not None]
            figures[name] = _spread(values)
        completed = sum(1 for run in group if run.completed)
        summaries.append(RepeatSummary(label, len(group), completed, figures))
    return summaries


def _spread(values: Sequence[float]) -> dict[str, float | None]:
    if not values:
        return {"median": None, "min": None, "max": None}
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def best_runs(runs: Sequence[RunFigures]) -> dict[str, list[int]]:
    """Indexes of the completed runs that were fastest, cheapest and took the fewest
    steps: ``{"fastest": [...], "cheapest": [...], "fewestSteps": [...]}`` (ties all
    marked; a run whose cost is unknown is never the cheapest)."""
    done = [(index, run) for index, run in enumerate(runs) if run.completed]
    best: dict[str, list[int]] = {}
    for name, value in (
        ("fastest", lambda run: run.duration_ms),
        ("cheapest", lambda run: run.cost_usd),
        ("fewestSteps", lambda run: run.steps),
    ):
        scored = [(index, value(run)) for index, run in done if value(run) is not None]
        low = min((score for _, score in scored), default=None)
        best[name] = [index for index, score in scored if score == low] if len(done) > 1 else []
    return best


@dataclass
class Comparison:
    """The result of a comparison: every run's figures and their aligned steps.

    Attributes:
        expert: The Expert compared.
        query: The query every run got.
        runs: Every run (and the baseline, if any), in column order.
        alignment: The rows of :func:`~runtime.views.diff.align_jobs` over the runs that
            have a job (in ``runs`` order, one entry per such run).
        aligned: Which runs the alignment's entries are (indexes into ``runs``).
    """

    expert: str
    query: str
    runs: list[RunFigures]
    alignment: list[StepRow] = field(default_factory=list)
    aligned: list[int] = field(default_factory=list)

    @property
    def all_completed(self) -> bool:
        """Every run (the baseline aside) completed."""
        return all(run.completed for run in self.runs if not run.baseline)

    @property
    def first_divergence(self) -> int | None:
        return next((i for i, row in enumerate(self.alignment) if not row.same), None)

    def align(self, steps: Sequence[JobSteps | None]) -> None:
        """Align the runs' steps (``steps[i]`` of ``runs[i]``; ``None``: no job)."""
        self.aligned = [i for i, own in enumerate(steps) if own is not None]
        self.alignment = align_jobs([own for own in steps if own is not None])

    def alignment_json(self) -> list[dict[str, Any]]:
        """The rows as JSON, each with one entry per run (``null`` for a run without a
        job) so that entry ``k`` is always ``runs[k]``'s step."""
        width = len(self.runs)
        rows = []
        for row in self.alignment:
            steps: list[Any] = [None] * width
            for position, step in zip(self.aligned, row.steps):
                steps[position] = None if step is None else step.to_json()
            rows.append({"steps": steps, "same": row.same, "depth": row.depth})
        return rows

    def to_json(self) -> dict[str, Any]:
        """``{"expert", "query", "runs": [...], "alignment": [...], "firstDivergence",
        "best", "repeats"?}`` (``repeats`` when a model ran more than once)."""
        data: dict[str, Any] = {
            "expert": self.expert,
            "query": self.query,
            "runs": [run.to_json() for run in self.runs],
            "alignment": self.alignment_json(),
            "firstDivergence": self.first_divergence,
            "best": best_runs(self.runs),
        }
        if any(run.repeat > 1 for run in self.runs):
            data["repeats"] = [summary.to_json() for summary in repeat_summaries(self.runs)]
        return data
