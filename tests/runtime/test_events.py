"""Every event type round-trips through its JSON form with upstream's field names."""

from __future__ import annotations

import orjson
import pytest

from runtime import events as ev
from runtime.model import (
    Checkpoint,
    CheckpointError,
    ExpertMessage,
    ExpertRef,
    Step,
    TextPart,
    ThinkingPart,
    ToolCall,
    ToolCallPart,
    ToolResult,
    Usage,
    UserMessage,
)

RUN = {"job_id": "job1", "run_id": "run1", "expert_key": "writer", "step_number": 3}
RUNTIME = {"job_id": "job1", "run_id": "run1"}
USAGE = Usage(input_tokens=10, output_tokens=5, total_tokens=15)
CALL = ToolCall(id="call1", skill_name="@perstack/base", tool_name="readTextFile", args={"path": "a"})
RESULT = ToolResult(
    id="call1", skill_name="@perstack/base", tool_name="readTextFile", result=[TextPart(text="{}")]
)
MESSAGE = ExpertMessage(
    contents=[
        ThinkingPart(thinking="hmm", signature="sig"),
        ToolCallPart(tool_call_id="call1", tool_name="readTextFile", args={"path": "a"}),
    ]
)
CHECKPOINT = Checkpoint(
    id="cp1",
    job_id="job1",
    run_id="run1",
    status="proceeding",
    step_number=3,
    messages=[UserMessage(contents=[TextPart(text="hi")]), MESSAGE],
    expert=ExpertRef(key="writer", name="writer", version="1.0.0"),
    usage=USAGE,
    pending_tool_calls=[CALL],
)
STEP = Step(step_number=3, new_messages=[MESSAGE], usage=USAGE, started_at=1, finished_at=2)

SAMPLES: dict[str, dict] = {
    "startRun": {"initial_checkpoint": CHECKPOINT, "input_messages": CHECKPOINT.messages},
    "startGeneration": {"messages": CHECKPOINT.messages},
    "retry": {"reason": "{}", "new_messages": [], "usage": Usage()},
    "callTools": {"new_message": MESSAGE, "tool_calls": [CALL], "usage": USAGE},
    "callInteractiveTool": {"new_message": MESSAGE, "tool_call": CALL, "usage": USAGE},
    "callDelegate": {"new_message": MESSAGE, "tool_calls": [CALL], "usage": USAGE},
    "resolveToolResults": {"tool_results": [RESULT]},
    "attemptCompletion": {"tool_result": RESULT},
    "finishToolCall": {"new_messages": [MESSAGE]},
    "finishAllToolCalls": {"new_messages": [MESSAGE]},
    "resumeToolCalls": {"pending_tool_calls": [CALL], "partial_tool_results": [RESULT]},
    "continueToNextStep": {"checkpoint": CHECKPOINT, "step": STEP, "next_checkpoint": CHECKPOINT},
    "stopRunByInteractiveTool": {"checkpoint": CHECKPOINT, "step": STEP},
    "stopRunByDelegate": {"checkpoint": CHECKPOINT, "step": STEP},
    "stopRunByExceededMaxSteps": {"checkpoint": CHECKPOINT, "step": STEP},
    "stopRunByError": {
        "checkpoint": CHECKPOINT,
        "step": STEP,
        "error": CheckpointError(name="APIError", message="boom", status_code=500),
    },
    "completeRun": {"checkpoint": CHECKPOINT, "step": STEP, "text": "done", "usage": USAGE},
    "startStreamingReasoning": {},
    "streamReasoning": {"delta": "th"},
    "completeStreamingReasoning": {"text": "thinking"},
    "startStreamingRunResult": {},
    "streamRunResult": {"delta": "do"},
    "completeStreamingRunResult": {"text": "done"},
    "initializeRuntime": {
        "runtime_version": "0.1.0",
        "expert_name": "writer",
        "experts": ["writer"],
        "model": "m",
        "max_retries": 5,
        "timeout": 1000,
        "query": "hi",
    },
    "skillStarting": {"skill_name": "fs", "command": "npx", "args": ["-y", "x"]},
    "skillConnected": {"skill_name": "fs", "server_info": {"name": "x", "version": "1"}},
    "skillStderr": {"skill_name": "fs", "message": "warn"},
    "skillDisconnected": {"skill_name": "fs"},
    "dockerBuildProgress": {"stage": "building", "service": "s", "message": "m"},
    "dockerContainerStatus": {"status": "running", "service": "s"},
    "proxyAccess": {"action": "blocked", "domain": "x.com", "port": 443},
    "warning": {"message": "drift", "skill_name": "fs"},
    "skillProgress": {
        "skill_name": "fs", "tool_call_id": "call1", "tool_name": "slow", "progress": 1,
        "total": 4, "message": "a quarter",
    },
    "skillLog": {"skill_name": "fs", "level": "info", "data": {"k": 1}, "logger": "db"},
    "skillSampling": {
        "skill_name": "fs", "tool_call_id": "call1", "request": {"maxTokens": 10},
        "model": "m", "text": "ok", "stop_reason": "endTurn", "usage": USAGE,
    },
    "skillElicitation": {
        "skill_name": "fs", "tool_call_id": "call1", "message": "Name?",
        "requested_schema": {"type": "object"},
    },
    "skillElicitationAnswer": {
        "skill_name": "fs", "tool_call_id": "call1", "action": "accept", "content": {"a": 1},
    },
}


def test_every_event_type_has_a_sample() -> None:
    assert set(SAMPLES) == set(ev.EVENT_CLASSES)


@pytest.mark.parametrize("event_type", sorted(SAMPLES))
def test_event_round_trips_through_json(event_type: str) -> None:
    cls = ev.EVENT_CLASSES[event_type]
    base = RUNTIME if event_type in ev.RUNTIME_EVENT_TYPES else RUN
    event = cls(**base, **SAMPLES[event_type])
    data = event.to_json()
    parsed = ev.parse_event(data)
    assert type(parsed) is cls
    assert parsed.to_json() == data
    wire = orjson.loads(data)
    assert wire["type"] == event_type
    assert {"id", "timestamp", "jobId", "runId"} <= set(wire)
    if event_type in ev.RUNTIME_EVENT_TYPES:
        assert "expertKey" not in wire and "stepNumber" not in wire
    else:
        assert wire["expertKey"] == "writer" and wire["stepNumber"] == 3


def test_wire_names_are_upstreams_camel_case() -> None:
    event = ev.StopRunByError(**RUN, **SAMPLES["stopRunByError"])
    wire = orjson.loads(event.to_json())
    assert wire["error"] == {
        "name": "APIError",
        "message": "boom",
        "statusCode": 500,
        "isRetryable": False,
    }
    checkpoint = wire["checkpoint"]
    assert checkpoint["pendingToolCalls"][0]["skillName"] == "@perstack/base"
    assert checkpoint["messages"][1]["contents"][1] == {
        "id": MESSAGE.contents[1].id,
        "type": "toolCallPart",
        "toolCallId": "call1",
        "toolName": "readTextFile",
        "args": {"path": "a"},
    }
    assert "delegateTo" not in checkpoint  # None fields are left out, as upstream does


def test_unknown_fields_survive_a_round_trip() -> None:
    data = orjson.loads(ev.StreamRunResult(**RUN, delta="x").to_json())
    data["futureField"] = {"kept": True}
    assert orjson.loads(ev.parse_event(data).to_json())["futureField"] == {"kept": True}


def test_an_unknown_event_type_is_rejected() -> None:
    with pytest.raises(ValueError):
        ev.parse_event({"type": "noSuchEvent", "id": "x", "timestamp": 1, "jobId": "j", "runId": "r"})
