"""`perstack run` across processes: interactive stop and resume, --continue, --resume-from,
delegation, interruption, and secrets kept off disk and stdout."""

from __future__ import annotations

import json
import signal

import pytest

from tests.helpers import Project, simple_expert

ASKER = """
[experts."asker"]
instruction = "Ask the user."
[experts."asker".skills."ask"]
type = "interactiveSkill"
[experts."asker".skills."ask".tools."askUser"]
description = "Ask the user a question"
inputJsonSchema = '{"type":"object","properties":{"question":{"type":"string"}}}'
"""


def test_interactive_stop_exits_0_and_the_answer_resumes_the_job(project: Project) -> None:
    project.config(ASKER)
    project.script(
        """
[[rules]]
turn = 1
[[rules.toolCalls]]
name = "askUser"
args = { question = "Your name?" }
[[rules]]
turn = 2
text = "Nice to meet you."
"""
    )
    stopped = project.run("run", "asker", "Greet me")
    assert stopped.code == 0, stopped.stderr
    assert stopped.types[-2:] == ["stopRunByInteractiveTool", "skillDisconnected"]
    call = stopped.last("callInteractiveTool")["toolCall"]
    assert call["toolName"] == "askUser" and call["skillName"] == "ask"

    resumed = project.run("run", "asker", "Ada", "--continue", "-i")
    assert resumed.code == 0, resumed.stderr
    assert resumed.last("initializeRuntime")["interactiveToolCall"] == {
        "toolName": "askUser",
        "toolCallId": call["id"],
        "text": "Ada",
    }
    start = resumed.of_type("startRun")[0]
    assert start["initialCheckpoint"]["status"] == "stoppedByInteractiveTool"
    assert start["jobId"] == stopped.events[0]["jobId"]
    finish = resumed.last("finishAllToolCalls")["newMessages"][0]["contents"][0]
    assert finish["toolCallId"] == call["id"] and finish["contents"][0]["text"] == "Ada"
    assert resumed.last("completeRun")["text"] == "Nice to meet you."


def test_resuming_an_interactive_stop_without_i_fails_clearly(project: Project) -> None:
    project.config(ASKER)
    project.script('[[rules]]\n[[rules.toolCalls]]\nname = "askUser"\nargs = {}\n')
    assert project.run("run", "asker", "Greet me").code == 0
    result = project.run("run", "asker", "Ada", "--continue")
    assert result.code == 1
    assert result.stderr.strip().endswith("Interactive tool call result is undefined")
    assert len(result.stderr.strip().splitlines()) == 1


def test_continue_after_a_completed_run_continues_the_same_job(project: Project) -> None:
    project.config(simple_expert())
    project.script(
        """
[[rules]]
turn = 1
text = "First answer."
[[rules]]
turn = 2
text = "Second answer."
"""
    )
    first = project.run("run", "writer", "One")
    second = project.run("run", "writer", "Two", "--continue")
    assert second.code == 0, second.stderr
    assert second.events[0]["jobId"] == first.events[0]["jobId"]
    assert second.last("completeRun")["text"] == "Second answer."
    first_step = first.last("completeRun")["stepNumber"]
    assert second.of_type("startRun")[0]["stepNumber"] == first_step + 1
    job_dirs = list((project.storage / "jobs").iterdir())
    assert len(job_dirs) == 1
    runs = list((job_dirs[0] / "runs").iterdir())
    assert len(runs) == 2 and all((r / "run-setting.json").is_file() for r in runs)


def test_resume_from_an_earlier_checkpoint(project: Project) -> None:
    project.config(simple_expert())
    project.script(
        """
[[rules]]
turn = "1-3"
[[rules.toolCalls]]
name = "appendTextFile"
args = { path = "out.txt", text = "+" }
[[rules]]
text = "Finished."
"""
    )
    (project.root / "out.txt").write_text("")
    first = project.run("run", "writer", "Go")
    assert first.last("completeRun")["stepNumber"] == 4
    job_id = first.events[0]["jobId"]
    step_one = first.of_type("continueToNextStep")[0]["checkpoint"]
    assert step_one["stepNumber"] == 1
    again = project.run(
        "run", "writer", "Again", "--continue-job", job_id, "--resume-from", step_one["id"]
    )
    assert again.code == 0, again.stderr
    start = again.of_type("startRun")[0]
    assert start["stepNumber"] == 2
    # History up to step 1 only: instruction, query, one call and its result, the new query.
    history = again.of_type("startGeneration")[0]["messages"]
    assert [m["type"] for m in history] == [
        "instructionMessage",
        "userMessage",
        "expertMessage",
        "toolMessage",
        "userMessage",
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--resume-from", "cp1"], "Error: --resume-from requires --continue-job"),
        (["--continue-job", "nope"], "Error: No checkpoints found for job nope"),
        (["--continue"], "Error: No runs found"),
    ],
)
def test_continue_errors_are_one_line(project: Project, args: list[str], message: str) -> None:
    project.config(simple_expert())
    project.script('[[rules]]\ntext = "hi"\n')
    result = project.run("run", "writer", "Go", *args)
    assert result.code == 1
    assert result.stderr.strip() == message
    assert result.stdout == ""


def test_resume_from_unknown_checkpoint(project: Project) -> None:
    project.config(simple_expert())
    project.script('[[rules]]\ntext = "hi"\n')
    job_id = project.run("run", "writer", "Go").events[0]["jobId"]
    result = project.run("run", "writer", "Go", "--continue-job", job_id, "--resume-from", "nope")
    assert result.code == 1
    assert result.stderr.strip() == f"Error: Checkpoint nope not found in job {job_id}"


def test_continue_with_another_expert_is_refused(project: Project) -> None:
    project.config(simple_expert() + simple_expert("other"))
    project.script('[[rules]]\ntext = "hi"\n')
    project.run("run", "writer", "Go")
    result = project.run("run", "other", "Go", "--continue")
    assert result.code == 1
    assert result.stderr.strip() == (
        "Error: Checkpoint expert key writer does not match input expert key other"
    )


TEAM = """
[experts."lead"]
instruction = "Lead."
delegates = ["alpha", "beta"]
[experts."alpha"]
description = "Alpha worker"
instruction = "Alpha."
[experts."beta"]
description = "Beta worker"
instruction = "Beta."
"""


def test_parallel_delegation_through_the_cli(project: Project) -> None:
    project.config(TEAM)
    project.script(
        """
[[rules]]
expert = "lead"
turn = 1
[[rules.toolCalls]]
name = "alpha"
args = { query = "A" }
[[rules.toolCalls]]
name = "beta"
args = { query = "B" }
[[rules]]
expert = "alpha"
text = "alpha ok"
[[rules]]
expert = "beta"
error = { name = "APIError", message = "beta broke" }
[[rules]]
expert = "lead"
turn = 2
text = "one worked, one failed"
"""
    )
    result = project.run("run", "lead", "Split the work")
    assert result.code == 0, result.stderr
    assert [e["expertKey"] for e in result.of_type("startRun")] == ["lead", "alpha", "beta", "lead"]
    assert result.last("stopRunByError")["expertKey"] == "beta"
    finish = result.last("finishAllToolCalls")["newMessages"][0]["contents"]
    assert [c["contents"][0]["text"] for c in finish] == [
        "alpha ok",
        "Delegation failed: beta broke",
    ]
    assert finish[1]["isError"] is True
    assert result.last("completeRun")["text"] == "one worked, one failed"


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_run_leaves_whole_files_and_continues(project: Project, sig: int) -> None:
    project.config(simple_expert())
    project.script(
        """
[[rules]]
turn = 1
[[rules.toolCalls]]
name = "todo"
args = { newTodos = ["a"] }
[[rules]]
turn = 2
delayMs = 60000
text = "never"
"""
    )
    process = project.popen("run", "writer", "Go")
    assert process.stdout is not None
    for line in process.stdout:  # wait for the slow generation to start (no sleeping)
        event = json.loads(line)
        if event["type"] == "startGeneration" and event["stepNumber"] == 2:
            break
    process.send_signal(sig)
    process.wait(timeout=30)
    assert process.returncode in (130, 143)
    for path in project.storage.rglob("*"):
        assert not path.name.startswith("."), f"temp file left behind: {path}"
        if path.suffix == ".json":
            json.loads(path.read_text())  # every file is whole
    project.script('[[rules]]\ntext = "resumed"\n')  # the model answers quickly this time
    resumed = project.run("run", "writer", "Continue", "--continue")
    assert resumed.code == 0, resumed.stderr
    assert resumed.last("completeRun")["text"] == "resumed"
    assert resumed.of_type("startRun")[0]["stepNumber"] == 2


def test_secrets_never_reach_disk_or_stdout(project: Project) -> None:
    project.config(simple_expert())
    project.script('[[rules]]\ntext = "hi"\n')
    project.write(".env", "MY_SERVICE_TOKEN=sup3r-s3cret-from-dotenv\n")
    result = project.run(
        "run", "writer", "Go", env={"ANTHROPIC_API_KEY": "sk-ant-very-secret-key"}
    )
    assert result.code == 0, result.stderr
    assert "very-secret" not in result.stdout and "s3cret" not in result.stdout
    for path in project.storage.rglob("*.json"):
        text = path.read_text()
        assert "very-secret" not in text and "s3cret" not in text, path
    setting_file = next(project.storage.rglob("run-setting.json"))
    setting = json.loads(setting_file.read_text())
    assert setting["env"]["MY_SERVICE_TOKEN"] == "[redacted]"


def test_sequential_delegation_through_the_cli(project: Project) -> None:
    project.config(TEAM)
    project.script(
        """
[[rules]]
expert = "lead"
turn = 1
[[rules.toolCalls]]
name = "alpha"
args = { query = "Do the alpha part" }
[[rules]]
expert = "alpha"
text = "alpha part done"
[[rules]]
expert = "lead"
turn = 2
text = "lead wraps up"
"""
    )
    result = project.run("run", "lead", "Go")
    assert result.code == 0, result.stderr
    starts = [(e["expertKey"], e["stepNumber"]) for e in result.of_type("startRun")]
    assert starts == [("lead", 1), ("alpha", 2), ("lead", 3)]
    child_start = result.of_type("startRun")[1]
    assert child_start["inputMessages"][1]["contents"][0]["text"] == "Do the alpha part"
    assert child_start["initialCheckpoint"]["delegatedBy"]["expert"]["key"] == "lead"
    resumed = result.of_type("startRun")[2]["initialCheckpoint"]
    assert resumed["status"] == "stoppedByDelegate"
    answer = result.last("finishAllToolCalls")["newMessages"][0]["contents"][0]
    assert answer["contents"][0]["text"] == "alpha part done"
    assert result.last("completeRun")["text"] == "lead wraps up"
    # Each run segment is stored with its own run setting.
    runs = list(next((project.storage / "jobs").iterdir()).joinpath("runs").iterdir())
    assert len(runs) == 3
