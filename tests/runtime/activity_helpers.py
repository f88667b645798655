"""Real event streams for the activity, run-tree and timeline-filter tests.

Each helper runs a small job in-process on the scripted provider (no delays, in memory)
and returns every event it emitted, in order.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from runtime.config import parse_config_text
from runtime.engine.api import run, settings_from_config
from runtime.events import BaseEvent
from runtime.model import Checkpoint, InteractiveToolCallResult
from runtime.providers.scripted import ScriptedProvider
from runtime.storage import MemoryStorage

TEAM = """
[provider]
providerName = "scripted"
[provider.setting]
rules = []

[experts."lead"]
instruction = "You lead."
delegates = ["alpha", "beta"]

[experts."alpha"]
description = "Does alpha work"
instruction = "You do alpha."

[experts."beta"]
description = "Does beta work"
instruction = "You do beta."

[experts."asker"]
instruction = "You ask."
[experts."asker".skills.human]
type = "interactiveSkill"
[experts."asker".skills.human.tools.askUser]
description = "Ask the user"
inputJsonSchema = '{"type": "object", "properties": {"question": {"type": "string"}}}'
"""


def call(name: str, **args: Any) -> dict[str, Any]:
    """A scripted tool call."""
    return {"name": name, "args": args}


def usage(total_in: int, total_out: int) -> dict[str, int]:
    """Explicit token counts, so sums are predictable."""
    return {"inputTokens": total_in, "outputTokens": total_out}


async def job_events(
    tmp_path: Path,
    rules: list[dict[str, Any]],
    *,
    expert: str = "lead",
    query: str | None = "Go",
    storage: MemoryStorage | None = None,
    checkpoint: Checkpoint | None = None,
    answer: InteractiveToolCallResult | None = None,
    max_steps: int | None = None,
) -> tuple[list[BaseEvent], Checkpoint, MemoryStorage]:
    """Run one job segment chain and return (events, final checkpoint, storage)."""
    config = parse_config_text(TEAM, tmp_path / "perstack.toml")
    if max_steps is not None:
        config = config.model_copy(update={"max_steps": max_steps})
    setting = settings_from_config(
        config,
        expert,
        None if answer else query,
        env={},
        workspace=tmp_path,
        job_id=checkpoint.job_id if checkpoint else None,
        interactive_answer=answer,
    )
    events: list[BaseEvent] = []
    storage = storage or MemoryStorage()
    final = await run(
        setting,
        events.append,
        storage=storage,
        provider=ScriptedProvider.from_rules(rules),
        checkpoint=checkpoint,
    )
    return events, final, storage


PARALLEL_RULES = [
    {
        "expert": "lead",
        "turn": 1,
        "reasoning": "Split the work.",
        "usage": usage(100, 10),
        "toolCalls": [call("alpha", query="Do A"), call("beta", query="Do B")],
    },
    {"expert": "alpha", "turn": 1, "usage": usage(20, 2), "toolCalls": [call("todo", newTodos=["a"])]},
    {"expert": "alpha", "turn": 2, "text": "A is done", "usage": usage(30, 3)},
    {"expert": "beta", "turn": 1, "text": "B is done", "usage": usage(40, 4)},
    {"expert": "lead", "turn": 2, "usage": usage(200, 20), "toolCalls": [call("attemptCompletion")]},
    {"expert": "lead", "purpose": "runResult", "text": "All done.", "usage": usage(300, 30)},
]
