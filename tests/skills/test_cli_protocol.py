"""The MCP protocol in `perstack run` (the real CLI, scripted provider, toolbox servers):
sampling counted in the usage, elicitation answered headless with `--continue -i`, skill
activity in `perstack log`, timeouts from perstack.toml, cancellation, and clean failures
(a killed SSE server, a restarted streamable-HTTP server, a SIGKILLed perstack)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.helpers import Project, simple_expert
from tests.skills.mcp_testkit import TOOLBOX, pid_alive, start_toolbox, stop

BOX = f"""
[experts."writer".skills.box]
type = "mcpStdioSkill"
command = '{sys.executable}'
args = ['{TOOLBOX}']
"""


def steps(*turns: str, result: str = "Done.") -> str:
    """A script: one tool call per turn (TOML inline tables), then completion."""
    rules = []
    for number, call in enumerate(turns, start=1):
        name, _, args = call.partition(" ")
        args_line = f"args = {args}\n" if args else ""
        rules.append(f"[[rules]]\nturn = {number}\n[[rules.toolCalls]]\nname = \"{name}\"\n{args_line}")
    finish = len(turns) + 1
    rules.append(f'[[rules]]\nturn = {finish}\n[[rules.toolCalls]]\nname = "attemptCompletion"\n')
    rules.append(f'[[rules]]\npurpose = "runResult"\ntext = "{result}"\n')
    return "\n".join(rules)


def results(events: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Tool name -> its (last) result, over the run."""
    found = {}
    for event in events:
        if event["type"] == "resolveToolResults":
            for result in event["toolResults"]:
                found[result["toolName"]] = result
    return found


def text_of(result: dict[str, Any]) -> str:
    return result["result"][0]["text"]


@pytest.fixture
def box(project: Project) -> Project:
    project.config(simple_expert(extra=BOX))
    return project


# --- sampling -------------------------------------------------------------------------


def test_sampling_is_answered_by_the_runs_model_and_counted(box: Project) -> None:
    box.script(
        steps('ask_model { prompt = "Sky colour?" }')
        + '\n[[rules]]\npurpose = "sampling"\ntext = "Blue"\n'
        + "usage = { inputTokens = 1000, outputTokens = 7 }\n"
    )
    result = box.run("run", "writer", "Go")
    assert result.code == 0, result.stderr
    assert text_of(results(result.events)["ask_model"]) == "the model (claude-sonnet-4-5) said: Blue"
    [sampling] = result.of_type("skillSampling")
    assert sampling["skillName"] == "box" and sampling["text"] == "Blue"
    assert sampling["request"]["systemPrompt"] == "Answer in one word."
    assert sampling["request"]["messages"] == [
        {"role": "user", "content": {"type": "text", "text": "Sky colour?"}}
    ]
    assert sampling["usage"]["inputTokens"] == 1000 and sampling["usage"]["outputTokens"] == 7
    # The tokens count in the job's usage: the steps' generations plus the sampling.
    generations = sum(
        e["usage"]["inputTokens"] for e in result.events if e["type"] in ("callTools", "completeRun")
    )
    job = json.loads(next((box.storage / "jobs").glob("*/job.json")).read_text())
    assert job["usage"]["inputTokens"] == generations + 1000
    assert result.last("completeRun")["checkpoint"]["usage"]["inputTokens"] == generations + 1000


def test_sampling_without_a_rule_fails_the_request_not_the_run(box: Project) -> None:
    box.script(steps('ask_model { prompt = "Sky colour?" }'))
    result = box.run("run", "writer", "Go")
    assert result.code == 0, result.stderr
    outcome = results(result.events)["ask_model"]
    assert outcome["isError"] and "No scripted answer" in text_of(outcome)
    assert "No scripted answer" in result.last("skillSampling")["error"]


# --- elicitation, headless --------------------------------------------------------------


def test_elicitation_stops_the_run_and_continue_i_answers_it(box: Project) -> None:
    box.script(steps('ask_person { question = "Who are you?" }'))
    first = box.run("run", "writer", "Go")
    assert first.code == 0, first.stderr
    stop = first.last("stopRunByInteractiveTool")
    asked = first.last("skillElicitation")
    assert asked["message"] == "Who are you?" and asked["mode"] == "form"
    assert set(asked["requestedSchema"]["required"]) == {"name", "age"}
    pending = stop["checkpoint"]["metadata"]["elicitation"]
    assert pending["toolName"] == "ask_person" and pending["request"]["message"] == "Who are you?"
    assert stop["checkpoint"]["pendingToolCalls"][0]["id"] == pending["toolCallId"]

    # An answer that does not fit the form: one line, before anything starts.
    bad = box.run("run", "writer", "Ada", "--continue", "-i")
    assert bad.code == 1 and bad.events == []
    assert bad.stderr.strip().splitlines()[-1] == (
        "Error: Answer skill box's form with a JSON object of name, age "
        "(e.g. '{\"name\": \"Ada\"}'), or \"decline\" or \"cancel\""
    )
    wrong = box.run("run", "writer", '{"name": "Ada", "age": "old"}', "--continue", "-i")
    assert wrong.code == 1
    assert wrong.stderr.strip().splitlines()[-1] == (
        "Error: The answer does not fit the form skill box asked for at age: "
        "'old' is not of type 'integer'"
    )

    done = box.run("run", "writer", '{"name": "Ada", "age": 36}', "--continue", "-i")
    assert done.code == 0, done.stderr
    assert text_of(results(done.events)["ask_person"]) == "Hello Ada, 36"
    assert done.last("skillElicitationAnswer")["content"] == {"name": "Ada", "age": 36}
    assert done.last("completeRun")["text"] == "Done."
    assert "elicitation" not in (done.last("completeRun")["checkpoint"].get("metadata") or {})


def test_two_questions_are_answered_one_continue_at_a_time(box: Project) -> None:
    box.script(steps("ask_twice"))
    assert box.run("run", "writer", "Go").last("skillElicitation")["message"] == "Who are you?"
    second = box.run("run", "writer", '{"name": "Ada", "age": 36}', "--continue", "-i")
    assert second.code == 0, second.stderr
    # The call ran again: the first question answered from the first answer, then the next.
    assert [e["message"] for e in second.of_type("skillElicitation")] == [
        "Who are you?",
        "Sure, Ada?",
    ]
    assert second.last("stopRunByInteractiveTool")
    third = box.run("run", "writer", "yes", "--continue", "-i")  # a one-field form
    assert third.code == 0, third.stderr
    assert text_of(results(third.events)["ask_twice"]) == "Ada is sure: True"


def test_declining_a_question(box: Project) -> None:
    box.script(steps('ask_person { question = "Who are you?" }'))
    box.run("run", "writer", "Go")
    done = box.run("run", "writer", "decline", "--continue", "-i")
    assert done.code == 0, done.stderr
    assert text_of(results(done.events)["ask_person"]) == "no answer: decline"


# --- progress, logging and the log ----------------------------------------------------------


def test_progress_and_logs_are_stored_and_shown_by_perstack_log(box: Project) -> None:
    box.script(steps("work { steps = 2, delay = 0.06 }", "chatty", 'fail { message = "no" }'))
    result = box.run("run", "writer", "Go")
    assert result.code == 0, result.stderr
    assert [e["message"] for e in result.of_type("skillProgress")] == [
        "step 1 of 2",
        "step 2 of 2",
    ]
    assert [e["level"] for e in result.of_type("skillLog")] == ["info", "warning", "error", "info"]
    shown = box.run("log", "--tools", "--summary", "--take", "0")
    assert shown.code == 0, shown.stderr
    text = shown.stdout
    assert "  box work: 2/2 step 2 of 2\n" in text
    assert "  [warning] box/chatty: a warning message\n" in text
    assert "  ✓ work: worked 2 steps\n" in text
    assert "  ✗ fail: Error calling tool fail: Error executing...\n" in text
    assert "  Tool Calls: 4\n" in text  # work, chatty, fail, attemptCompletion


def test_tool_timeout_from_the_file_and_the_skill(project: Project) -> None:
    skill = BOX.replace("args = [", "toolTimeout = 200\nargs = [")
    project.config(simple_expert(extra=skill), head="toolTimeout = 100000")
    project.script(steps("sleep { seconds = 5 }"))
    result = project.run("run", "writer", "Go")
    assert text_of(results(result.events)["sleep"]) == (
        "Error calling tool sleep: the tool did not answer within 0.2 s"
    )
    project.config(simple_expert(extra=BOX), head="toolTimeout = 300")
    result = project.run("run", "writer", "Go")
    assert text_of(results(result.events)["sleep"]) == (
        "Error calling tool sleep: the tool did not answer within 0.3 s"
    )


# --- cancellation and failures ----------------------------------------------------------


def read_events(process: subprocess.Popen[bytes]) -> Iterator[dict[str, Any]]:
    assert process.stdout is not None
    for line in process.stdout:
        if line.strip():
            yield json.loads(line)


def wait_for(events: Iterator[dict[str, Any]], event_type: str) -> dict[str, Any]:
    for event in events:
        if event["type"] == event_type:
            return event
    raise AssertionError(f"the run ended before {event_type}")


def test_sigterm_tells_the_server_with_notifications_cancelled(box: Project) -> None:
    marker = box.root / "cancelled"
    box.script(steps(f"wait_cancel {{ marker = '{marker}' }}"))
    process = box.popen("run", "writer", "Go")
    try:
        wait_for(read_events(process), "skillProgress")  # the tool runs
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 143
    finally:
        process.kill()
    assert marker.read_text() == "cancelled"  # written before the server was stopped


def test_sigkill_of_perstack_leaves_no_server(box: Project) -> None:
    box.script(steps("pids", f"work_until {{ path = '{box.root / 'never'}' }}"))
    process = box.popen("run", "writer", "Go")
    events = read_events(process)
    try:
        resolved = wait_for(events, "resolveToolResults")
        pid = json.loads(text_of(resolved["toolResults"][0]))["server"]
        wait_for(events, "skillProgress")  # busy in a tool: it will not see stdin close
        process.send_signal(signal.SIGKILL)
        process.wait(10)
        deadline = time.monotonic() + 2
        while pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not pid_alive(pid), "the server outlived perstack by 2 s"
    finally:
        process.kill()


def remote_skill(name: str, kind: str, url: str, **fields: str) -> str:
    table = f'\n[experts."writer".skills.{name}]\ntype = "{kind}"\nendpoint = "{url}"\n'
    table += "allowPrivateNetwork = true\n"
    return table + "".join(f"{key} = {value}\n" for key, value in fields.items())


def test_sse_server_killed_mid_call_no_traceback(project: Project) -> None:
    server = start_toolbox("sse")
    try:
        project.config(simple_expert(extra=remote_skill("remote", "mcpSseSkill", server.url)))
        project.script(
            steps(f"work_until {{ path = '{project.root / 'never'}' }}", 'read_text { text = "x" }')
        )
        process = project.popen("run", "writer", "Go")
        events = read_events(process)
        wait_for(events, "skillProgress")  # mid-call
        stop(server, signal.SIGKILL)
        rest = list(events)
        assert process.wait(30) == 0
        assert process.stderr is not None
        stderr = process.stderr.read().decode()
    finally:
        stop(server, signal.SIGKILL)
        process.kill()
    assert "Traceback" not in stderr and stderr == ""
    found = results(rest)
    where = f"MCP server remote (SSE endpoint {server.url}) is not available"
    assert found["work_until"]["isError"] and where in text_of(found["work_until"])
    # The next call tries a new connection, which fails naming the skill and endpoint.
    assert text_of(found["read_text"]) == (
        f"Error calling tool read_text: {where}: All connection attempts failed"
    )


def test_streamable_http_server_restarted_between_calls(project: Project) -> None:
    server = start_toolbox("http")
    port = int(server.url.split(":")[2].split("/")[0])
    gate = BOX.replace(".box]", ".gate]") + 'pick = ["work_until"]\n'
    remote = remote_skill("remote", "mcpStreamableHttpSkill", server.url, omit='["work_until"]')
    project.config(simple_expert(extra=gate + remote))
    appended = project.root / "appended"
    project.script(
        steps(
            'read_text { text = "before" }',
            f"work_until {{ path = '{project.root / 'go1'}' }}",
            'read_text { text = "after" }',  # read-only: retried on a new session
            f"work_until {{ path = '{project.root / 'go2'}' }}",
            f"append {{ path = '{appended}', text = 'a' }}",  # not retried: a clear error
            f"append {{ path = '{appended}', text = 'b' }}",  # the new session works
        )
    )
    process = project.popen("run", "writer", "Go")
    events = read_events(process)
    seen: list[dict[str, Any]] = []
    try:
        for gate_file in ("go1", "go2"):
            # The gate's call is waiting: restart the server, then open the gate.
            while (event := next(events)).get("message") != "waiting for the go":
                seen.append(event)
            stop(server, signal.SIGKILL)
            server = start_toolbox("http", port)  # the same endpoint, a new process
            (project.root / gate_file).touch()
        seen += list(events)
        assert process.wait(30) == 0
    finally:
        stop(server)
        process.kill()
    outcomes = [
        (r["toolName"], r.get("isError"), text_of(r))
        for e in seen if e["type"] == "resolveToolResults" for r in e["toolResults"]
    ]  # fmt: skip
    where = f"streamable HTTP endpoint {server.url}"
    assert outcomes[:6] == [
        ("read_text", None, "before"),
        ("work_until", None, "went"),
        ("read_text", None, "after"),
        ("work_until", None, "went"),
        (
            "append",
            True,
            f"Error calling tool append: the server of skill remote ({where}) dropped the "
            "session; a new session was started, but append was not retried because it is "
            "not marked read-only or idempotent. Call it again if that is safe.",
        ),
        ("append", None, "appended"),
    ]
    assert appended.read_text() == "b"
    remote_connects = [e for e in seen if e["type"] == "skillConnected" and e["skillName"] == "remote"]
    assert len(remote_connects) == 3  # the first session, then one per restart
