"""`perstack run --replay <jobId>` end to end: record with the scripted provider, replay."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.helpers import CliResult, Project
from tests.replay_compare import comparable_runs

TEAM = """
[experts."lead"]
instruction = "Lead the team."
delegates = ["alpha", "beta"]
[experts."alpha"]
description = "Alpha worker"
instruction = "Do the alpha part."
[experts."beta"]
description = "Beta worker"
instruction = "Do the beta part."
"""

# lead: alpha alone (sequential), a rate limit, then alpha and beta at once (parallel);
# beta reads a file and completes through a run-result generation.
SCRIPT = """
[[rules]]
expert = "lead"
turn = 1
reasoning = "Alpha prepares first."
[[rules.toolCalls]]
name = "alpha"
args = { query = "Prepare" }

[[rules]]
expert = "lead"
turn = 2
times = 1
[rules.error]
name = "RateLimitError"
message = "Too many requests"
statusCode = 429
retryable = true

[[rules]]
expert = "lead"
turn = 2
reasoning = "Now both at once."
[[rules.toolCalls]]
name = "alpha"
args = { query = "Part A" }
[[rules.toolCalls]]
name = "beta"
args = { query = "Part B" }

[[rules]]
expert = "alpha"
queryContains = "Prepare"
text = "prepared"

[[rules]]
expert = "alpha"
text = "alpha part done"

[[rules]]
expert = "beta"
turn = 1
[[rules.toolCalls]]
name = "readTextFile"
args = { path = "notes.txt" }

[[rules]]
expert = "beta"
turn = 2
[[rules.toolCalls]]
name = "attemptCompletion"

[[rules]]
expert = "beta"
purpose = "runResult"
reasoning = "Summarise the notes."
text = "The notes list three tasks."

[[rules]]
expert = "lead"
turn = 3
text = "The team is done: prepared, alpha part done, three tasks."
"""


def record(project: Project) -> tuple[CliResult, str]:
    project.config(TEAM)
    project.script(SCRIPT)
    project.write("notes.txt", "renew the certificate\nreview the budget\nbook the offsite\n")
    original = project.run("run", "lead", "Run the plan")
    assert original.code == 0, original.stderr
    return original, original.events[0]["jobId"]


def test_replay_reproduces_a_job_with_sequential_and_parallel_delegation(
    project: Project,
) -> None:
    original, job_id = record(project)
    starts = [(e["expertKey"], e["stepNumber"]) for e in original.of_type("startRun")]
    # lead 1 -> alpha 2 -> lead 3 (results in), 4 (rate limited), 5 (both delegates) ->
    # alpha and beta both at 6 -> lead 8 (after beta's two steps).
    assert starts[:3] == [("lead", 1), ("alpha", 2), ("lead", 3)]
    assert sorted(starts[3:5]) == [("alpha", 6), ("beta", 6)] and starts[5] == ("lead", 8)
    assert original.of_type("retry") and original.of_type("attemptCompletion")

    replay = project.run("run", "lead", "Run the plan", "--replay", job_id)
    assert replay.code == 0, replay.stderr
    assert replay.stderr == ""
    assert replay.events[0]["jobId"] != job_id  # a new job, stored beside the original
    assert comparable_runs(replay.events) == comparable_runs(original.events)
    text = "The team is done: prepared, alpha part done, three tasks."
    assert replay.last("completeRun")["text"] == text
    # The answers keep the recorded tool-call ids, so the two event streams line up.
    assert [c["id"] for e in replay.of_type("callTools") for c in e["toolCalls"]] == [
        c["id"] for e in original.of_type("callTools") for c in e["toolCalls"]
    ]


def test_a_changed_instruction_stops_the_replay_with_a_diff(project: Project) -> None:
    _, job_id = record(project)
    project.config(TEAM.replace("Lead the team.", "Lead the team firmly."))
    replay = project.run("run", "lead", "Run the plan", "--replay", job_id)
    assert replay.code == 0
    assert replay.stderr == ""
    assert [json.loads(line)["type"] for line in replay.stdout.splitlines()] == replay.types
    assert "callTools" not in replay.types
    error = replay.last("stopRunByError")["error"]
    assert error["name"] == "ReplayMismatch" and error["isRetryable"] is False
    lines = error["message"].splitlines()
    assert lines[0] == (
        f"Replay of job {job_id}: no recorded answer for this request of lead "
        "(step 1, toolCall, 2 messages)."
    )
    assert "--- recorded (lead, step 1, toolCall)" in lines and "+++ this request" in lines
    assert "-Lead the team." in lines and "+Lead the team firmly." in lines


def test_a_missing_job_is_one_line_and_exit_1(project: Project) -> None:
    project.config(TEAM)
    project.script(SCRIPT)
    result = project.run("run", "lead", "Go", "--replay", "no-such-job")
    assert result.code == 1
    assert result.stdout == ""
    assert result.stderr == f"Error: Replay: job no-such-job not found in {project.storage}\n"


def test_replay_and_provider_are_exclusive(project: Project) -> None:
    project.config(TEAM)
    result = project.run("run", "lead", "Go", "--replay", "j", "--provider", "scripted")
    assert result.code == 1
    assert result.stderr == "Error: --replay and --provider cannot be used together\n"


# ----------------------------------------------------------------- upstream's layout

UPSTREAM_PROMPT = (
    "You are Perstack, an AI expert that tackles tasks requested by users.\n\n"
    "# Meta instructions\nWork step by step.\n\n"
    "# Environment\nCurrent time: 2025-06-01T10:00:00.000Z\nWorking directory: /home/up\n\n"
    "# Your instruction\nYou write short greetings.\n"
)


class UpstreamJob:
    """Writes a job the way upstream Perstack does: events and checkpoints only."""

    def __init__(self, root: Path, job_id: str, run_id: str) -> None:
        self.job_dir = root / "jobs" / job_id
        self.run_dir = self.job_dir / "runs" / run_id
        self.run_dir.mkdir(parents=True)
        (self.job_dir / "checkpoints").mkdir()
        self.job_id, self.run_id = job_id, run_id
        self.clock = 1_748_772_000_000
        self.serial = 0

    def _id(self) -> str:
        self.serial += 1
        return f"up{self.serial:022d}"

    def text(self, text: str) -> dict[str, Any]:
        return {"type": "textPart", "id": self._id(), "text": text}

    def message(self, kind: str, *parts: dict[str, Any]) -> dict[str, Any]:
        return {"type": kind, "id": self._id(), "contents": list(parts)}

    def event(self, kind: str, step_number: int, **payload: Any) -> None:
        self.clock += 7
        event = {
            "type": kind, "id": self._id(), "expertKey": "writer", "timestamp": self.clock,
            "jobId": self.job_id, "runId": self.run_id, "stepNumber": step_number, **payload,
        }  # fmt: skip
        name = f"event-{self.clock}-{step_number}-{kind}.json"
        (self.run_dir / name).write_text(json.dumps(event, separators=(",", ":")))

    def checkpoint(self, step: int, status: str, messages: list[Any]) -> dict[str, Any]:
        checkpoint = {
            "id": self._id(), "jobId": self.job_id, "runId": self.run_id, "status": status,
            "stepNumber": step, "messages": messages,
            "expert": {"key": "writer", "name": "writer", "version": "1.0.0"},
            "usage": {"inputTokens": 10, "outputTokens": 5, "reasoningTokens": 0,
                      "totalTokens": 15, "cachedInputTokens": 0},
        }  # fmt: skip
        path = self.job_dir / "checkpoints" / f"{checkpoint['id']}.json"
        path.write_text(json.dumps(checkpoint))
        return checkpoint


def write_upstream_job(root: Path) -> None:
    """A rate limit, a retry, then attemptCompletion and a streamed run result."""
    job = UpstreamJob(root, "upstreamjob0000000000000", "upstreamrun0000000000000")
    empty = {"inputTokens": 0, "outputTokens": 0, "reasoningTokens": 0, "totalTokens": 0,
             "cachedInputTokens": 0}  # fmt: skip
    usage = {**empty, "inputTokens": 10, "outputTokens": 5, "totalTokens": 15}
    instruction = {**job.message("instructionMessage", job.text(UPSTREAM_PROMPT)), "cache": True}
    query = job.message("userMessage", job.text("Greet the team"))
    init = job.checkpoint(1, "init", [])
    job.event("startRun", 1, initialCheckpoint=init, inputMessages=[instruction, query])
    job.event("startGeneration", 1, messages=[instruction, query])
    reason = '{"error":"RateLimitError","message":"Rate limit exceeded"}'
    retry_message = job.message("userMessage", job.text(reason))
    job.event("retry", 1, reason=reason, newMessages=[retry_message], usage=empty)
    history = [instruction, query, retry_message]
    stopped = job.checkpoint(1, "proceeding", history)
    job.event(
        "continueToNextStep", 1, checkpoint=stopped, nextCheckpoint={**stopped, "stepNumber": 2},
        step={"stepNumber": 1, "newMessages": [retry_message], "usage": empty,
              "startedAt": job.clock, "finishedAt": job.clock},
    )  # fmt: skip
    job.event("startGeneration", 2, messages=history)
    job.event("startStreamingReasoning", 2)
    job.event("streamReasoning", 2, delta="A greeting ")
    job.event("streamReasoning", 2, delta="is enough.")
    job.event("completeStreamingReasoning", 2, text="A greeting is enough.")
    thinking = {"type": "thinkingPart", "id": job._id(), "thinking": "A greeting is enough.",
                "signature": "upstream-signature"}  # fmt: skip
    call = {"type": "toolCallPart", "id": job._id(), "toolCallId": "toolu_upstream_1",
            "toolName": "attemptCompletion", "args": {}}  # fmt: skip
    called = job.message("expertMessage", thinking, call)
    tool_call = {"id": "toolu_upstream_1", "skillName": "@perstack/base",
                 "toolName": "attemptCompletion", "args": {}}  # fmt: skip
    job.event("callTools", 2, newMessage=called, toolCalls=[tool_call], usage=usage)
    result = {**tool_call, "result": [job.text("{}")]}
    result.pop("args")
    job.event("attemptCompletion", 2, toolResult=result)
    job.event("startStreamingRunResult", 2)
    job.event("streamRunResult", 2, delta="Hello, ")
    job.event("streamRunResult", 2, delta="team!")
    job.event("completeStreamingRunResult", 2, text="Hello, team!")
    answered = job.message(
        "toolMessage",
        {"type": "toolResultPart", "id": job._id(), "toolCallId": "toolu_upstream_1",
         "toolName": "attemptCompletion", "contents": [job.text("{}")]},
    )  # fmt: skip
    final = job.message("expertMessage", job.text("Hello, team!"))
    done = job.checkpoint(2, "completed", [*history, called, answered, final])
    step = {"stepNumber": 2, "newMessages": [called, answered, final], "usage": usage,
            "startedAt": job.clock, "finishedAt": job.clock}  # fmt: skip
    job.event("completeRun", 2, checkpoint=done, step=step, text="Hello, team!", usage=usage)


def test_an_upstream_job_replays_from_perstack_toml(project: Project) -> None:
    write_upstream_job(project.root / "upstream")
    assert not list((project.root / "upstream").rglob("job.json"))
    assert not list((project.root / "upstream").rglob("run-setting.json"))
    project.write(
        "perstack.toml",
        '[provider]\nproviderName = "replay"\n[provider.setting]\n'
        'job = "upstreamjob0000000000000"\nstorage = "upstream"\n\n'
        '[experts."writer"]\ninstruction = "You write short greetings."\n',
    )
    replay = project.run("run", "writer", "Greet the team")
    assert replay.code == 0, replay.stderr
    assert replay.stderr == ""
    assert [e["stepNumber"] for e in replay.of_type("startGeneration")] == [1, 2]
    assert replay.last("retry")["reason"] == (
        '{"error":"RateLimitError","message":"Rate limit exceeded"}'
    )
    assert [e["delta"] for e in replay.of_type("streamReasoning")] == ["A greeting ", "is enough."]
    new_message = replay.last("callTools")["newMessage"]["contents"]
    assert new_message[0]["signature"] == "upstream-signature"
    assert replay.last("callTools")["toolCalls"][0]["id"] == "toolu_upstream_1"
    assert [e["delta"] for e in replay.of_type("streamRunResult")] == ["Hello, ", "team!"]
    assert replay.last("completeRun")["text"] == "Hello, team!"
    assert replay.last("completeRun")["usage"]["outputTokens"] == 5

    # The upstream prompt is worded differently; the Expert's instruction must still match.
    project.write(
        "perstack.toml",
        (project.root / "perstack.toml").read_text().replace("short greetings", "long letters"),
    )
    changed = project.run("run", "writer", "Greet the team")
    assert changed.last("stopRunByError")["error"]["name"] == "ReplayMismatch"
