"""Histories kept in wire form between steps: only new messages are mapped, bodies unchanged."""

from __future__ import annotations

from typing import Any

import orjson

from runtime.model import (
    ExpertMessage,
    InstructionMessage,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    ToolMessage,
    ToolResultPart,
    UserMessage,
)
from runtime.providers import anthropic_mapping, openai_mapping
from runtime.providers._wire import HistoryEncoder
from runtime.providers.base import GenerationRequest


def request(messages: list[Any], model: str = "claude-sonnet-4-6") -> GenerationRequest:
    return GenerationRequest(
        model=model,
        messages=messages,
        tools=[],
        reasoning_budget="low",
        timeout_ms=1000,
        expert_key="e",
        job_id="j",
        run_id="r",
        step_number=1,
    )


def step(n: int) -> list[Any]:
    call = ToolCallPart(tool_call_id=f"c{n}", tool_name="readTextFile", args={"path": "a"})
    result = ToolResultPart(
        tool_call_id=f"c{n}", tool_name="readTextFile", contents=[TextPart(text="A")]
    )
    thinking = ThinkingPart(thinking=f"step {n}", signature=f"sig{n}")
    return [ExpertMessage(contents=[thinking, call]), ToolMessage(contents=[result])]


def test_encoder_adds_only_new_messages_and_rebuilds_on_a_different_history() -> None:
    added: list[str] = []
    encoder: HistoryEncoder[list[str]] = HistoryEncoder(
        list, lambda state, m: (state.append(m), added.append(m))
    )
    first = ["instruction", "query"]
    assert encoder.state_for(first) == ["instruction", "query"]
    longer = [*first, "answer"]
    assert encoder.state_for(longer) == ["instruction", "query", "answer"]
    assert added == ["instruction", "query", "answer"]  # nothing mapped twice

    # Same first message, different continuation (a retry replaced a message): rebuilt.
    other = [first[0], "other query"]
    assert encoder.state_for(other) == ["instruction", "other query"]


def test_encoder_keeps_one_state_per_run() -> None:
    encoder: HistoryEncoder[list[str]] = HistoryEncoder(list, lambda state, m: state.append(m))
    parent, child = ["parent instruction", "q"], ["child instruction", "q2"]
    encoder.state_for(parent)
    encoder.state_for(child)
    assert encoder.state_for([*parent, "resumed"]) == ["parent instruction", "q", "resumed"]


def test_incremental_anthropic_bodies_equal_fresh_ones() -> None:
    history = [
        InstructionMessage(contents=[TextPart(text="sys")], cache=True),
        UserMessage(contents=[TextPart(text="go")]),
    ]
    encoder = anthropic_mapping.new_encoder()
    for n in range(3):
        history += step(n)
        history.append(UserMessage(contents=[TextPart(text=f"retry {n}")]))  # merges into a turn
        incremental = anthropic_mapping.encode_body(request(history), encoder)
        fresh_encoder = anthropic_mapping.new_encoder()
        fresh = anthropic_mapping.encode_body(request(list(history)), fresh_encoder)
        assert orjson.loads(incremental) == orjson.loads(fresh)
    turns = orjson.loads(incremental)["messages"]
    assert [t["role"] for t in turns] == ["user", *["assistant", "user"] * 3]


def test_incremental_openai_bodies_equal_fresh_ones() -> None:
    history = [
        InstructionMessage(contents=[TextPart(text="sys")], cache=True),
        UserMessage(contents=[TextPart(text="go")]),
    ]
    encoders = openai_mapping.WireEncoders()
    for n in range(3):
        history += step(n)
        for model in ("gpt-4.1", "gpt-5"):  # system and developer instruction roles
            incremental = openai_mapping.encode_body(request(history, model), "openai", encoders)
            fresh = openai_mapping.encode_body(
                request(list(history), model), "openai", openai_mapping.WireEncoders()
            )
            assert orjson.loads(incremental) == orjson.loads(fresh)
    assert orjson.loads(incremental)["messages"][0]["role"] == "developer"


def test_tool_definitions_are_encoded_once_per_definition() -> None:
    from runtime.providers._wire import ToolEncoder
    from runtime.providers.base import ToolDefinition

    encoded: list[str] = []

    def encode(tool: ToolDefinition) -> dict[str, Any]:
        encoded.append(tool.name)
        return {"name": tool.name}

    tools = ToolEncoder(encode, keep=2)
    read = ToolDefinition("read", "Read", {"type": "object"})
    write = ToolDefinition("write", "Write", {"type": "object"})
    for _ in range(3):
        body = orjson.dumps(tools.encoded([read, write]))
    assert orjson.loads(body) == [{"name": "read"}, {"name": "write"}]
    assert encoded == ["read", "write"]
    # An equal but new definition (a skill that rebuilt its tools) is encoded afresh; past
    # `keep` definitions the cache starts over rather than grow.
    tools.encoded([ToolDefinition("read", "Read", {"type": "object"})])
    tools.encoded([read])
    assert encoded == ["read", "write", "read", "read"]
