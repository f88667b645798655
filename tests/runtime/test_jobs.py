"""The loop and job runner in-process: delegation, interactive stops, resumption."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from runtime.config import parse_config_text
from runtime.engine.api import run, settings_from_config
from runtime.events import BaseEvent
from runtime.model import Checkpoint, ExpertMessage, InteractiveToolCallResult, ToolMessage
from runtime.providers.scripted import ScriptedProvider
from runtime.storage import MemoryStorage
from tests.helpers import Recorder

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
delegates = ["gamma"]

[experts."gamma"]
description = "Does gamma work"
instruction = "You do gamma."
"""


async def run_team(
    tmp_path: Path,
    rules: list[dict[str, Any]],
    query: str = "Go",
    *,
    config: str = TEAM,
    expert: str = "lead",
    storage: MemoryStorage | None = None,
    checkpoint: Checkpoint | None = None,
    answer: InteractiveToolCallResult | None = None,
    job_id: str | None = None,
    **overrides: Any,
) -> tuple[Checkpoint, Recorder, MemoryStorage, ScriptedProvider]:
    parsed = parse_config_text(config, tmp_path / "perstack.toml")
    parsed = parsed.model_copy(update=overrides)
    setting = settings_from_config(
        parsed,
        expert,
        None if answer else query,
        env={},
        workspace=tmp_path,
        job_id=job_id or (checkpoint.job_id if checkpoint else None),
        interactive_answer=answer,
    )
    provider = ScriptedProvider.from_rules(rules)
    recorder = Recorder()
    storage = storage or MemoryStorage()
    final = await run(setting, recorder, storage=storage, provider=provider, checkpoint=checkpoint)
    return final, recorder, storage, provider


def call(name: str, **args: Any) -> dict[str, Any]:
    return {"name": name, "args": args}


async def test_sequential_delegation_returns_the_child_result_to_the_parent(tmp_path: Path) -> None:
    rules = [
        {"expert": "lead", "turn": 1, "toolCalls": [call("alpha", query="Do A")]},
        {"expert": "alpha", "turn": 1, "text": "A is done"},
        {"expert": "lead", "turn": 2, "text": "Team finished"},
    ]
    final, recorder, storage, provider = await run_team(tmp_path, rules)
    assert final.status == "completed"
    assert final.expert.key == "lead"
    # The child saw only its query: instruction + the query, nothing of the parent.
    child_request = next(r for r in provider.requests if r.expert_key == "alpha")
    assert [m.type for m in child_request.messages] == ["instructionMessage", "userMessage"]
    assert child_request.messages[1].contents[0].text == "Do A"
    # The parent got the child's answer as the delegate tool's result.
    lead_second = [r for r in provider.requests if r.expert_key == "lead"][1]
    tool_message = lead_second.messages[-1]
    assert isinstance(tool_message, ToolMessage)
    assert tool_message.contents[0].contents[0].text == "A is done"
    # Job-wide, continuous step numbers across runs: lead 1, alpha 2, lead 3 (+ resume step).
    starts = [(e.expert_key, e.step_number) for e in recorder.of("startRun")]
    assert starts == [("lead", 1), ("alpha", 2), ("lead", 3)]
    stop = recorder.of("stopRunByDelegate")[0]
    assert stop.checkpoint.delegate_to[0].query == "Do A"
    child_start = recorder.of("startRun")[1]
    assert child_start.initial_checkpoint.delegated_by.checkpoint_id == stop.checkpoint.id
    job = storage.retrieve_job(final.job_id)
    assert job is not None and job.status == "completed" and job.total_steps == final.step_number


async def test_parallel_delegates_run_concurrently(tmp_path: Path) -> None:
    rules = [
        {
            "expert": "lead",
            "turn": 1,
            "toolCalls": [call("alpha", query="A"), call("beta", query="B")],
        },
        {"expert": "alpha", "turn": 1, "delayMs": 200, "text": "alpha result"},
        {"expert": "beta", "turn": 1, "delayMs": 200, "text": "beta result"},
        {"expert": "lead", "turn": 2, "text": "both done"},
    ]
    final, recorder, _, provider = await run_team(tmp_path, rules)
    assert final.status == "completed"
    types_by_expert = [(e.type, getattr(e, "expert_key", None)) for e in recorder.events]
    # Both children have started generating before either completes: truly concurrent.
    first_complete = next(
        i for i, (t, k) in enumerate(types_by_expert) if t == "completeRun" and k != "lead"
    )
    started = {k for t, k in types_by_expert[:first_complete] if t == "startGeneration"}
    assert {"alpha", "beta"} <= started
    # The parent received both answers, in call order.
    last_lead = [r for r in provider.requests if r.expert_key == "lead"][-1]
    results = last_lead.messages[-1].contents
    assert [r.contents[0].text for r in results] == ["alpha result", "beta result"]
    # Parallel children start at the same step; the parent resumes after the later one.
    child_starts = {e.expert_key: e.step_number for e in recorder.of("startRun")[1:3]}
    assert child_starts == {"alpha": 2, "beta": 2}


async def test_a_failed_delegate_answers_its_parent_with_an_error(tmp_path: Path) -> None:
    rules = [
        {"expert": "lead", "turn": 1, "toolCalls": [call("alpha", query="A")]},
        {"expert": "alpha", "error": {"name": "APIError", "message": "model exploded"}},
        {"expert": "lead", "turn": 2, "text": "alpha failed, I handled it"},
    ]
    final, recorder, storage, provider = await run_team(tmp_path, rules)
    assert final.status == "completed"
    child_stop = recorder.of("stopRunByError")[0]
    assert child_stop.expert_key == "alpha"
    assert child_stop.checkpoint.status == "stoppedByError"
    result = [r for r in provider.requests if r.expert_key == "lead"][-1].messages[-1].contents[0]
    assert result.is_error is True
    assert result.contents[0].text == "Delegation failed: model exploded"
    # The failed child run is stored.
    assert storage.retrieve_checkpoint(final.job_id, child_stop.checkpoint.id) is not None


async def test_nested_delegation_unwinds_through_every_parent(tmp_path: Path) -> None:
    rules = [
        {"expert": "lead", "turn": 1, "toolCalls": [call("beta", query="B")]},
        {"expert": "beta", "turn": 1, "toolCalls": [call("gamma", query="G")]},
        {"expert": "gamma", "turn": 1, "text": "gamma says hi"},
        {"expert": "beta", "turn": 2, "text": "beta relays: gamma says hi"},
        {"expert": "lead", "turn": 2, "text": "done"},
    ]
    final, recorder, _, provider = await run_team(tmp_path, rules)
    assert final.status == "completed" and final.expert.key == "lead"
    starts = [e.expert_key for e in recorder.of("startRun")]
    assert starts == ["lead", "beta", "gamma", "beta", "lead"]
    beta_second = [r for r in provider.requests if r.expert_key == "beta"][-1]
    assert beta_second.messages[-1].contents[0].contents[0].text == "gamma says hi"


INTERACTIVE = """
[provider]
providerName = "scripted"
[provider.setting]
rules = []

[experts."asker"]
instruction = "Ask the user."
[experts."asker".skills."ask"]
type = "interactiveSkill"
[experts."asker".skills."ask".tools."askUser"]
description = "Ask the user a question"
inputJsonSchema = '{"type":"object","properties":{"question":{"type":"string"}}}'
"""


async def test_interactive_tool_stops_the_run_and_an_answer_resumes_it(tmp_path: Path) -> None:
    rules = [
        {"expert": "asker", "turn": 1, "toolCalls": [call("askUser", question="Name?")]},
        {"expert": "asker", "turn": 2, "text": "Hello, Ada"},
    ]
    storage = MemoryStorage()
    stopped, recorder, _, _ = await run_team(
        tmp_path, rules, config=INTERACTIVE, expert="asker", storage=storage
    )
    assert stopped.status == "stoppedByInteractiveTool"
    assert recorder.types[-2:] == ["stopRunByInteractiveTool", "skillDisconnected"]
    assert recorder.of("callInteractiveTool")[0].tool_call.tool_name == "askUser"
    pending = stopped.pending_tool_calls[0]
    assert storage.retrieve_job(stopped.job_id).status == "stoppedByInteractiveTool"

    answer = InteractiveToolCallResult(
        tool_call_id=pending.id, tool_name="askUser", skill_name="ask", text="Ada"
    )
    final, recorder2, _, provider = await run_team(
        tmp_path,
        rules,
        config=INTERACTIVE,
        expert="asker",
        storage=storage,
        checkpoint=stopped,
        answer=answer,
    )
    assert final.status == "completed" and final.job_id == stopped.job_id
    assert recorder2.of("startRun")[0].initial_checkpoint.status == "stoppedByInteractiveTool"
    assert "finishAllToolCalls" in recorder2.types
    sent = provider.requests[-1].messages[-1].contents[0]
    assert sent.tool_name == "askUser" and sent.contents[0].text == "Ada"


async def test_delegates_never_get_interactive_skills(tmp_path: Path) -> None:
    config = INTERACTIVE + '\n[experts."boss"]\ninstruction = "Boss."\ndelegates = ["asker"]\n'
    rules = [
        {"expert": "boss", "turn": 1, "toolCalls": [call("asker", query="Q")]},
        {"expert": "asker", "turn": 1, "text": "no one to ask"},
        {"expert": "boss", "turn": 2, "text": "ok"},
    ]
    final, _, _, provider = await run_team(tmp_path, rules, config=config, expert="boss")
    assert final.status == "completed"
    asker_tools = {t.name for t in next(r for r in provider.requests if r.expert_key == "asker").tools}
    assert "askUser" not in asker_tools and "readTextFile" in asker_tools


async def test_continue_after_completion_keeps_history_and_step_count(tmp_path: Path) -> None:
    rules = [
        {"expert": "alpha", "queryContains": "first", "turn": 1, "text": "first answer"},
        {"expert": "alpha", "turn": 2, "text": "second answer"},
    ]
    storage = MemoryStorage()
    first, _, _, _ = await run_team(tmp_path, rules, "first", expert="alpha", storage=storage)
    second, recorder, _, provider = await run_team(
        tmp_path, rules, "and again", expert="alpha", storage=storage, checkpoint=first
    )
    assert second.status == "completed" and second.job_id == first.job_id
    assert second.step_number == first.step_number + 1
    sent = [m.type for m in provider.requests[-1].messages]
    assert sent == ["instructionMessage", "userMessage", "expertMessage", "userMessage"]
    assert isinstance(second.messages[-1], ExpertMessage)


async def test_attempt_completion_with_remaining_todos_goes_back_to_the_model(
    tmp_path: Path,
) -> None:
    rules = [
        {"expert": "alpha", "turn": 1, "toolCalls": [call("todo", newTodos=["write", "check"])]},
        {"expert": "alpha", "turn": 2, "toolCalls": [call("attemptCompletion")]},
        {"expert": "alpha", "turn": 3, "toolCalls": [call("todo", completedTodos=[0, 1])]},
        {"expert": "alpha", "turn": 4, "toolCalls": [call("attemptCompletion")]},
        {"expert": "alpha", "purpose": "runResult", "text": "all todos done"},
    ]
    final, recorder, _, provider = await run_team(tmp_path, rules, expert="alpha")
    assert final.status == "completed"
    assert len(recorder.of("attemptCompletion")) == 1  # the first attempt was refused
    refused = provider.requests[2].messages[-1].contents[0].contents[0].text
    assert "remainingTodos" in refused
    assert recorder.of("completeRun")[0].text == "all todos done"
    # The todo list is per run and persisted with the checkpoint (D5).
    assert final.metadata["todos"] == [
        {"id": 0, "title": "write", "completed": True},
        {"id": 1, "title": "check", "completed": True},
    ]


async def test_siblings_of_attempt_completion_run_first(tmp_path: Path) -> None:
    rules = [
        {
            "expert": "alpha",
            "turn": 1,
            "toolCalls": [
                call("attemptCompletion"),
                call("writeTextFile", path="out.txt", text="written"),
            ],
        },
        {"expert": "alpha", "purpose": "runResult", "text": "wrote it"},
    ]
    final, recorder, _, provider = await run_team(tmp_path, rules, expert="alpha")
    assert final.status == "completed"
    assert (tmp_path / "out.txt").read_text() == "written"
    results = provider.requests[-1].messages[-1].contents
    assert [r.tool_name for r in results] == ["attemptCompletion", "writeTextFile"]


async def test_max_steps_counts_job_wide_across_delegation(tmp_path: Path) -> None:
    rules = [
        {"expert": "lead", "turn": 1, "toolCalls": [call("alpha", query="A")]},
        {"expert": "alpha", "toolCalls": [call("todo", newTodos=["x"])]},
    ]
    final, recorder, storage, _ = await run_team(tmp_path, rules, max_steps=4)
    assert final.status == "stoppedByExceededMaxSteps"
    assert final.expert.key == "alpha" and final.step_number == 4
    assert storage.retrieve_job(final.job_id).status == "stoppedByMaxSteps"


async def test_generation_timeout_is_retried(tmp_path: Path) -> None:
    rules = [
        {"expert": "alpha", "turn": 1, "times": 1, "delayMs": 5000, "text": "too late"},
        {"expert": "alpha", "turn": 1, "text": "in time"},
    ]
    final, recorder, _, _ = await run_team(tmp_path, rules, expert="alpha", timeout=50)
    assert final.status == "completed"
    retry = recorder.of("retry")[0]
    assert "TimeoutError" in retry.reason
    assert recorder.of("completeRun")[0].text == "in time"


async def test_cancelling_a_run_leaves_a_resumable_job(tmp_path: Path) -> None:
    rules = [
        {"expert": "alpha", "turn": 1, "toolCalls": [call("todo", newTodos=["a"])]},
        {"expert": "alpha", "turn": 2, "delayMs": 60_000, "text": "never"},
        {"expert": "alpha", "text": "resumed fine"},
    ]
    storage = MemoryStorage()
    recorder = Recorder()
    parsed = parse_config_text(TEAM, tmp_path / "perstack.toml")
    setting = settings_from_config(parsed, "alpha", "go", env={}, workspace=tmp_path)
    provider = ScriptedProvider.from_rules(rules)
    waiting = asyncio.Event()

    def listener(event: BaseEvent) -> None:
        recorder(event)
        if event.type == "startGeneration" and event.step_number == 2:
            waiting.set()

    task = asyncio.create_task(run(setting, listener, storage=storage, provider=provider))
    await waiting.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert recorder.types[-1] == "skillDisconnected"  # skills closed on the way out
    assert storage.retrieve_job(setting.job_id).status == "running"
    last = storage.latest_checkpoint(setting.job_id)
    assert last is not None and last.step_number == 1
    final, _, _, _ = await run_team(
        tmp_path, rules[2:], "continue", expert="alpha", storage=storage, checkpoint=last
    )
    assert final.status == "completed" and final.job_id == setting.job_id


async def test_simple_run_event_sequence_in_process(tmp_path: Path) -> None:
    rules = [
        {"expert": "alpha", "turn": 1, "toolCalls": [call("attemptCompletion")]},
        {"expert": "alpha", "purpose": "runResult", "reasoning": "sum up", "text": "done"},
    ]
    final, recorder, _, _ = await run_team(tmp_path, rules, expert="alpha")
    compact = [t for t in recorder.types if t not in ("streamReasoning", "streamRunResult")]
    assert compact == [
        "initializeRuntime",
        "skillConnected",
        "startRun",
        "startGeneration",
        "callTools",
        "attemptCompletion",
        "startStreamingReasoning",
        "completeStreamingReasoning",
        "startStreamingRunResult",
        "completeStreamingRunResult",
        "completeRun",
        "skillDisconnected",
    ]
    assert final.status == "completed" and final.step_number == 1


async def test_retries_exhausted_in_process(tmp_path: Path) -> None:
    rules = [{"error": {"name": "Overloaded", "message": "busy", "retryable": True}}]
    final, recorder, storage, provider = await run_team(
        tmp_path, rules, expert="alpha", max_retries=3
    )
    assert final.status == "stoppedByError"
    assert len(recorder.of("retry")) == 3 and len(provider.requests) == 4
    assert final.error.message == "Max retries (3) exceeded: busy"
    # Each retry consumed a step and appended the reason for the model to see.
    assert final.step_number == 4
    assert storage.retrieve_job(final.job_id).status == "stoppedByError"


async def test_non_retryable_error_stops_at_once(tmp_path: Path) -> None:
    rules = [{"error": {"name": "BadRequest", "message": "invalid", "statusCode": 400}}]
    final, recorder, _, _ = await run_team(tmp_path, rules, expert="alpha")
    assert final.status == "stoppedByError" and recorder.of("retry") == []
    assert final.error.model_dump() == {
        "name": "BadRequest",
        "message": "invalid",
        "status_code": 400,
        "is_retryable": False,
    }


async def test_unknown_tool_in_process(tmp_path: Path) -> None:
    rules = [
        {"expert": "alpha", "turn": 1, "toolCalls": [call("teleport", to="mars")]},
        {"expert": "alpha", "turn": 2, "text": "cannot teleport"},
    ]
    final, recorder, _, _ = await run_team(tmp_path, rules, expert="alpha")
    assert final.status == "completed"
    result = recorder.of("resolveToolResults")[0].tool_results[0]
    assert result.skill_name == "unknown" and result.is_error
    assert result.result[0].text.startswith("Tool teleport not found. Available tools: ")


async def test_resume_from_an_earlier_checkpoint_in_process(tmp_path: Path) -> None:
    rules = [
        {"expert": "alpha", "turn": "1-2", "toolCalls": [call("todo", newTodos=["t"])]},
        {"expert": "alpha", "text": "end"},
    ]
    storage = MemoryStorage()
    first, recorder, _, _ = await run_team(tmp_path, rules, expert="alpha", storage=storage)
    step_one = recorder.of("continueToNextStep")[0].checkpoint
    again, recorder2, _, provider = await run_team(
        tmp_path, rules, "again", expert="alpha", storage=storage, checkpoint=step_one
    )
    assert again.job_id == first.job_id and again.status == "completed"
    assert recorder2.of("startRun")[0].step_number == 2
    # The todo list is restored as it was at that checkpoint (D5): its one todo plus the one
    # added after resuming; the first run's later todo is not there.
    assert first.metadata["todos"] == [
        {"id": 0, "title": "t", "completed": False},
        {"id": 1, "title": "t", "completed": False},
    ]
    assert again.metadata["todos"] == first.metadata["todos"]
    assert step_one.metadata["todos"] == [{"id": 0, "title": "t", "completed": False}]
