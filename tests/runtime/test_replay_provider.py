"""The replay provider in-process: a job recorded with the scripted provider, replayed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from runtime.config import parse_config_text
from runtime.engine.api import run, settings_from_config
from runtime.errors import PerstackError
from runtime.model import Checkpoint, TextPart, ThinkingPart, UserMessage
from runtime.providers._replay_record import RecordedAnswer, RecordedGeneration
from runtime.providers.base import (
    GeneratedToolCall,
    GenerationRequest,
    GenerationResult,
    NullSink,
    ProviderError,
)
from runtime.providers.factory import create_provider
from runtime.providers.replay import MISMATCH, ReplayProvider
from runtime.providers.scripted import ScriptedProvider
from runtime.storage import FileStorage, MemoryStorage
from tests.helpers import Recorder
from tests.replay_compare import comparable_runs

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
"""


async def run_job(
    workspace: Path,
    provider: Any,
    *,
    config: str = TEAM,
    storage: Any = None,
    query: str = "Go",
    **overrides: Any,
) -> tuple[Checkpoint, Recorder]:
    workspace.mkdir(parents=True, exist_ok=True)
    parsed = parse_config_text(config, workspace / "perstack.toml").model_copy(update=overrides)
    setting = settings_from_config(parsed, "lead", query, env={}, workspace=workspace)
    recorder = Recorder()
    final = await run(setting, recorder, storage=storage or MemoryStorage(), provider=provider)
    return final, recorder


async def record_and_replay(
    tmp_path: Path, rules: list[dict[str, Any]], *, replay_config: str = TEAM, **overrides: Any
) -> tuple[Recorder, Recorder, Checkpoint, ReplayProvider]:
    storage = MemoryStorage()
    original, recorded = await run_job(
        tmp_path / "a", ScriptedProvider.from_rules(rules), storage=storage, **overrides
    )
    provider = ReplayProvider.from_storage(storage, original.job_id)
    final, replayed = await run_job(tmp_path / "b", provider, config=replay_config, **overrides)
    return recorded, replayed, final, provider


def call(name: str, **args: Any) -> dict[str, Any]:
    return {"name": name, "args": args}


def error(name: str, message: str, **fields: Any) -> dict[str, Any]:
    return {"name": name, "message": message, **fields}


BOTH = [call("alpha", query="A"), call("beta", query="B")]


# --------------------------------------------------------------------------- fidelity


async def test_a_job_with_delegation_retries_and_streams_replays_event_for_event(
    tmp_path: Path,
) -> None:
    rules = [
        {
            "expert": "lead",
            "turn": 1,
            "reasoning": "Alpha first, alone.",
            "signature": "sig-1",
            "text": "Starting.",
            "toolCalls": [call("alpha", query="Prepare")],
        },
        {"expert": "alpha", "turn": 1, "text": "prepared"},
        {
            "expert": "lead",
            "turn": 2,
            "times": 1,
            "error": {"name": "RateLimitError", "message": "slow down", "retryable": True},
        },
        {"expert": "lead", "turn": 2, "times": 1},  # an empty answer: retried by the loop
        {"expert": "lead", "turn": 2, "times": 1, "toolCalls": [call("todo")],
         "finishReason": "length"},  # fmt: skip
        {"expert": "lead", "turn": 3, "toolCalls": BOTH},
        {"expert": "beta", "turn": 1, "toolCalls": [call("todo", newTodos=["x"])]},
        {"expert": "beta", "turn": 2, "toolCalls": [call("todo", completedTodos=[0])]},
        {"expert": "beta", "turn": 3, "toolCalls": [call("attemptCompletion")]},
        {
            "expert": "beta",
            "purpose": "runResult",
            "times": 1,
            "error": {"name": "APIConnectionError", "message": "dropped", "retryable": True},
        },
        {"expert": "beta", "turn": 4, "toolCalls": [call("attemptCompletion")]},
        {"expert": "beta", "purpose": "runResult", "reasoning": "Short.", "text": "beta done"},
        {"expert": "lead", "turn": 4, "text": "Everything is finished."},
    ]
    recorded, replayed, final, provider = await record_and_replay(tmp_path, rules)
    assert final.status == "completed"
    types = [e.type for e in recorded.events]
    assert types.count("retry") == 4 and "attemptCompletion" in types
    assert comparable_runs(replayed.dicts()) == comparable_runs(recorded.dicts())
    # The answers keep their original tool-call ids and thinking signatures.
    first_call = replayed.of("callTools")[0].new_message.contents
    assert first_call[0] == ThinkingPart.model_validate(
        recorded.of("callTools")[0].new_message.contents[0].model_dump()
    )
    assert first_call[0].signature == "sig-1"
    assert [c.id for e in replayed.of("callTools") for c in e.tool_calls] == [
        c.id for e in recorded.of("callTools") for c in e.tool_calls
    ]
    assert replayed.of("completeRun")[-1].text == "Everything is finished."
    assert all(not g.answer.error or g.answer.error.retryable for g in provider.generations)


async def test_failures_replay_as_they_happened(tmp_path: Path) -> None:
    rules = [
        {"expert": "lead", "turn": 1, "toolCalls": BOTH},
        # alpha never answers anything: retries run out (maxRetries = 1).
        {"expert": "alpha"},
        # beta fails for good.
        {"expert": "beta", "error": error("AuthenticationError", "bad key", statusCode=401)},
        {"expert": "lead", "turn": 2, "error": error("Overloaded", "busy", retryable=True)},
    ]
    recorded, replayed, final, _ = await record_and_replay(tmp_path, rules, max_retries=1)
    assert final.status == "stoppedByError"
    assert comparable_runs(replayed.dicts()) == comparable_runs(recorded.dicts())
    errors = {e.expert_key: e.error for e in replayed.of("stopRunByError")}
    assert errors["alpha"].message == "Max retries (1) exceeded: No tool call or text generated"
    assert errors["beta"].name == "AuthenticationError" and errors["beta"].status_code == 401
    assert errors["lead"].message == "Max retries (1) exceeded: busy"


async def test_a_run_result_that_fails_for_good_replays(tmp_path: Path) -> None:
    rules = [
        {"expert": "lead", "turn": 1, "toolCalls": [call("attemptCompletion")]},
        {"expert": "lead", "purpose": "runResult", "text": "half", "error": error("E", "cut")},
    ]
    recorded, replayed, final, _ = await record_and_replay(tmp_path, rules)
    assert final.status == "stoppedByError"
    assert comparable_runs(replayed.dicts()) == comparable_runs(recorded.dicts())
    assert [e.delta for e in replayed.of("streamRunResult")] == ["half"]


async def test_replay_in_another_directory_at_another_time_matches(tmp_path: Path) -> None:
    rules = [{"expert": "lead", "text": "hello"}]
    recorded, replayed, final, provider = await record_and_replay(tmp_path, rules)
    assert final.status == "completed"
    sent = provider.requests[0].messages[0].contents[0].text
    original = recorded.of("startGeneration")[0].messages[0].contents[0].text
    assert f"- Working directory: {tmp_path / 'b'}" in sent
    assert f"- Working directory: {tmp_path / 'a'}" in original


# --------------------------------------------------------------------------- mismatches


async def test_a_changed_instruction_fails_with_a_diff(tmp_path: Path) -> None:
    rules = [{"expert": "lead", "text": "hello"}]
    changed = TEAM.replace('instruction = "You lead."', 'instruction = "You lead, boldly."')
    _, replayed, final, _ = await record_and_replay(tmp_path, rules, replay_config=changed)
    assert final.status == "stoppedByError"
    error = replayed.of("stopRunByError")[0].error
    assert error.name == MISMATCH and error.is_retryable is False
    lines = error.message.splitlines()
    assert lines[0].startswith("Replay of job ") and "of lead (step 1, toolCall" in lines[0]
    assert "--- recorded (lead, step 1, toolCall)" in lines
    assert "-You lead." in lines and "+You lead, boldly." in lines
    assert not any("Current time" in line for line in lines)


async def test_a_different_tool_result_shows_in_the_diff(tmp_path: Path) -> None:
    rules = [
        {"expert": "lead", "turn": 1, "toolCalls": [call("readTextFile", path="notes.txt")]},
        {"expert": "lead", "turn": 2, "text": "read it"},
    ]
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "notes.txt").write_text("first version\n")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "notes.txt").write_text("second version\n")
    _, replayed, final, _ = await record_and_replay(tmp_path, rules)
    assert final.status == "stoppedByError"
    message = replayed.of("stopRunByError")[0].error.message
    assert "--- recorded (lead, step 2, toolCall)" in message
    removed = [line for line in message.splitlines() if line.startswith("-(tool result)")]
    added = [line for line in message.splitlines() if line.startswith("+(tool result)")]
    assert "first version" in removed[0] and "second version" in added[0]


async def test_a_tool_no_longer_offered_is_named(tmp_path: Path) -> None:
    rules = [
        {"expert": "lead", "turn": 1, "toolCalls": [call("todo", newTodos=["a"])]},
        {"expert": "lead", "turn": 2, "text": "ok"},
    ]
    narrowed = TEAM.replace(
        'delegates = ["alpha", "beta"]',
        'delegates = ["alpha", "beta"]\n[experts."lead".skills."@perstack/base"]\n'
        'type = "mcpStdioSkill"\ncommand = "npx"\npackageName = "@perstack/base"\n'
        'omit = ["todo"]',
    )
    _, replayed, _, _ = await record_and_replay(tmp_path, rules, replay_config=narrowed)
    message = replayed.of("stopRunByError")[0].error.message
    assert "The recorded answer calls todo, which this run does not offer." in message


# ------------------------------------------------------------------------ matching


async def test_concurrent_requests_are_matched_by_content_not_order(tmp_path: Path) -> None:
    rules = [
        {"expert": "lead", "turn": 1, "toolCalls": BOTH},
        {"expert": "alpha", "text": "alpha answer"},
        {"expert": "beta", "text": "beta answer"},
        {"expert": "lead", "turn": 2, "text": "done"},
    ]
    storage = MemoryStorage()
    scripted = ScriptedProvider.from_rules(rules)
    original, _ = await run_job(tmp_path, scripted, storage=storage)
    replay = ReplayProvider.from_storage(storage, original.job_id)
    for request in reversed(scripted.requests):  # the last request first
        answer = await replay.generate(request, NullSink())
        expected = {"alpha": "alpha answer", "beta": "beta answer", "lead": "done"}
        if request.expert_key != "lead" or len(request.messages) > 2:
            assert answer.text == expected[request.expert_key]
    with pytest.raises(ProviderError) as raised:
        await replay.generate(scripted.requests[0], NullSink())
    assert raised.value.name == MISMATCH
    assert "every recorded answer has been used" in raised.value.message


def _generation(text: str) -> RecordedGeneration:
    messages = [UserMessage(contents=[TextPart(text="same question")])]
    answer = RecordedAnswer(result=GenerationResult(text=text), text_deltas=[text])
    return RecordedGeneration("lead", "toolCall", messages, answer, "run", 1)


def _same_question() -> GenerationRequest:
    return GenerationRequest(
        model="m",
        messages=[UserMessage(contents=[TextPart(text="same question")])],
        tools=[],
        reasoning_budget="low",
        timeout_ms=1000,
        expert_key="lead",
        job_id="new",
        run_id="r",
        step_number=1,
    )


async def test_identical_requests_are_answered_in_recorded_order() -> None:
    replay = ReplayProvider("job", [_generation("first"), _generation("second")])
    request = _same_question()
    assert (await replay.generate(request, NullSink())).text == "first"
    assert (await replay.generate(_same_question(), NullSink())).text == "second"
    assert replay.retry_delay(ProviderError("X", "y", is_retryable=True), 3) == 0.0


async def test_answers_are_copies_so_a_consumer_cannot_change_the_recording() -> None:
    generation = _generation("text")
    generation.answer.result.tool_calls = [GeneratedToolCall(id="c1", name="todo", args={"a": [1]})]
    replay = ReplayProvider("job", [generation])
    result = await replay.generate(_same_question(), NullSink())
    result.tool_calls[0].args["a"].append(2)
    assert generation.answer.result.tool_calls[0].args == {"a": [1]}


# ------------------------------------------------------------------------- factory


def test_factory_needs_a_stored_job(tmp_path: Path) -> None:
    with pytest.raises(PerstackError, match=r'needs \[provider.setting\] job = "<jobId>"'):
        create_provider("replay", {}, {}, tmp_path)
    with pytest.raises(PerstackError, match=r"Invalid job id"):
        create_provider("replay", {"job": "../up"}, {}, tmp_path)
    with pytest.raises(PerstackError, match=r"storage must be a directory path"):
        create_provider("replay", {"job": "j", "storage": 3}, {}, tmp_path)
    with pytest.raises(PerstackError) as raised:
        create_provider("replay", {"job": "nope", "storage": "store"}, {}, tmp_path)
    assert str(raised.value) == f"Replay: job nope not found in {tmp_path / 'store'}"


async def test_factory_reads_the_storage_setting_relative_to_the_config(tmp_path: Path) -> None:
    storage = FileStorage(tmp_path / "store")
    original, _ = await run_job(
        tmp_path / "w", ScriptedProvider.from_rules([{"text": "hi"}]), storage=storage
    )
    provider = create_provider("replay", {"job": original.job_id, "storage": "store"}, {}, tmp_path)
    assert isinstance(provider, ReplayProvider)
    assert [g.purpose for g in provider.generations] == ["toolCall"]
    env = {"PERSTACK_STORAGE_PATH": str(tmp_path / "store")}
    by_env = create_provider("replay", {"job": original.job_id}, env, tmp_path)
    assert isinstance(by_env, ReplayProvider)


def test_a_job_without_model_calls_is_refused(tmp_path: Path) -> None:
    (tmp_path / "jobs" / "empty" / "checkpoints").mkdir(parents=True)
    with pytest.raises(PerstackError, match="job empty has no recorded model calls to replay"):
        ReplayProvider.from_storage(FileStorage(tmp_path), "empty")
