"""McpSkill served from ``perstack.lock``: no server until the first call, drift warnings."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from runtime.errors import PerstackError
from runtime.model import TextPart
from runtime.providers.base import ToolDefinition
from runtime.skills.manager import SkillContext
from runtime.skills.mcp import McpSkill, tool_drift
from tests.skills.mcp_testkit import Recorder, child_pids, contents, toolbox_config


async def live_tools(config, tmp_path: Path) -> list[ToolDefinition]:
    """The tools a server offers, as ``perstack install`` would lock them."""
    skill = McpSkill(config)
    await skill.start(SkillContext(workspace=tmp_path, env=dict(os.environ)))
    try:
        return skill.tools()
    finally:
        await skill.close()


@pytest.fixture
async def locked(tmp_path: Path) -> list[ToolDefinition]:
    return await live_tools(toolbox_config(), tmp_path)


async def test_locked_skill_offers_tools_without_a_server(
    locked: list[ToolDefinition], context: SkillContext, recorder: Recorder
) -> None:
    skill = McpSkill(toolbox_config(omit=["crash"]), locked_tools=locked)
    # Services a session fixture started (an S3 server, say) are children too: not ours.
    before = child_pids()
    await skill.start(context)
    try:
        assert recorder.events == []
        assert child_pids() - before == set()  # nothing spawned
        assert not skill.connected
        assert [t.name for t in skill.tools()] == [t.name for t in locked if t.name != "crash"]
    finally:
        await skill.close()
    assert recorder.events == []  # never connected: no skillDisconnected either
    assert skill.lazy is False  # nothing to start later: the lock is offered at once


async def test_first_call_connects(
    locked: list[ToolDefinition], context: SkillContext, recorder: Recorder
) -> None:
    skill = McpSkill(toolbox_config(), locked_tools=locked)
    await skill.start(context)
    try:
        assert recorder.events == []
        # Parallel first calls share one connection.
        results = await asyncio.gather(*(contents(skill, "echo", {"text": str(n)}) for n in range(3)))
        assert [r[0].text for r in results] == ["0", "1", "2"]
        assert skill.connected and skill.pid in child_pids()
    finally:
        await skill.close()
    types = recorder.types()
    assert types[0] == "skillStarting" and types.count("skillStarting") == 1
    assert types.count("skillConnected") == 1 and types[-1] == "skillDisconnected"
    assert "warning" not in types  # the live tools match the lock


async def test_drift_warns_and_uses_live_tools(
    locked: list[ToolDefinition], context: SkillContext, recorder: Recorder
) -> None:
    skill = McpSkill(toolbox_config("box", "--variant", "2"), locked_tools=locked)
    await skill.start(context)
    try:
        assert "nothing" in {t.name for t in skill.tools()}  # from the lock
        answer = await contents(skill, "echo", {"text": "hi", "loud": True})
        tools = {t.name: t for t in skill.tools()}
    finally:
        await skill.close()
    assert answer[0].text == "HI"
    assert "shout" in tools and "nothing" not in tools
    assert "loud" in tools["echo"].input_schema["properties"]
    warnings = recorder.of("warning")
    assert len(warnings) == 1
    assert warnings[0]["skill_name"] == "box"
    assert warnings[0]["message"] == (
        "Skill box: tools differ from perstack.lock (added: shout; removed: nothing; "
        "changed: echo); using the live definitions. Run `perstack install` to update "
        "the lockfile."
    )
    assert recorder.types().index("warning") > recorder.types().index("skillStarting")


async def test_locked_server_that_cannot_start(
    locked: list[ToolDefinition], context: SkillContext, recorder: Recorder
) -> None:
    config = toolbox_config("broken", "--fail-on-start", "no license")
    skill = McpSkill(config, locked_tools=locked)
    await skill.start(context)
    try:
        first = await contents(skill, "echo", {"text": "x"})
        second = await contents(skill, "image", {})
    finally:
        await skill.close()
    reason = "Skill broken failed to start: the server exited with code 1: no license"
    assert first == [TextPart(id=first[0].id, text=f"Error calling tool echo: {reason}")]
    assert second[0].text == f"Error calling tool image: {reason}"
    assert recorder.types().count("skillStarting") == 1  # not respawned on every call


async def test_locked_skill_still_checks_required_env(
    locked: list[ToolDefinition], recorder: Recorder, tmp_path: Path
) -> None:
    context = SkillContext(workspace=tmp_path, env={}, emit_runtime=recorder.emit)
    skill = McpSkill(toolbox_config("gh", required_env=["GH_TOKEN"]), locked_tools=locked)
    with pytest.raises(PerstackError, match="^Skill gh requires environment variable GH_TOKEN$"):
        await skill.start(context)


def test_tool_drift() -> None:
    def t(name: str, description: str = "d", schema: dict | None = None) -> ToolDefinition:
        return ToolDefinition(name=name, description=description, input_schema=schema or {})

    assert tool_drift([t("a"), t("b")], [t("b"), t("a")]) == {}
    assert tool_drift([t("a"), t("b")], [t("a", "other"), t("c")]) == {
        "added": ["c"],
        "removed": ["b"],
        "changed": ["a"],
    }
    assert tool_drift([t("a")], [t("a", schema={"type": "object"})]) == {"changed": ["a"]}
    # Title, annotations and the output schema are compared too.
    hinted = ToolDefinition(
        name="a", description="d", input_schema={}, title="A",
        annotations={"readOnlyHint": True}, output_schema={"type": "object"},
    )  # fmt: skip
    assert tool_drift([hinted], [hinted]) == {}
    for change in (
        {"title": "B"},
        {"annotations": {"readOnlyHint": False}},
        {"output_schema": {"type": "object", "required": ["x"]}},
    ):
        changed = dataclasses.replace(hinted, **change)
        assert tool_drift([hinted], [changed]) == {"changed": ["a"]}


def test_locked_start_does_not_load_the_mcp_sdk(tmp_path: Path) -> None:
    """Serving the lock must stay cheap: the SDK (about a second to import) is not loaded
    until a locked skill is first called."""
    script = textwrap.dedent(
        """
        import asyncio, sys
        from pathlib import Path
        from runtime.config.models import McpStdioSkillConfig
        from runtime.providers.base import ToolDefinition
        from runtime.skills.manager import SkillContext
        from runtime.skills.mcp import McpSkill

        config = McpStdioSkillConfig(name="box", command="python", args=["box.py"])
        locked = [ToolDefinition(name="echo", description=None, input_schema={})]
        skill = McpSkill(config, locked_tools=locked)
        asyncio.run(skill.start(SkillContext(workspace=Path("."), env={})))
        loaded = sorted(m for m in ("mcp", "mcp_types", "anyio") if m in sys.modules)
        print(len(skill.tools()), loaded)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert done.stdout.strip() == "1 []"
