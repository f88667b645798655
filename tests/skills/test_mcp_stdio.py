"""MCP stdio skills against real servers: the toolbox test server and mcp-server-time."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time

import pytest

from runtime.errors import PerstackError
from runtime.model import FileInlinePart, ImageInlinePart, TextPart
from runtime.skills.manager import SkillContext
from runtime.skills.mcp import McpSkill
from tests.skills.mcp_testkit import (
    Recorder,
    child_pids,
    contents,
    pid_alive,
    time_config,
    toolbox_config,
)


def texts(contents: list) -> list[str]:
    return [part.text for part in contents if isinstance(part, TextPart)]


async def test_lifecycle_events_and_tools(context: SkillContext, recorder: Recorder) -> None:
    skill = McpSkill(toolbox_config("box", "--name", "box-server"))
    await skill.start(context)
    try:
        names = [tool.name for tool in skill.tools()]
        assert {"echo", "image", "crash", "environment"} <= set(names)
        echo = next(t for t in skill.tools() if t.name == "echo")
        assert echo.skill_name == "box"
        assert echo.description == "Echo the text back."
        assert echo.input_schema["properties"]["text"]["type"] == "string"
        assert texts(await contents(skill, "echo", {"text": "hello"})) == ["hello"]
    finally:
        await skill.close()

    assert recorder.types()[0] == "skillStarting"
    starting = recorder.of("skillStarting")[0]
    assert starting["skill_name"] == "box"
    assert starting["command"] == sys.executable
    assert starting["args"][0].endswith("toolbox.py")
    assert starting["args"][1:] == ["--name", "box-server"]
    assert {"skill_name": "box", "message": "box-server starting"} in recorder.of("skillStderr")
    connected = recorder.of("skillConnected")[0]
    assert connected["server_info"] == {"name": "box-server", "version": "1.2.3"}
    for key in ("spawn_duration_ms", "handshake_duration_ms", "tool_discovery_duration_ms"):
        assert connected[key] >= 0
    assert connected["connect_duration_ms"] == pytest.approx(
        connected["spawn_duration_ms"] + connected["handshake_duration_ms"], abs=0.01
    )
    assert connected["total_duration_ms"] >= connected["connect_duration_ms"]
    assert recorder.types()[-1] == "skillDisconnected"
    assert recorder.of("skillDisconnected") == [{"skill_name": "box"}]


async def test_close_ends_the_process_and_is_idempotent(context: SkillContext) -> None:
    skill = McpSkill(toolbox_config())
    await skill.start(context)
    pid = skill.pid
    assert pid is not None and pid_alive(pid)
    await skill.close()
    assert not pid_alive(pid)
    await skill.close()  # a second close is a no-op


async def test_close_kills_the_whole_process_group(context: SkillContext) -> None:
    skill = McpSkill(toolbox_config("box", "--spawn-child"))
    await skill.start(context)
    pids = json.loads(texts(await contents(skill, "pids", {}))[0])
    assert pid_alive(pids["child"])
    await skill.close()
    assert not pid_alive(pids["server"])
    assert not pid_alive(pids["child"])  # the server's own child went with it


RESULT_CASES = [
    ("nothing", {"a": 1}, 'Tool nothing returned nothing with arguments: {"a":1}'),
    # isError results (the SDK words the tool's failure) and JSON-RPC errors.
    (
        "fail",
        {"message": "disk full"},
        "Error calling tool fail: Error executing tool fail: disk full",
    ),
    ("protocol_error", {}, "Error calling tool protocol_error: quota exceeded"),
    ("no_such_tool", {}, "Error calling tool no_such_tool: Unknown tool: no_such_tool"),
    ("echo", "not an object", "Error calling tool echo: arguments must be a JSON object"),
]


async def test_result_mapping(context: SkillContext) -> None:
    skill = McpSkill(toolbox_config())
    await skill.start(context)
    try:
        results = [await contents(skill, tool, args) for tool, args, _ in RESULT_CASES]
    finally:
        await skill.close()
    for (tool, _, expected), parts in zip(RESULT_CASES, results, strict=True):
        assert len(parts) == 1 and isinstance(parts[0], TextPart), tool
        assert parts[0].text == expected


async def test_image_and_resource_contents(context: SkillContext) -> None:
    skill = McpSkill(toolbox_config())
    await skill.start(context)
    try:
        image = await contents(skill, "image", {})
        resources = await contents(skill, "resources", {})
        raised = await contents(skill, "explode", {})
    finally:
        await skill.close()
    assert isinstance(image[0], ImageInlinePart)
    assert image[0].mime_type == "image/png"
    assert image[0].encoded_data.startswith("iVBORw0KGgo")
    assert isinstance(resources[0], TextPart) and resources[0].text == "the notes"
    assert isinstance(resources[1], FileInlinePart)
    assert (resources[1].mime_type, resources[1].encoded_data) == ("application/pdf", "JVBERi0=")
    # An unexpected exception in the tool: the SDK hides its message, we still report it.
    assert texts(raised)[0].startswith("Error calling tool explode: ")


async def test_parallel_calls_from_other_tasks(context: SkillContext) -> None:
    skill = McpSkill(toolbox_config())
    await skill.start(context)
    try:
        results = await asyncio.gather(
            *(contents(skill, "echo", {"text": str(n)}) for n in range(8)),
            contents(skill, "sleep", {"seconds": 0.05}),
        )
    finally:
        await skill.close()
    assert [texts(r)[0] for r in results] == [*map(str, range(8)), "slept 0.05"]


async def test_close_from_another_task(context: SkillContext) -> None:
    skill = McpSkill(toolbox_config())
    await skill.start(context)
    pid = skill.pid
    await asyncio.create_task(skill.close())
    assert pid is not None and not pid_alive(pid)


async def test_close_during_a_call(context: SkillContext, recorder: Recorder) -> None:
    skill = McpSkill(toolbox_config())
    await skill.start(context)
    call = asyncio.create_task(contents(skill, "sleep", {"seconds": 30}))
    await recorder.wait_for(lambda kind, p: p.get("message") == "sleeping 30.0")  # it runs
    await skill.close()
    result = await asyncio.wait_for(call, 10)
    assert texts(result) == [
        "Error calling tool sleep: skill toolbox was closed while the tool ran"
    ]


async def test_crash_mid_run_gives_error_results(
    context: SkillContext, recorder: Recorder
) -> None:
    skill = McpSkill(toolbox_config())
    await skill.start(context)
    pid = skill.pid
    try:
        crashed = texts(await contents(skill, "crash", {"code": 3}))[0]
        after = texts(await contents(skill, "echo", {"text": "still there?"}))[0]
    finally:
        await skill.close()
    reason = "MCP server toolbox is not available: the server exited with code 3: " \
             "fatal: crashing on purpose"
    assert crashed == f"Error calling tool crash: {reason}"
    assert after == f"Error calling tool echo: {reason}"
    assert pid is not None and not pid_alive(pid)
    assert recorder.types()[-1] == "skillDisconnected"


async def test_stderr_lines_become_events(context: SkillContext, recorder: Recorder) -> None:
    skill = McpSkill(toolbox_config())
    await skill.start(context)
    try:
        await contents(skill, "say_stderr", {"text": "  first  \n\nsecond"})
        await recorder.wait_for(lambda kind, p: kind == "skillStderr" and p["message"] == "second")
    finally:
        await skill.close()
    messages = [p["message"] for p in recorder.of("skillStderr")]
    assert messages[-2:] == ["first", "second"]  # trimmed, blank lines skipped


async def test_server_that_exits_at_start(context: SkillContext, recorder: Recorder) -> None:
    skill = McpSkill(toolbox_config("broken", "--fail-on-start", "missing API token"))
    with pytest.raises(PerstackError) as raised:
        await skill.start(context)
    assert str(raised.value) == (
        "Skill broken failed to start: the server exited with code 1: missing API token"
    )
    assert "\n" not in str(raised.value)
    assert "skillConnected" not in recorder.types()
    await skill.close()
    assert "skillDisconnected" not in recorder.types()


async def test_command_not_found(context: SkillContext) -> None:
    from runtime.config.models import McpStdioSkillConfig

    config = McpStdioSkillConfig(name="ghost", command="/nonexistent/mcp-server", args=["x"])
    with pytest.raises(PerstackError, match=r"^Skill ghost failed to start: command not found"):
        await McpSkill(config).start(context)


async def test_handshake_timeout_kills_the_server(context: SkillContext) -> None:
    skill = McpSkill(toolbox_config("stuck", "--hang", "--name", "stuck"), start_timeout=3)
    with pytest.raises(PerstackError) as raised:
        await skill.start(context)
    assert str(raised.value) == (
        "Skill stuck failed to start: no answer within 3 s (last stderr line: stuck starting)"
    )
    # The autouse fixture checks that the hung process is gone.


async def test_cancelled_start_leaves_no_process(context: SkillContext, recorder: Recorder) -> None:
    skill = McpSkill(toolbox_config("stuck", "--hang"))
    before = child_pids()  # a session's services (an S3 server, say) are children too
    task = asyncio.create_task(skill.start(context))
    await recorder.wait_for(lambda kind, p: kind == "skillStderr")  # the process runs
    spawned = child_pids() - before
    assert spawned
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not any(pid_alive(pid) for pid in spawned)


async def test_environment_is_isolated(
    recorder: Recorder, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-secret")
    monkeypatch.setenv("USER", "someone")
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.local:3128")
    run_env = {
        **os.environ,
        "MY_TOKEN": "t0ken",
        "PYTHONPATH": "/evil",
        "FROM_DOTENV": "x",
    }
    context = SkillContext(workspace=tmp_path, env=run_env, emit_runtime=recorder.emit)
    config = toolbox_config(required_env=["MY_TOKEN", "PYTHONPATH"])
    skill = McpSkill(config)
    await skill.start(context)
    try:
        seen = json.loads(texts(await contents(skill, "environment", {}))[0])
    finally:
        await skill.close()
    from runtime.skills.environment import SAFE_ENV_VARS

    expected = {name for name in SAFE_ENV_VARS if os.environ.get(name)} | {"MY_TOKEN"}
    # Python itself may add LC_CTYPE at start-up (PEP 538 locale coercion).
    assert set(seen) - {"LC_CTYPE"} == expected
    assert seen["MY_TOKEN"] == "t0ken"
    assert seen["HTTPS_PROXY"] == "http://proxy.local:3128"
    assert seen["PATH"] == os.environ["PATH"]


async def test_missing_required_env_fails_before_spawning(
    recorder: Recorder, tmp_path
) -> None:
    context = SkillContext(workspace=tmp_path, env={"OTHER": "1"}, emit_runtime=recorder.emit)
    skill = McpSkill(toolbox_config("github", required_env=["GITHUB_TOKEN"]))
    with pytest.raises(PerstackError) as raised:
        await skill.start(context)
    assert str(raised.value) == "Skill github requires environment variable GITHUB_TOKEN"
    assert recorder.events == []  # nothing started


async def test_pick_and_omit(context: SkillContext) -> None:
    picked = McpSkill(toolbox_config("a", pick=["echo", "image", "crash"], omit=["crash"]))
    omitted = McpSkill(toolbox_config("b", omit=["crash", "environment"]))
    await asyncio.gather(picked.start(context), omitted.start(context))
    try:
        assert [t.name for t in picked.tools()] == ["echo", "image"]
        names = {t.name for t in omitted.tools()}
        assert "echo" in names and not names & {"crash", "environment"}
    finally:
        await asyncio.gather(picked.close(), omitted.close())


async def test_servers_start_concurrently(context: SkillContext, recorder: Recorder) -> None:
    skills = [
        McpSkill(toolbox_config(f"s{n}", "--delay", str(delay)))
        for n, delay in enumerate((0.2, 0.7, 1.2))
    ]
    began = time.perf_counter()
    try:
        await asyncio.gather(*(skill.start(context) for skill in skills))
        elapsed_ms = (time.perf_counter() - began) * 1000
    finally:
        await asyncio.gather(*(skill.close() for skill in skills))
    totals = [event["total_duration_ms"] for event in recorder.of("skillConnected")]
    assert len(totals) == 3
    slowest = max(totals)
    assert elapsed_ms <= 1.2 * slowest + 100, (elapsed_ms, totals)
    assert elapsed_ms < 0.7 * sum(totals), (elapsed_ms, totals)


async def test_mcp_server_time(context: SkillContext, recorder: Recorder) -> None:
    skill = McpSkill(time_config(pick=["get_current_time"]))
    await skill.start(context)
    try:
        assert [t.name for t in skill.tools()] == ["get_current_time"]
        tokyo = await contents(skill, "get_current_time", {"timezone": "Asia/Tokyo"})
        answer = json.loads(texts(tokyo)[0])
        bad = texts(await contents(skill, "get_current_time", {"timezone": "Mars/Olympus"}))[0]
    finally:
        await skill.close()
    assert answer["timezone"] == "Asia/Tokyo"
    assert answer["datetime"].endswith("+09:00")
    assert bad.startswith("Error calling tool get_current_time: ")
    assert "Mars/Olympus" in bad
    assert recorder.of("skillConnected")[0]["server_info"]["name"] == "mcp-time"


def test_lazy_init_flag() -> None:
    assert McpSkill(toolbox_config(lazy_init=True)).lazy is True
    assert McpSkill(toolbox_config()).lazy is False


async def test_lazy_init_through_the_skillset(context: SkillContext, recorder: Recorder) -> None:
    from runtime.skills.skillset import SkillSet

    eager = McpSkill(toolbox_config("eager", pick=["echo"]))
    lazy = McpSkill(toolbox_config("lazy", pick=["image"], lazy_init=True))
    skills = SkillSet([eager, lazy])
    try:
        await skills.start(context)
        # The run may start now: the lazy server has not even been spawned yet.
        assert [p["skill_name"] for p in recorder.of("skillConnected")] == ["eager"]
        assert [p["skill_name"] for p in recorder.of("skillStarting")] == ["eager"]
        await skills.ready()  # before the first generation
        assert [t.name for t in skills.tools()] == ["echo", "image"]
        assert skills.owner("image") is lazy
    finally:
        await skills.close()
    assert sorted(p["skill_name"] for p in recorder.of("skillDisconnected")) == ["eager", "lazy"]


@pytest.mark.parametrize("ending", ["KeyboardInterrupt", "SystemExit"])
def test_interrupted_process_leaves_no_server(ending: str, tmp_path) -> None:
    """A run interrupted with the skill still open (no close()) still ends the server."""
    import subprocess
    import textwrap
    from pathlib import Path

    from tests.skills.mcp_testkit import TOOLBOX

    script = textwrap.dedent(
        f"""
        import asyncio, os, sys
        from pathlib import Path
        from runtime.config.models import McpStdioSkillConfig
        from runtime.skills.manager import SkillContext
        from runtime.skills.mcp import McpSkill

        async def main():
            config = McpStdioSkillConfig(
                name="box", command=sys.executable, args=[{str(TOOLBOX)!r}, "--spawn-child"]
            )
            skill = McpSkill(config)
            await skill.start(SkillContext(workspace=Path("."), env=dict(os.environ)))
            print((await skill.call("pids", {{}})).contents[0].text, flush=True)
            raise {ending}()

        asyncio.run(main())
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
        cwd=Path(__file__).resolve().parents[2],
    )
    pids = json.loads(done.stdout.splitlines()[0])
    assert not pid_alive(pids["server"])
    assert not pid_alive(pids["child"])


async def test_a_hung_tool_call_times_out_with_an_error_result(context: SkillContext) -> None:
    skill = McpSkill(toolbox_config(), call_timeout=0.3)
    await skill.start(context)
    try:
        parts = await contents(skill, "sleep", {"seconds": 30})
        assert texts(parts) == ["Error calling tool sleep: the tool did not answer within 0.3 s"]
        # The server is still usable afterwards.
        assert texts(await contents(skill, "echo", {"text": "still here"})) == ["still here"]
    finally:
        await skill.close()
