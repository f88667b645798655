"""`perstack compare`: the scripted provider against both SDK paths (Anthropic and OpenAI
through the fake LLM server), run concurrently, each in its own copy of the workspace."""

from __future__ import annotations

import orjson
from fake_llm_server import (
    AnthropicReply,
    FakeLLMServer,
    OpenAIReply,
    RecordedRequest,
    Reply,
    ToolCallSpec,
)

from tests.helpers import Project

CONFIG = """
model = "scripted"
[provider]
providerName = "scripted"
[provider.setting]
script = "script.toml"

[experts."writer"]
instruction = "Read the notes, then write out.txt."
"""

SCRIPT = """
[[rules]]
turn = 1
[[rules.toolCalls]]
name = "readTextFile"
args = { path = "notes.txt" }
[[rules]]
turn = 2
[[rules.toolCalls]]
name = "writeTextFile"
args = { path = "out.txt", text = "scripted" }
[[rules]]
text = "Scripted answer."
"""


def _call(name: str, args: dict[str, str], turn: int) -> ToolCallSpec:
    return ToolCallSpec(f"call_{turn}", name, orjson.dumps(args).decode())


def respond(request: RecordedRequest) -> Reply:
    """Anthropic: read, write ``anthropic``, answer. OpenAI: read, list the folder, write
    ``openai``, answer. Both start as the scripted run does (the same read)."""
    anthropic = request.path.endswith("/v1/messages")
    turn = sum(1 for m in request.body["messages"] if m["role"] == "assistant") + 1
    if anthropic:
        plan = [("readTextFile", {"path": "notes.txt"}), ("writeTextFile", {"path": "out.txt", "text": "anthropic"})]  # fmt: skip
        answer = AnthropicReply
        text = "Anthropic answer."
    else:
        plan = [("readTextFile", {"path": "notes.txt"}), ("listDirectory", {"path": "."}), ("writeTextFile", {"path": "out.txt", "text": "openai"})]  # fmt: skip
        answer = OpenAIReply  # type: ignore[assignment]
        text = "OpenAI answer."
    if turn <= len(plan):
        name, args = plan[turn - 1]
        return answer(tool_calls=[_call(name, args, turn)])
    return answer(text=text)


def test_three_models_compared_side_by_side(project: Project, llm_server: FakeLLMServer) -> None:
    project.write("perstack.toml", CONFIG)
    project.script(SCRIPT)
    project.write("notes.txt", "Some notes.\n")
    llm_server.responder = respond
    env = {
        "ANTHROPIC_API_KEY": "sk-ant-test",
        "ANTHROPIC_BASE_URL": llm_server.base_url,
        "OPENAI_API_KEY": "sk-openai-test",
        "OPENAI_BASE_URL": f"{llm_server.base_url}/v1",
    }
    result = project.run(
        "compare", "writer", "Write it",
        "--model", "scripted:scripted",
        "--model", "anthropic:claude-sonnet-4-5",
        "--model", "openai:gpt-4.1",
        "--json",
        env=env,
    )  # fmt: skip

    assert result.code == 0, result.stderr
    data = orjson.loads(result.stdout)
    runs = data["runs"]
    assert [(r["provider"], r["model"], r["status"]) for r in runs] == [
        ("scripted", "scripted", "completed"),
        ("anthropic", "claude-sonnet-4-5", "completed"),
        ("openai", "gpt-4.1", "completed"),
    ]
    assert [r["finalAnswer"] for r in runs] == ["Scripted answer.", "Anthropic answer.", "OpenAI answer."]  # fmt: skip
    assert [r["steps"] for r in runs] == [3, 3, 4]
    assert [r["toolCalls"] for r in runs] == [2, 2, 3]
    # The SDK runs' tokens as the server reported them (10 in, 5 out per reply).
    assert runs[1]["tokens"] == {"input": 30, "output": 15, "cached": 0, "reasoning": 0}
    assert runs[2]["tokens"] == {"input": 40, "output": 20, "cached": 0, "reasoning": 0}
    # Money: the offline provider costs nothing; both SDK models have a price.
    assert runs[0]["costUsd"] == 0
    assert runs[1]["costUsd"] > 0 and runs[2]["costUsd"] > 0
    assert all(r["timeToFirstTokenMs"] is not None for r in runs)
    # Each wrote out.txt in its own copy of the workspace; the project's is untouched.
    written = [(project.root / r["workspace"] / "out.txt").read_text() for r in runs]
    assert written == ["scripted", "anthropic", "openai"]
    assert not (project.root / "out.txt").exists()
    assert all((project.root / r["workspace"] / "notes.txt").exists() for r in runs)
    assert not any((project.root / r["workspace"] / "perstack").exists() for r in runs)
    # The alignment: the same first step everywhere, then OpenAI's extra listing.
    alignment = data["alignment"]
    first = alignment[0]
    assert first["same"] is True
    assert {s["action"]["toolCalls"][0]["toolName"] for s in first["steps"]} == {"readTextFile"}
    assert data["firstDivergence"] == 1
    def what(step: dict | None) -> str | None:
        if step is None:
            return None
        action = step["action"]
        return action["text"] if action["type"] == "answer" else action["toolCalls"][0]["toolName"]

    # Between the matched reads, what the runs did differently is paired side by side (as
    # perstack diff pairs changed lines); OpenAI's extra step is left on its own.
    assert [[what(s) for s in row["steps"]] for row in alignment[1:]] == [
        ["writeTextFile", "writeTextFile", "listDirectory"],
        ["Scripted answer.", "Anthropic answer.", "writeTextFile"],
        [None, None, "OpenAI answer."],
    ]
    # Each is a job of the project's storage, readable with perstack log.
    for run in runs:
        assert (project.storage / "jobs" / run["jobId"] / "job.json").exists()
    # Both SDKs were really asked, with their own model names.
    models = {r.body["model"] for r in llm_server.requests}
    assert models == {"claude-sonnet-4-5", "gpt-4.1"}
