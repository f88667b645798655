"""BaseSkill as a whole: tool list, pick/omit, per-run todos, healthCheck, argument
validation, and the inline image/PDF parts of §8.6."""

from __future__ import annotations

import base64
import json
import os
import re
from pathlib import Path

import pytest

from runtime.errors import PerstackError
from runtime.model import FileInlinePart, ImageInlinePart, TextPart
from runtime.skills.base import BaseSkill
from runtime.skills.manager import SkillContext

ALL_TOOLS = [
    "attemptCompletion",
    "todo",
    "clearTodo",
    "healthCheck",
    "exec",
    "readTextFile",
    "readImageFile",
    "readPdfFile",
    "writeTextFile",
    "appendTextFile",
    "editTextFile",
    "moveFile",
    "deleteFile",
    "getFileInfo",
    "listDirectory",
    "createDirectory",
    "deleteDirectory",
]
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9aw"
    "AAAABJRU5ErkJggg=="
)
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture
def context(tmp_path: Path) -> SkillContext:
    return SkillContext(workspace=tmp_path, env={})


@pytest.fixture
async def skill(context: SkillContext) -> BaseSkill:
    base = BaseSkill()
    await base.start(context)
    return base


async def call(skill: BaseSkill, tool: str, args: object) -> dict:
    parts = await skill.call(tool, args)
    assert len(parts) == 1 and isinstance(parts[0], TextPart)
    return json.loads(parts[0].text)


# identity and tool list


def test_identity_and_full_tool_list():
    skill = BaseSkill()
    assert (skill.name, skill.kind) == ("@perstack/base", "mcp")
    tools = skill.tools()
    assert [tool.name for tool in tools] == ALL_TOOLS
    for tool in tools:
        assert tool.skill_name == "@perstack/base"
        assert tool.description
        assert tool.input_schema["type"] == "object"
    schemas = {tool.name: tool.input_schema for tool in tools}
    assert schemas["exec"]["required"] == ["command", "args", "env", "cwd", "stdout", "stderr"]
    assert schemas["readTextFile"]["required"] == ["path"]
    assert set(schemas["todo"]["properties"]) == {"newTodos", "completedTodos"}
    assert schemas["attemptCompletion"]["properties"] == {}


def test_pick_and_omit_narrow_the_tools():
    picked = BaseSkill(pick=["readTextFile", "attemptCompletion", "think"])
    assert [tool.name for tool in picked.tools()] == ["attemptCompletion", "readTextFile"]
    omitted = BaseSkill(omit=["exec", "deleteDirectory"])
    assert [tool.name for tool in omitted.tools()] == [
        name for name in ALL_TOOLS if name not in {"exec", "deleteDirectory"}
    ]


async def test_a_tool_not_offered_cannot_be_called(context):
    skill = BaseSkill(omit=["writeTextFile"])
    await skill.start(context)
    result = await call(skill, "writeTextFile", {"path": "a.txt", "text": "x"})
    assert result == {"error": "Error", "message": "Tool writeTextFile not found"}
    assert not (Path(skill.workspace) / "a.txt").exists()


def test_tools_are_shared_definitions_not_rebuilt_per_call():
    # The runtime asks for the tools before every generation: no per-step copying.
    skill = BaseSkill()
    first, second = skill.tools(), skill.tools()
    assert first is not second and all(a is b for a, b in zip(first, second, strict=True))


# start


async def test_start_records_the_real_workspace(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "alias").symlink_to(tmp_path / "real", target_is_directory=True)
    skill = BaseSkill()
    await skill.start(SkillContext(workspace=tmp_path / "alias", env={}))
    assert skill.workspace == os.path.realpath(tmp_path / "real")


async def test_start_refuses_a_missing_workspace(tmp_path):
    with pytest.raises(PerstackError, match="is not a directory"):
        await BaseSkill().start(SkillContext(workspace=tmp_path / "missing", env={}))


async def test_start_emits_no_event(tmp_path):
    emitted = []
    context = SkillContext(
        workspace=tmp_path, env={}, emit_runtime=lambda kind, **payload: emitted.append(kind)
    )
    await BaseSkill().start(context)
    assert emitted == []


async def test_calls_before_start_are_error_results():
    result = await call(BaseSkill(), "healthCheck", {})
    assert result == {"error": "Error", "message": "Skill @perstack/base is not started"}


# todos (per run, in the context state)


async def test_todo_ids_count_from_zero_and_completion_is_sticky(skill, context):
    first = await call(skill, "todo", {"newTodos": ["plan", "build"]})
    assert first == {
        "todos": [
            {"id": 0, "title": "plan", "completed": False},
            {"id": 1, "title": "build", "completed": False},
        ]
    }
    await call(skill, "todo", {"completedTodos": [0]})
    after = await call(skill, "todo", {"newTodos": ["ship"], "completedTodos": [2]})
    assert [(t["id"], t["completed"]) for t in after["todos"]] == [(0, True), (1, False), (2, True)]
    assert context.state["todos"] == after["todos"]
    assert json.loads(json.dumps(context.state)) == context.state


async def test_attempt_completion_reports_remaining_todos(skill):
    assert await call(skill, "attemptCompletion", {}) == {}
    await call(skill, "todo", {"newTodos": ["a", "b"], "completedTodos": [0]})
    assert await call(skill, "attemptCompletion", {}) == {
        "remainingTodos": [{"id": 1, "title": "b", "completed": False}]
    }
    await call(skill, "todo", {"completedTodos": [1]})
    assert await call(skill, "attemptCompletion", None) == {}


async def test_clear_todo_resets_ids(skill, context):
    await call(skill, "todo", {"newTodos": ["a", "b"]})
    parts = await skill.call("clearTodo", {})
    assert parts[0].text == '{"todos":[]}'
    assert context.state["todos"] == []
    again = await call(skill, "todo", {"newTodos": ["c"]})
    assert again == {"todos": [{"id": 0, "title": "c", "completed": False}]}


async def test_todos_are_restored_from_the_state_and_not_shared_between_runs(tmp_path):
    saved = {"todos": [{"id": 0, "title": "left over", "completed": False}]}
    resumed = BaseSkill()
    restored_state = json.loads(json.dumps(saved))  # as if read back from a checkpoint
    await resumed.start(SkillContext(workspace=tmp_path, env={}, state=restored_state))
    other_run = BaseSkill()
    await other_run.start(SkillContext(workspace=tmp_path, env={}))
    assert await call(resumed, "attemptCompletion", {}) == {"remainingTodos": saved["todos"]}
    assert await call(other_run, "attemptCompletion", {}) == {}
    added = await call(resumed, "todo", {"newTodos": ["next"]})
    assert added["todos"][-1]["id"] == 1


# healthCheck


async def test_health_check(skill):
    result = await call(skill, "healthCheck", {})
    assert result["status"] == "ok"
    assert result["workspace"] == skill.workspace
    assert re.fullmatch(r"\d+s", result["uptime"])
    assert set(result["memory"]) == {"heapUsed", "heapTotal"}
    assert all(re.fullmatch(r"[1-9]\d*MB", value) for value in result["memory"].values())
    assert result["pid"] == os.getpid()


# argument validation


@pytest.mark.parametrize(
    ("tool", "args", "message"),
    [
        ("readTextFile", {}, "arguments: 'path' is a required property"),
        ("readTextFile", {"path": 3}, "path: 3 is not of type 'string'"),
        ("readTextFile", {"path": "a", "from": "1"}, "from: '1' is not of type 'integer'"),
        ("todo", {"newTodos": [1]}, "newTodos/0: 1 is not of type 'string'"),
        ("deleteDirectory", {"path": "a", "recursive": "yes"}, "recursive: 'yes' is not of type"),
        ("writeTextFile", ["a.txt", "x"], "arguments: ['a.txt', 'x'] is not of type 'object'"),
    ],
)
async def test_invalid_arguments_are_error_results(skill, tool, args, message):
    result = await call(skill, tool, args)
    assert result["error"] == "Error"
    assert result["message"].startswith(f"Invalid arguments for tool {tool}: {message}")


async def test_results_are_compact_json(skill):
    (Path(skill.workspace) / "a.txt").write_text("ü")
    parts = await skill.call("readTextFile", {"path": "a.txt"})
    assert parts[0].text == '{"path":"a.txt","content":"ü","from":0,"to":1}'


# readImageFile / readPdfFile (inline parts, spec §8.6)


@pytest.mark.parametrize(
    ("name", "mime_type"),
    [
        ("dot.png", "image/png"),
        ("dot.JPG", "image/jpeg"),
        ("a.gif", "image/gif"),
        ("b.webp", "image/webp"),
    ],
)
async def test_read_image_file_returns_an_inline_image(skill, name, mime_type):
    (Path(skill.workspace) / name).write_bytes(PNG)
    parts = await skill.call("readImageFile", {"path": name})
    assert len(parts) == 1 and isinstance(parts[0], ImageInlinePart)
    assert parts[0].mime_type == mime_type
    assert base64.b64decode(parts[0].encoded_data) == PNG


async def test_read_image_file_errors(skill):
    ws = Path(skill.workspace)
    assert await call(skill, "readImageFile", {"path": "no.png"}) == {
        "error": "Error",
        "message": "File no.png does not exist.",
    }
    (ws / "a.bmp").write_bytes(b"BM")
    assert await call(skill, "readImageFile", {"path": "a.bmp"}) == {
        "error": "Error",
        "message": "File a.bmp is not supported.",
    }
    with open(ws / "huge.png", "wb") as huge:
        huge.truncate(16 * 1024 * 1024)  # sparse: costs no disk
    assert await call(skill, "readImageFile", {"path": "huge.png"}) == {
        "error": "Error",
        "message": "Image file too large (16.0MB). Maximum supported size is 15MB. "
        "Please use a smaller image file.",
    }


async def test_read_image_file_read_failure(skill):
    (Path(skill.workspace) / "dir.png").mkdir()
    parts = await skill.call("readImageFile", {"path": "dir.png"})
    assert isinstance(parts[0], TextPart)
    path = os.path.join(skill.workspace, "dir.png")
    assert parts[0].text.startswith(f'Failed to read file "{path}": ')
    assert "Is a directory" in parts[0].text


async def test_read_pdf_file_returns_an_inline_file(skill):
    (Path(skill.workspace) / "doc.pdf").write_bytes(PDF)
    parts = await skill.call("readPdfFile", {"path": "doc.pdf"})
    assert len(parts) == 1 and isinstance(parts[0], FileInlinePart)
    assert parts[0].mime_type == "application/pdf"
    assert base64.b64decode(parts[0].encoded_data) == PDF


async def test_read_pdf_file_errors(skill):
    ws = Path(skill.workspace)
    assert await call(skill, "readPdfFile", {"path": "no.pdf"}) == {
        "error": "Error",
        "message": "File no.pdf does not exist.",
    }
    (ws / "doc.txt").write_bytes(PDF)
    assert await call(skill, "readPdfFile", {"path": "doc.txt"}) == {
        "error": "Error",
        "message": "File doc.txt is not a PDF file.",
    }
    with open(ws / "huge.pdf", "wb") as huge:
        huge.truncate(31 * 1024 * 1024)
    assert await call(skill, "readPdfFile", {"path": "huge.pdf"}) == {
        "error": "Error",
        "message": "PDF file too large (31.0MB). Maximum supported size is 30MB. "
        "Please use a smaller PDF file.",
    }
