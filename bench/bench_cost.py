"""What the cost figures add per step: pricing a job's events for the views.

Run: ``uv run python bench/bench_cost.py [--steps N] [--rounds N]``.

A scripted job of ``--steps`` tool-calling steps (default 500, one generation each plus
the final answer) is run once in memory and its events kept. Then, in interleaved rounds
(each variant once per round, so all share the machine's load), fresh timeline and tree
views (``ActivityLog`` + ``RunTree``, what the workbench's ``JobView`` feeds) are fed every
event:

* ``none``: no :class:`~runtime.views.cost.CostMeter` (the views without money figures);
* ``offline``: the job's own runs (scripted provider): every generation costs 0;
* ``toml``: the runs priced from ``perstack.toml``-style ``[prices]``;
* ``library``: the runs priced by genai-prices' bundled table as
  ``anthropic:claude-sonnet-4-5`` (tiers, cache reads: the slowest path).

Reported: the median over rounds of (variant - none) / steps, in ms a step [<= 0.2 ms];
the meter alone (pricing every event, no views), which is the same figure without the
noise of a difference; and the one-off cost of loading the price library's table on the
first priced generation.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from runtime.config import parse_config_text
from runtime.engine.api import run, settings_from_config
from runtime.events import BaseEvent
from runtime.providers.scripted import ScriptedProvider
from runtime.storage import MemoryStorage
from runtime.views.activity import ActivityLog
from runtime.views.cost import CostMeter, ModelPrice, PriceBook, RunModel
from runtime.views.runtree import RunTree

CONFIG = """
model = "scripted"
[provider]
providerName = "scripted"
[provider.setting]
rules = []

[experts."looper"]
instruction = "Loop."
"""


def record_job(steps: int) -> list[BaseEvent]:
    """The events of a ``steps``-step scripted job (one todo call a step, then an answer)."""
    rules = [
        {
            "expert": "looper",
            "turn": f"<{steps}",
            "usage": {"inputTokens": 12_000, "outputTokens": 300, "cachedInputTokens": 9_000},
            "toolCalls": [{"name": "todo", "args": {"newTodos": ["loop"]}}],
        },
        {"expert": "looper", "text": "done"},
    ]
    with tempfile.TemporaryDirectory(prefix="perstack-bench-cost-") as workspace:
        config = parse_config_text(CONFIG, Path(workspace) / "perstack.toml")
        config = config.model_copy(update={"max_steps": steps + 10})
        setting = settings_from_config(config, "looper", "Go", env={}, workspace=Path(workspace))
        events: list[BaseEvent] = []
        asyncio.run(
            run(
                setting,
                events.append,
                storage=MemoryStorage(),
                provider=ScriptedProvider.from_rules(rules),
            )
        )
    return events


def make_meter(variant: str, events: list[BaseEvent]) -> tuple[CostMeter | None, list[BaseEvent]]:
    """The meter of a variant, and the events to feed it (the priced ones drop the
    ``initializeRuntime`` events that would say "scripted")."""
    if variant == "none":
        return None, events
    if variant == "offline":
        return CostMeter(), events
    run_ids = {event.run_id for event in events}
    others = [event for event in events if event.type != "initializeRuntime"]
    if variant == "toml":
        price = ModelPrice(input=Decimal(3), output=Decimal(15), cached=Decimal("0.3"))
        meter = CostMeter(PriceBook({"anthropic:private-model": price}))
        meter.set_run_models({run_id: RunModel("anthropic", "private-model") for run_id in run_ids})
        return meter, others
    meter = CostMeter(PriceBook())
    meter.set_run_models({run_id: RunModel("anthropic", "claude-sonnet-4-5") for run_id in run_ids})
    return meter, others


def feed(variant: str, events: list[BaseEvent]) -> float:
    meter, fed = make_meter(variant, events)
    log, tree = ActivityLog(meter), RunTree(meter)
    started = time.perf_counter()
    for event in fed:
        log.feed(event)
        tree.feed(event)
    elapsed = time.perf_counter() - started
    if meter is not None:
        root = tree.nodes[tree.root_ids[0]]
        assert root.total_cost.known and root.total_cost.generations > 0, root.total_cost
    return elapsed


def meter_only(variant: str, events: list[BaseEvent]) -> float:
    """Pricing alone, without the views: the meter fed every event once."""
    meter, fed = make_meter(variant, events)
    assert meter is not None
    started = time.perf_counter()
    for event in fed:
        meter.feed(event)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    events = record_job(args.steps)
    generations = sum(1 for e in events if e.type in ("callTools", "completeRun", "retry"))
    print(f"{args.steps}-step job: {len(events)} events, {generations} generations")

    started = time.perf_counter()
    feed("library", events[:60])  # the first priced generation loads the library's table
    print(
        f"loading the price library (once per process): {(time.perf_counter() - started) * 1000:.0f} ms"
    )

    variants = ("none", "offline", "toml", "library")
    times: dict[str, list[float]] = {variant: [] for variant in variants}
    alone: dict[str, list[float]] = {variant: [] for variant in variants[1:]}
    for _ in range(args.rounds):
        for variant in variants:
            times[variant].append(feed(variant, events))
            if variant != "none":
                alone[variant].append(meter_only(variant, events))
    base = statistics.median(times["none"])
    print(f"views without money figures: {base / args.steps * 1000:.3f} ms a step")
    for variant in variants[1:]:
        deltas = [(t - n) / args.steps * 1000 for t, n in zip(times[variant], times["none"])]
        pricing = statistics.median(alone[variant]) / args.steps * 1000
        print(
            f"  + cost figures ({variant:>7}): {statistics.median(deltas):.3f} ms a step "
            f"(rounds {min(deltas):.3f} to {max(deltas):.3f}) [<= 0.2 ms]; "
            f"pricing alone {pricing:.4f} ms a step"
        )


if __name__ == "__main__":
    main()
