"""`perstack run` end to end: the real CLI in a subprocess, the scripted provider."""

from __future__ import annotations

import json

from tests.helpers import COMPLETE_ON_TURN_1, Project, simple_expert


def test_simple_run_prints_the_upstream_event_sequence(project: Project) -> None:
    project.config(simple_expert())
    project.script(COMPLETE_ON_TURN_1)
    result = project.run("run", "writer", "Say hi")
    assert result.code == 0, result.stderr
    types = result.types
    assert types[:4] == ["initializeRuntime", "skillConnected", "startRun", "startGeneration"]
    # After the reasoning stream: the tool call, completion, the run-result stream, the end.
    tail = [t for t in types if t not in ("streamReasoning", "streamRunResult")]
    assert tail == [
        "initializeRuntime",
        "skillConnected",
        "startRun",
        "startGeneration",
        "startStreamingReasoning",
        "completeStreamingReasoning",
        "callTools",
        "attemptCompletion",
        "startStreamingRunResult",
        "completeStreamingRunResult",
        "completeRun",
        "skillDisconnected",
    ]
    complete = result.last("completeRun")
    assert complete["text"] == "All done here."
    assert complete["checkpoint"]["status"] == "completed"
    assert "".join(e["delta"] for e in result.of_type("streamRunResult")) == "All done here."
    assert result.last("completeStreamingRunResult")["text"] == "All done here."
    assert result.last("initializeRuntime")["query"] == "Say hi"
    assert result.last("initializeRuntime")["providerName"] == "scripted"  # for pricing
    assert result.stderr == ""


def test_stdout_carries_only_json_events(project: Project) -> None:
    project.config(simple_expert())
    project.script(COMPLETE_ON_TURN_1)
    result = project.run("run", "writer", "Say hi")
    for line in result.stdout.splitlines():
        assert json.loads(line)["type"]


def test_a_fifty_step_tool_loop_writes_every_step(project: Project) -> None:
    project.config(simple_expert())
    project.script(
        """
[[rules]]
turn = "1-49"
[[rules.toolCalls]]
name = "appendTextFile"
args = { path = "log.txt", text = "x" }
[[rules]]
turn = 50
text = "Wrote 49 times."
"""
    )
    (project.root / "log.txt").write_text("")
    result = project.run("run", "writer", "Loop", "--max-steps", "60")
    assert result.code == 0, result.stderr
    assert (project.root / "log.txt").read_text() == "x" * 49
    assert len(result.of_type("callTools")) == 49
    steps = [e["stepNumber"] for e in result.of_type("startGeneration")]
    assert steps == list(range(1, 51))
    assert result.last("completeRun")["text"] == "Wrote 49 times."
    job_dir = next((project.storage / "jobs").iterdir())
    job = json.loads((job_dir / "job.json").read_text())
    assert job["status"] == "completed" and job["totalSteps"] == 50
    assert len(list((job_dir / "checkpoints").iterdir())) == 50


def test_max_steps_stops_the_job(project: Project) -> None:
    project.config(simple_expert())
    project.script(
        """
[[rules]]
[[rules.toolCalls]]
name = "todo"
args = { newTodos = ["again"] }
"""
    )
    result = project.run("run", "writer", "Forever", "--max-steps", "3")
    assert result.code == 0, result.stderr
    stop = result.last("stopRunByExceededMaxSteps")
    assert stop["checkpoint"]["status"] == "stoppedByExceededMaxSteps"
    assert stop["stepNumber"] == 3
    job_dir = next((project.storage / "jobs").iterdir())
    assert json.loads((job_dir / "job.json").read_text())["status"] == "stoppedByMaxSteps"


def test_retries_exhausted_stop_the_run_with_an_error(project: Project) -> None:
    project.config(simple_expert())
    project.script(
        """
[[rules]]
[rules.error]
name = "RateLimitError"
message = "Too many requests"
statusCode = 429
retryable = true
"""
    )
    result = project.run("run", "writer", "Hi", "--max-retries", "2")
    assert result.code == 0, result.stderr
    assert len(result.of_type("retry")) == 2
    reason = json.loads(result.of_type("retry")[0]["reason"])
    assert reason == {"error": "RateLimitError", "message": "Too many requests"}
    stop = result.last("stopRunByError")
    assert stop["error"] == {
        "name": "RateLimitError",
        "message": "Max retries (2) exceeded: Too many requests",
        "statusCode": 429,
        "isRetryable": False,
    }
    assert stop["checkpoint"]["error"]["name"] == "RateLimitError"


def test_no_tool_call_or_text_is_retried_then_given_up(project: Project) -> None:
    project.config(simple_expert())
    project.script("[[rules]]\n")
    result = project.run("run", "writer", "Hi", "--max-retries", "1")
    assert result.code == 0, result.stderr
    retry = result.last("retry")
    assert json.loads(retry["reason"])["error"] == "Error: No tool call or text generated"
    stop = result.last("stopRunByError")
    assert stop["error"]["name"] == "MaxRetriesExceeded"
    assert stop["error"]["message"] == "Max retries (1) exceeded: No tool call or text generated"


def test_unknown_tool_gets_an_error_result_and_the_run_goes_on(project: Project) -> None:
    project.config(simple_expert(extra='[experts."writer".skills."@perstack/base"]\ntype = "mcpStdioSkill"\ncommand = "npx"\npackageName = "@perstack/base"\npick = ["attemptCompletion", "todo"]\n'))
    project.script(
        """
[[rules]]
turn = 1
[[rules.toolCalls]]
name = "launchRockets"
args = { count = 3 }
[[rules]]
turn = 2
text = "No rockets available."
"""
    )
    result = project.run("run", "writer", "Launch")
    assert result.code == 0, result.stderr
    call = result.last("callTools")["toolCalls"][0]
    assert call["toolName"] == "launchRockets"
    results = result.last("resolveToolResults")["toolResults"]
    text = results[0]["result"][0]["text"]
    assert text == "Tool launchRockets not found. Available tools: attemptCompletion, todo"
    assert results[0]["isError"] is True
    assert result.last("completeRun")["text"] == "No rockets available."
