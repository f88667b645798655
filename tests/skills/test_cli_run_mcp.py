"""MCP skills in `perstack run` (the real CLI, scripted provider): start-up order with and
without perstack.lock, results, crashes and lockfile drift, with no server left behind."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.helpers import PERSTACK, CliResult, Project, simple_expert
from tests.skills.mcp_testkit import TOOLBOX, pid_alive

SKILLS = f"""
[experts."writer".skills.box]
type = "mcpStdioSkill"
command = '{sys.executable}'
args = ['{TOOLBOX}']
requiredEnv = ["TOOLBOX_VARIANT"]

[experts."writer".skills.time]
type = "mcpStdioSkill"
command = '{sys.executable}'
args = ["-m", "mcp_server_time", "--local-timezone", "UTC"]
"""

# Turn 1: two box tools in parallel; turn 2: finish.
SCRIPT = """
[[rules]]
turn = 1
[[rules.toolCalls]]
name = "pids"
[[rules.toolCalls]]
name = "echo"
args = { text = "hello from box" }
[[rules]]
turn = 2
[[rules.toolCalls]]
name = "attemptCompletion"
[[rules]]
purpose = "runResult"
text = "Done."
"""

VARIANT_1 = {"TOOLBOX_VARIANT": "1"}


def install(project: Project, env: dict[str, str]) -> None:
    """`perstack install` in the project (its output is text, not events)."""
    done = subprocess.run(
        [PERSTACK, "install"], cwd=project.root, env=project.env(env),
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1].startswith("Generated ")


def tool_texts(result: CliResult) -> dict[str, str]:
    """Tool name -> its first text part, over the run."""
    texts = {}
    for event in result.of_type("resolveToolResults"):
        for tool_result in event["toolResults"]:
            texts[tool_result["toolName"]] = tool_result["result"][0]["text"]
    return texts


def server_pid(result: CliResult) -> int:
    return json.loads(tool_texts(result)["pids"])["server"]


@pytest.fixture
def project_with_skills(project: Project) -> Project:
    project.config(simple_expert(extra=SKILLS))
    project.script(SCRIPT)
    return project


def test_skills_connect_before_start_run(project_with_skills: Project) -> None:
    result = project_with_skills.run("run", "writer", "Go", env=VARIANT_1)
    assert result.code == 0, result.stderr
    types = result.types
    start_run = types.index("startRun")
    before = [e for e in result.events[:start_run] if e["type"].startswith("skill")]
    assert {(e["type"], e["skillName"]) for e in before} >= {
        ("skillStarting", "box"),
        ("skillConnected", "box"),
        ("skillStarting", "time"),
        ("skillConnected", "time"),
    }
    assert tool_texts(result)["echo"] == "hello from box"
    disconnected = {e["skillName"] for e in result.of_type("skillDisconnected")}
    assert {"box", "time"} <= disconnected
    assert not pid_alive(server_pid(result))


def test_locked_run_starts_only_called_servers_after_start_run(
    project_with_skills: Project,
) -> None:
    project = project_with_skills
    install(project, VARIANT_1)
    assert (project.root / "perstack.lock").is_file()

    result = project.run("run", "writer", "Go", env=VARIANT_1)
    assert result.code == 0, result.stderr
    types = result.types
    start_run = types.index("startRun")
    mcp_events = [
        (i, e) for i, e in enumerate(result.events)
        if e["type"] in ("skillStarting", "skillConnected") and e["skillName"] in ("box", "time")
    ]
    # Only the box server starts, and only once its tools are called.
    assert [(e["type"], e["skillName"]) for _, e in mcp_events] == [
        ("skillStarting", "box"),
        ("skillConnected", "box"),
    ]
    assert all(i > start_run for i, _ in mcp_events)
    assert mcp_events[0][0] > types.index("callTools")
    assert "warning" not in types
    assert tool_texts(result)["echo"] == "hello from box"
    assert not pid_alive(server_pid(result))


DRIFT_SCRIPT = """
[[rules]]
turn = 1
[[rules.toolCalls]]
name = "echo"
args = { text = "hi", loud = true }
[[rules]]
turn = 2
[[rules.toolCalls]]
name = "shout"
args = { text = "new tool" }
[[rules]]
turn = 3
[[rules.toolCalls]]
name = "attemptCompletion"
[[rules]]
purpose = "runResult"
text = "Done."
"""


def drifted_run(project: Project) -> CliResult:
    """Lock variant 1 of the box server, then run against variant 2."""
    install(project, VARIANT_1)
    project.script(DRIFT_SCRIPT)
    result = project.run("run", "writer", "Go", env={"TOOLBOX_VARIANT": "2"})
    assert result.code == 0, result.stderr
    return result


def test_lockfile_drift_warns_in_an_event(project_with_skills: Project) -> None:
    result = drifted_run(project_with_skills)
    warnings = result.of_type("warning")
    assert len(warnings) == 1 and warnings[0]["skillName"] == "box"
    assert "added: shout; removed: nothing; changed: echo" in warnings[0]["message"]
    assert tool_texts(result)["echo"] == "HI"  # the call went to the live server


def test_lockfile_drift_warns_on_stderr_and_offers_live_tools(
    project_with_skills: Project,
) -> None:
    result = drifted_run(project_with_skills)
    assert "added: shout; removed: nothing; changed: echo" in result.stderr
    assert tool_texts(result)["shout"] == "NEW TOOL!"


def test_crash_mid_run_gives_an_error_result_and_the_run_goes_on(project: Project) -> None:
    project.config(simple_expert(extra=SKILLS))
    project.script(
        """
[[rules]]
turn = 1
[[rules.toolCalls]]
name = "crash"
args = { code = 7 }
[[rules]]
turn = 2
[[rules.toolCalls]]
name = "get_current_time"
args = { timezone = "UTC" }
[[rules]]
turn = 3
[[rules.toolCalls]]
name = "attemptCompletion"
[[rules]]
purpose = "runResult"
text = "Survived."
"""
    )
    result = project.run("run", "writer", "Go", env=VARIANT_1)
    assert result.code == 0, result.stderr
    texts = tool_texts(result)
    assert texts["crash"] == (
        "Error calling tool crash: MCP server box is not available: the server exited with "
        "code 7: fatal: crashing on purpose"
    )
    assert json.loads(texts["get_current_time"])["timezone"] == "UTC"
    assert result.last("completeRun")["text"] == "Survived."


def test_server_that_never_starts_fails_the_run(project: Project) -> None:
    project.config(
        simple_expert(
            extra=f"""
[experts."writer".skills.broken]
type = "mcpStdioSkill"
command = '{sys.executable}'
args = ['{TOOLBOX}', "--fail-on-start", "no license"]
"""
        )
    )
    project.script(SCRIPT)
    result = project.run("run", "writer", "Go")
    assert result.code == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "Error: Skill broken failed to start: the server exited with code 1: no license"
    )
    assert "startRun" not in result.types
