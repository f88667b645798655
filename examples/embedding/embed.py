"""Run an Expert from Python: events as they happen, the final checkpoint at the end.

    uv run python examples/embedding/embed.py [workspace]

The job is kept in memory (nothing is written under perstack/); the Expert's own file
writes go to the workspace (a temporary directory unless one is given).
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

from runtime import MemoryStorage, load_config, run, settings_from_config

HERE = Path(__file__).parent


def on_event(event) -> None:
    """Print a line per state event; streamed text arrives as deltas."""
    if event.type == "callTools":
        names = ", ".join(call.tool_name for call in event.tool_calls)
        print(f"step {event.step_number}: {event.expert_key} calls {names}")
    elif event.type == "streamRunResult":
        print(event.delta, end="", flush=True)
    elif event.type == "completeRun":
        print(f"\nstep {event.step_number}: completed")


async def main(workspace: Path) -> None:
    config = load_config(HERE / "perstack.toml")
    setting = settings_from_config(config, "greeter", "Please greet Ada", workspace=workspace)
    storage = MemoryStorage()
    checkpoint = await run(setting, on_event, storage=storage)
    print(f"status: {checkpoint.status}, steps: {checkpoint.step_number}")
    print(f"greeting.txt: {(workspace / 'greeting.txt').read_text()}")
    print(f"events kept in memory: {len(storage.list_events(checkpoint.job_id))}")


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp())
    asyncio.run(main(target))
