"""The rest of the MCP protocol, over stdio, SSE and streamable HTTP, against the toolbox:
every content type, the client capabilities (roots, sampling, elicitation, each switchable),
progress, logging, per-skill timeouts, cancellation and tools that need MCP tasks."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from runtime.model import FileInlinePart, ImageInlinePart, TextPart
from runtime.skills.calls import (
    CURRENT_CALL,
    CallResult,
    ElicitationAnswer,
    InputDeferred,
    SamplingAnswer,
    ToolCallContext,
)
from runtime.skills.manager import SkillContext
from runtime.skills.mcp import McpSkill
from tests.skills.mcp_testkit import HttpServer, Recorder, toolbox_config

TRANSPORTS = ["stdio", "sse", "http"]


def config_for(transport: str, request: pytest.FixtureRequest, **fields: Any) -> Any:
    """A toolbox skill over ``transport`` (the HTTP servers are the module's)."""
    if transport == "stdio":
        return toolbox_config("box", **fields)
    from runtime.config.models import McpSseSkillConfig, McpStreamableHttpSkillConfig

    http: HttpServer = request.getfixturevalue("sse_server" if transport == "sse" else "http_server")
    model = McpSseSkillConfig if transport == "sse" else McpStreamableHttpSkillConfig
    return model(name="box", endpoint=http.url, allow_private_network=True, **fields)


@pytest.fixture(params=TRANSPORTS)
def transport(request: pytest.FixtureRequest) -> str:
    return request.param


async def call_in(
    skill: McpSkill,
    tool: str,
    args: dict[str, Any],
    recorder: Recorder,
    *,
    call_id: str = "call-1",
    **services: Any,
) -> CallResult:
    """Call ``tool`` as the executor does: in a task of its own, with its context set."""
    context = ToolCallContext(tool_call_id=call_id, tool_name=tool, emit=recorder.emit, **services)

    async def run() -> CallResult:
        CURRENT_CALL.set(context)
        return await skill.call(tool, args)

    return await asyncio.create_task(run())


async def started(config: Any, context: SkillContext) -> McpSkill:
    skill = McpSkill(config)
    await skill.start(context)
    return skill


async def wait_for_file(path: Path, timeout: float = 10.0) -> None:
    """Until ``path`` exists (written by the server process when it sees the cancel)."""
    async with asyncio.timeout(timeout):
        while not path.exists():
            await asyncio.sleep(0.01)


def texts(result: CallResult) -> list[str]:
    return [p.text for p in result.contents if isinstance(p, TextPart)]


async def test_every_content_type_survives(
    transport: str, request: pytest.FixtureRequest, context: SkillContext, recorder: Recorder
) -> None:
    skill = await started(config_for(transport, request), context)
    try:
        rich = await call_in(skill, "all_content", {}, recorder)
        only = await call_in(skill, "only_structure", {}, recorder)
        bad = await call_in(skill, "bad_structure", {}, recorder)
    finally:
        await skill.close()
    text, image, audio, notes, pdf, link = rich.contents
    assert isinstance(text, TextPart) and text.text == "It is sunny."
    assert text.model_extra["annotations"] == {"audience": ["user"], "priority": 0.5}
    assert isinstance(image, ImageInlinePart) and image.mime_type == "image/png"
    assert isinstance(audio, FileInlinePart)
    assert (audio.mime_type, audio.encoded_data) == ("audio/wav", "UklGRg==")
    assert isinstance(notes, TextPart) and notes.text == "notes"
    assert notes.model_extra["resource"] == {"uri": "file:///notes.txt", "mimeType": "text/plain"}
    assert isinstance(pdf, FileInlinePart) and pdf.mime_type == "application/pdf"
    assert isinstance(link, TextPart)
    assert link.text == (
        "Resource link: The report <file:///report.md> (text/markdown): The full weather report"
    )
    assert link.model_extra["resourceLink"] == {
        "name": "report",
        "title": "The report",
        "uri": "file:///report.md",
        "mimeType": "text/markdown",
        "description": "The full weather report",
    }
    assert rich.extra == {"structuredContent": {"temperature": 21.5, "conditions": "sunny"}}
    assert not rich.is_error
    # Structured content with no text: the model gets it as JSON.
    assert texts(only) == ['{"temperature": 3.0, "conditions": "snow"}']
    assert only.extra["structuredContent"] == {"temperature": 3.0, "conditions": "snow"}
    # Checked against the tool's outputSchema.
    assert bad.is_error
    assert texts(bad) == [
        "Error calling tool bad_structure: Invalid structured content returned by tool "
        "bad_structure: 'conditions' is a required property"
    ]


async def test_tool_definitions_keep_title_annotations_and_output_schema(
    transport: str, request: pytest.FixtureRequest, context: SkillContext, recorder: Recorder
) -> None:
    skill = await started(config_for(transport, request), context)
    await skill.close()
    tool = skill.tool("all_content")
    assert tool is not None
    assert tool.title == "Every content type"
    assert tool.annotations == {"readOnlyHint": True, "idempotentHint": True}
    assert tool.output_schema is not None
    assert set(tool.output_schema["properties"]) == {"temperature", "conditions"}
    assert recorder.of("warning") == []


async def test_task_only_tools_are_not_offered(context: SkillContext, recorder: Recorder) -> None:
    skill = await started(toolbox_config("box", "--task-tool"), context)
    await skill.close()
    # A tool that runs only as an MCP task is not offered; a warning says why.
    assert skill.tool("research") is None and skill.tool("echo") is not None
    [warning] = recorder.of("warning")
    assert warning == {
        "skill_name": "box",
        "message": "Skill box: not offering research: the server runs them only as MCP tasks "
        "(task-augmented execution), which perstack does not support",
    }
    # Omitted anyway: nothing to say.
    recorder.events.clear()
    skill = await started(toolbox_config("box", "--task-tool", omit=["research"]), context)
    await skill.close()
    assert recorder.of("warning") == []


async def test_capabilities_are_declared_and_switchable(
    transport: str, request: pytest.FixtureRequest, context: SkillContext, recorder: Recorder
) -> None:
    skill = await started(config_for(transport, request), context)
    try:
        declared = json.loads(texts(await call_in(skill, "capabilities", {}, recorder))[0])
    finally:
        await skill.close()
    assert {"sampling", "elicitation", "roots"} <= set(declared)
    assert declared["elicitation"] == {"form": {}, "url": {}}
    off = config_for(transport, request, sampling=False, elicitation=False, roots=False)
    skill = await started(off, context)
    try:
        declared = json.loads(texts(await call_in(skill, "capabilities", {}, recorder))[0])
    finally:
        await skill.close()
    assert not {"sampling", "elicitation", "roots"} & set(declared)


async def test_roots_are_the_workspace(
    transport: str, request: pytest.FixtureRequest, context: SkillContext, recorder: Recorder
) -> None:
    skill = await started(config_for(transport, request), context)
    try:
        roots = json.loads(texts(await call_in(skill, "roots", {}, recorder))[0])
    finally:
        await skill.close()
    workspace = Path(context.workspace).resolve()
    assert roots == [{"uri": workspace.as_uri(), "name": workspace.name}]


async def test_progress_becomes_events_of_the_call(
    transport: str, request: pytest.FixtureRequest, context: SkillContext, recorder: Recorder
) -> None:
    skill = await started(config_for(transport, request), context)
    try:
        # 60 ms apart: every notification passes the 50 ms throttle.
        done = await call_in(skill, "work", {"steps": 3, "delay": 0.06}, recorder)
    finally:
        await skill.close()
    assert texts(done) == ["worked 3 steps"]
    assert recorder.of("skillProgress") == [
        {
            "skill_name": "box",
            "tool_call_id": "call-1",
            "tool_name": "work",
            "progress": float(step),
            "total": 3.0,
            "message": f"step {step} of 3",
        }
        for step in (1, 2, 3)
    ]


async def test_progress_bursts_are_throttled_but_the_last_one_arrives(
    context: SkillContext, recorder: Recorder, request: pytest.FixtureRequest
) -> None:
    skill = await started(config_for("stdio", request), context)
    try:
        await call_in(skill, "work", {"steps": 200}, recorder)
    finally:
        await skill.close()
    progress = recorder.of("skillProgress")
    assert 1 <= len(progress) < 50
    assert progress[-1]["progress"] == 200.0 and progress[-1]["message"] == "step 200 of 200"


@pytest.mark.parametrize("level", [None, "debug", "error"])
async def test_log_messages_at_the_skills_level(
    level: str | None, context: SkillContext, recorder: Recorder, request: pytest.FixtureRequest
) -> None:
    skill = await started(config_for("stdio", request, log_level=level), context)
    try:
        await call_in(skill, "chatty", {}, recorder)
    finally:
        await skill.close()
    logs = recorder.of("skillLog")
    expected = {
        None: ["info", "warning", "error", "info"],
        "debug": ["debug", "info", "warning", "error", "info"],
        "error": ["error"],
    }[level]
    assert [log["level"] for log in logs] == expected
    assert all(log["tool_call_id"] == "call-1" and log["logger"] == "chatty" for log in logs)
    if level is None:
        assert logs[0]["data"] == "a info message"
        assert logs[-1]["data"] == {"structured": True}


async def test_logs_over_remote_transports(
    transport: str, request: pytest.FixtureRequest, context: SkillContext, recorder: Recorder
) -> None:
    skill = await started(config_for(transport, request), context)
    try:
        await call_in(skill, "chatty", {}, recorder)
    finally:
        await skill.close()
    assert [log["level"] for log in recorder.of("skillLog")] == ["info", "warning", "error", "info"]


async def test_sampling_is_answered_through_the_call_context(
    transport: str, request: pytest.FixtureRequest, context: SkillContext, recorder: Recorder
) -> None:
    asked: list[Any] = []

    async def sample(skill_name: str, sampling: Any) -> SamplingAnswer:
        asked.append((skill_name, sampling))
        return SamplingAnswer(text="Blue", model="the-model")

    skill = await started(config_for(transport, request), context)
    try:
        answer = await call_in(skill, "ask_model", {"prompt": "Sky colour?"}, recorder, sample=sample)
        refused = await call_in(skill, "ask_model", {"prompt": "Again?"}, recorder)
    finally:
        await skill.close()
    assert texts(answer) == ["the model (the-model) said: Blue"]
    [(skill_name, sampling)] = asked
    assert skill_name == "box"
    assert sampling.system_prompt == "Answer in one word."
    assert sampling.max_tokens == 64
    assert [m.contents[0].text for m in sampling.messages] == ["Sky colour?"]
    assert sampling.wire["maxTokens"] == 64
    assert refused.is_error  # no one to answer sampling: the server is refused


async def test_elicitation_is_asked_with_the_deadline_paused(
    transport: str, request: pytest.FixtureRequest, context: SkillContext, recorder: Recorder
) -> None:
    questions: list[Any] = []

    async def elicit(question: Any) -> ElicitationAnswer:
        questions.append(question)
        await asyncio.sleep(0.4)  # a person thinking, longer than the tool timeout
        return ElicitationAnswer(action="accept", content={"name": "Ada", "age": 36})

    skill = await started(config_for(transport, request, tool_timeout=300), context)
    try:
        answer = await call_in(skill, "ask_person", {"question": "Who?"}, recorder, elicit=elicit)
    finally:
        await skill.close()
    assert texts(answer) == ["Hello Ada, 36"]
    [question] = questions
    assert (question.skill_name, question.message, question.mode) == ("box", "Who?", "form")
    assert set(question.requested_schema["properties"]) == {"name", "age"}


async def test_elicitation_deferred_gives_the_call_up(
    transport: str,
    request: pytest.FixtureRequest,
    context: SkillContext,
    recorder: Recorder,
) -> None:
    async def nobody(question: Any) -> ElicitationAnswer:
        raise InputDeferred(question)

    skill = await started(config_for(transport, request), context)
    try:
        with pytest.raises(InputDeferred) as deferred:
            await call_in(skill, "ask_person", {"question": "Who?"}, recorder, elicit=nobody)
        # The session is still good.
        assert texts(await call_in(skill, "read_text", {"text": "after"}, recorder)) == ["after"]
    finally:
        await skill.close()
    assert deferred.value.request.message == "Who?"


async def test_tool_timeout_per_skill(
    transport: str, request: pytest.FixtureRequest, context: SkillContext, recorder: Recorder
) -> None:
    marker = Path(context.workspace) / f"cancelled-{transport}"
    skill = await started(config_for(transport, request, tool_timeout=300), context)
    try:
        result = await call_in(skill, "wait_cancel", {"marker": str(marker)}, recorder)
        # The server was told (notifications/cancelled) and stopped the tool.
        await wait_for_file(marker)
    finally:
        await skill.close()
    assert result.is_error
    assert texts(result) == ["Error calling tool wait_cancel: the tool did not answer within 0.3 s"]
    assert marker.read_text() == "cancelled"


async def test_cancelling_a_call_tells_the_server(
    transport: str, request: pytest.FixtureRequest, context: SkillContext, recorder: Recorder
) -> None:
    marker = Path(context.workspace) / f"run-cancelled-{transport}"
    skill = await started(config_for(transport, request), context)
    try:
        task = asyncio.create_task(
            call_in(skill, "wait_cancel", {"marker": str(marker)}, recorder)
        )
        await recorder.wait_for(lambda kind, _: kind == "skillProgress")  # it runs
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await wait_for_file(marker)
    finally:
        await skill.close()
    assert marker.read_text() == "cancelled"
