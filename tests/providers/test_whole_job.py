"""A whole job through ``perstack run`` gives the same events via the SDKs as scripted.

One job, written once below as :data:`PLAN`: a lead Expert delegates to ``alpha`` alone
(sequential), then to ``alpha`` and ``beta`` at once (parallel); the delegates use the base
skill's file tools, one calls two tools in one answer, and runs end both through a
run-result generation and by a plain text answer. The plan becomes

* a script for the scripted provider, and
* the answers of the fake LLM server, which works out from each request's body which
  Expert is asking (its instruction in the system prompt, its query) and at which turn
  (assistant turns so far; a request with no tools is the run-result generation). Parallel
  delegates reach the server concurrently, so nothing may depend on arrival order.

The real CLI runs the job with each provider; the event sequences must agree run by run:
types, Experts, step numbers, tool calls with ids, arguments and results, streamed deltas,
checkpointed messages and final texts. Ids of events, messages and parts, timestamps and
token usage aside (the scripted provider estimates usage, the fake server makes it up).
Anthropic answers with signed thinking, which appears as reasoning events and comes back
to the model with its signature; the OpenAI path streams no reasoning, so it is compared
with the same script without it.
"""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest
from fake_llm_server import (
    AnthropicReply,
    FakeLLMServer,
    OpenAIReply,
    RecordedRequest,
    ToolCallSpec,
)

from tests.helpers import CliResult, Project, parse_stream
from tests.replay_compare import comparable

#: Characters per streamed delta, on both sides, so the stream events line up one to one.
CHUNK = 4

INSTRUCTIONS = {
    "lead": "Lead the team.",
    "alpha": "Do the alpha part.",
    "beta": "Do the beta part.",
}

EXPERTS = """
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


@dataclass(frozen=True)
class Answer:
    """One model answer of the plan and the requests it answers (first match wins).

    ``turn`` is 1 + the assistant turns in the request; ``None`` matches any. A
    ``runResult`` answer answers the generation that follows ``attemptCompletion``.
    """

    expert: str
    turn: int | None = None
    purpose: str = "toolCall"
    query: str | None = None  # a fragment of the run's query
    reasoning: str = ""
    signature: str = ""
    text: str = ""
    calls: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)


FINAL_TEXT = "The team is done: the plan is written and both parts are reported."

PLAN = [
    Answer(
        "lead",
        1,
        reasoning="Alpha prepares the plan first.",
        signature="sig-lead-1",
        calls=[("call_lead_1", "alpha", {"query": "Prepare the plan"})],
    ),
    Answer(
        "lead",
        2,
        reasoning="Now both parts at once.",
        signature="sig-lead-2",
        calls=[
            ("call_lead_2a", "alpha", {"query": "Part A"}),
            ("call_lead_2b", "beta", {"query": "Part B"}),
        ],
    ),
    Answer(
        "lead",
        3,
        calls=[("call_lead_3", "readTextFile", {"path": "report.txt"})],
    ),
    Answer("lead", 4, calls=[("call_lead_4", "attemptCompletion", {})]),
    Answer(
        "lead",
        purpose="runResult",
        reasoning="Sum it up.",
        signature="sig-lead-r",
        text=FINAL_TEXT,
    ),
    # alpha, first (sequential) delegation: writes the plan, completes with a run result.
    Answer(
        "alpha",
        1,
        query="Prepare",
        reasoning="Write it down.",
        signature="sig-alpha-1",
        calls=[("call_alpha_p1", "writeTextFile", {"path": "plan.txt", "text": "1. A\n2. B\n"})],
    ),
    Answer("alpha", 2, query="Prepare", calls=[("call_alpha_p2", "attemptCompletion", {})]),
    Answer("alpha", purpose="runResult", query="Prepare", text="The plan is in plan.txt."),
    # alpha, second (parallel) delegation: reads the plan, ends with a plain text answer.
    Answer(
        "alpha",
        1,
        query="Part A",
        calls=[("call_alpha_a1", "readTextFile", {"path": "plan.txt"})],
    ),
    Answer("alpha", 2, query="Part A", text="Part A follows step 1 of the plan."),
    # beta: two tools in one answer, then a report, then a run result with reasoning.
    Answer(
        "beta",
        1,
        reasoning="Read both files.",
        signature="sig-beta-1",
        calls=[
            ("call_beta_1a", "readTextFile", {"path": "notes.txt"}),
            ("call_beta_1b", "readTextFile", {"path": "plan.txt"}),
        ],
    ),
    Answer(
        "beta",
        2,
        calls=[("call_beta_2", "writeTextFile", {"path": "report.txt", "text": "B: 3 notes"})],
    ),
    Answer("beta", 3, calls=[("call_beta_3", "attemptCompletion", {})]),
    Answer(
        "beta",
        purpose="runResult",
        reasoning="Three notes.",
        signature="sig-beta-r",
        text="Part B: the notes list three tasks.",
    ),
]


# --- the plan as a script -------------------------------------------------------------


def script_rules(*, reasoning: bool) -> list[dict[str, Any]]:
    """The plan as scripted-provider rules (``reasoning``: with signed thinking)."""
    rules = []
    for answer in PLAN:
        rule: dict[str, Any] = {"expert": answer.expert, "purpose": answer.purpose}
        if answer.turn is not None:
            rule["turn"] = answer.turn
        if answer.query is not None:
            rule["queryContains"] = answer.query
        if reasoning and answer.reasoning:
            rule["reasoning"] = answer.reasoning
            rule["signature"] = answer.signature
        if answer.text:
            rule["text"] = answer.text
        if answer.calls:
            rule["toolCalls"] = [{"id": i, "name": n, "args": a} for i, n, a in answer.calls]
        rule["chunkSize"] = CHUNK
        rules.append(rule)
    return rules


# --- the plan as the fake server's answers --------------------------------------------

_INSTRUCTION = re.compile(r"^Instruction:\n(.*?)$", re.MULTILINE)


@dataclass
class Asked:
    """What a request asks, read from its body alone."""

    expert: str
    query: str
    turn: int
    purpose: str


def asked(request: RecordedRequest) -> Asked:
    """Which Expert asks, for which query, at which turn, for what (from the body)."""
    body = request.body
    messages = body["messages"]
    if request.path.endswith("/v1/messages"):  # Anthropic: system blocks, content blocks
        system = "".join(block["text"] for block in body["system"])
        query = messages[0]["content"][0]["text"]
    else:  # Chat Completions: the system message first, then the query
        system = messages[0]["content"]
        query = messages[1]["content"]
    instruction = _INSTRUCTION.search(system)
    assert instruction is not None, system
    expert = next(k for k, text in INSTRUCTIONS.items() if text == instruction.group(1))
    turns = sum(1 for m in messages if m["role"] == "assistant")
    return Asked(expert, query, turns + 1, "toolCall" if body.get("tools") else "runResult")


def plan_answer(question: Asked) -> Answer:
    for answer in PLAN:
        if (
            answer.expert == question.expert
            and answer.purpose == question.purpose
            and answer.turn in (None, question.turn)
            and (answer.query is None or answer.query in question.query)
        ):
            return answer
    raise AssertionError(f"the plan has no answer for {question}")


def respond(request: RecordedRequest) -> AnthropicReply | OpenAIReply:
    """The fake model: the plan's answer to this request, in the request's protocol."""
    answer = plan_answer(asked(request))
    calls = [ToolCallSpec(i, n, orjson.dumps(a).decode()) for i, n, a in answer.calls]
    if request.path.endswith("/v1/messages"):
        thinking = [(answer.reasoning, answer.signature)] if answer.reasoning else []
        return AnthropicReply(text=answer.text, thinking=thinking, tool_calls=calls, chunk=CHUNK)
    return OpenAIReply(text=answer.text, tool_calls=calls, chunk=CHUNK)


# --- running the job ------------------------------------------------------------------

MODELS = {"anthropic": "claude-sonnet-4-5", "openai": "gpt-4.1"}

#: The real CLI with the ``anthropic`` SDK imported before it starts, so every request
#: of the job goes through the SDK client (a plain launch sends the first ones without it).
SDK_FIRST = "import anthropic, sys; from workbench.cli import main; sys.exit(main())"


def setup(project: Project, provider: str, model: str) -> None:
    head = f'model = "{model}"\n\n[provider]\nproviderName = "{provider}"\n'
    if provider == "scripted":
        head += '[provider.setting]\nscript = "script.json"\n'
    project.write("perstack.toml", head + EXPERTS)
    project.write("notes.txt", "renew the certificate\nreview the budget\nbook the offsite\n")


@dataclass
class Job:
    """A finished ``perstack run`` and the project it ran in."""

    project: Project
    result: CliResult


def run_job(project: Project, env: dict[str, str] | None = None, *, sdk_first: bool = False) -> Job:
    args = ("run", "lead", "Run the plan")
    if sdk_first:
        completed = subprocess.run(
            [sys.executable, "-c", SDK_FIRST, *args],
            cwd=project.root,
            capture_output=True,
            text=True,
            env=project.env(env),
            timeout=120,
            check=False,
        )
        events = parse_stream(completed.stdout)
        result = CliResult(completed.returncode, completed.stdout, completed.stderr, events)
    else:
        result = project.run(*args, env=env)
    assert result.code == 0, result.stderr
    assert result.last("completeRun")["text"] == FINAL_TEXT, result.stdout[-2000:]
    return Job(project, result)


def scripted_job(project: Project, model: str, *, reasoning: bool) -> Job:
    setup(project, "scripted", model)
    rules = script_rules(reasoning=reasoning)
    project.write("script.json", orjson.dumps({"rules": rules}).decode())
    return run_job(project)


#: Not part of what a job does: token counts (estimated by the scripted provider, made up
#: by the fake server) and the context-window share computed from them.
_USAGE_KEYS = frozenset({"usage", "contextWindowUsage"})


def _normalised(value: Any, root: str) -> Any:
    """``value`` without usage, and with the project's directory (tool results hold
    absolute paths) as ``(project)``."""
    if isinstance(value, dict):
        return {k: _normalised(v, root) for k, v in value.items() if k not in _USAGE_KEYS}
    if isinstance(value, list):
        return [_normalised(v, root) for v in value]
    if isinstance(value, str):
        return value.replace(root, "(project)")
    return value


def runs(job: Job) -> list[list[dict[str, Any]]]:
    """Each run's events in order, comparable across providers; runs sorted by content.

    Parallel delegates interleave differently every time, so runs are compared one by
    one rather than the whole stream line by line.
    """
    by_run: dict[str, list[dict[str, Any]]] = {}
    for event in job.result.events:
        normalised = _normalised(comparable(event), str(job.project.root))
        by_run.setdefault(event["runId"], []).append(normalised)
    return sorted(by_run.values(), key=lambda run: orjson.dumps(run, option=orjson.OPT_SORT_KEYS))


def assert_same_events(actual: Job, expected: Job) -> None:
    """The two jobs' runs agree event by event; a failure shows the first difference."""
    actual_runs, expected_runs = runs(actual), runs(expected)
    shapes = [[(e.get("expertKey"), e["type"]) for e in run] for run in expected_runs]
    assert [[(e.get("expertKey"), e["type"]) for e in run] for run in actual_runs] == shapes
    for actual_run, expected_run in zip(actual_runs, expected_runs, strict=True):
        for got, want in zip(actual_run, expected_run, strict=True):
            assert got == want, (
                f"first difference:\n  got  {orjson.dumps(got).decode()[:2000]}\n"
                f"  want {orjson.dumps(want).decode()[:2000]}"
            )


def assert_each_answer_given_once(server: FakeLLMServer) -> None:
    """Every answer of the plan was asked for exactly once: no retries, no extra calls."""
    given = sorted(PLAN.index(plan_answer(asked(r))) for r in server.requests)
    assert given == list(range(len(PLAN)))


# --- the tests ------------------------------------------------------------------------


def test_the_plan_exercises_what_it_claims(project: Project) -> None:
    """The scripted job itself: sequential then parallel delegation, tools, reasoning."""
    result = scripted_job(project, MODELS["anthropic"], reasoning=True).result
    starts = [(e["expertKey"], e["stepNumber"]) for e in result.of_type("startRun")]
    # lead 1 -> alpha 2-3 -> lead 4 -> alpha and beta both from 6 -> lead 9 (after beta).
    assert starts[:3] == [("lead", 1), ("alpha", 2), ("lead", 4)]
    assert sorted(starts[3:5]) == [("alpha", 6), ("beta", 6)]
    assert starts[5:] == [("lead", 9)]
    tools = {c["toolName"] for e in result.of_type("callTools") for c in e["toolCalls"]}
    assert {"readTextFile", "writeTextFile", "attemptCompletion"} <= tools
    assert any(len(e["toolCalls"]) == 2 for e in result.of_type("callTools"))
    assert len(result.of_type("completeStreamingReasoning")) == 6
    assert len(result.of_type("completeRun")) == 4
    assert (project.root / "report.txt").read_text() == "B: 3 notes"


@pytest.mark.parametrize("sdk_first", [False, True], ids=["cold-start", "sdk"])
def test_anthropic_path_gives_the_scripted_event_sequence(
    project: Project,
    llm_server: FakeLLMServer,
    tmp_path_factory: pytest.TempPathFactory,
    sdk_first: bool,
) -> None:
    scripted = Project(tmp_path_factory.mktemp("scripted"))
    expected = scripted_job(scripted, MODELS["anthropic"], reasoning=True)
    llm_server.responder = respond
    setup(project, "anthropic", MODELS["anthropic"])
    env = {"ANTHROPIC_API_KEY": "sk-ant-test", "ANTHROPIC_BASE_URL": llm_server.base_url}
    actual = run_job(project, env, sdk_first=sdk_first)

    assert_same_events(actual, expected)
    assert_each_answer_given_once(llm_server)
    # The SDK marks its requests; a cold start sends at least the first one without it.
    through_sdk = ["x-stainless-lang" in r.headers for r in llm_server.requests]
    assert all(through_sdk) if sdk_first else not through_sdk[0]
    # The lead's thinking went back to the model, signature and all, on its next turn.
    lead_turn_2 = next(
        r.body for r in llm_server.requests if (asked(r).expert, asked(r).turn) == ("lead", 2)
    )
    assert lead_turn_2["messages"][1]["content"][0] == {
        "type": "thinking",
        "thinking": "Alpha prepares the plan first.",
        "signature": "sig-lead-1",
    }


def test_openai_path_gives_the_scripted_event_sequence(
    project: Project, llm_server: FakeLLMServer, tmp_path_factory: pytest.TempPathFactory
) -> None:
    scripted = Project(tmp_path_factory.mktemp("scripted"))
    expected = scripted_job(scripted, MODELS["openai"], reasoning=False)
    assert not expected.result.of_type("startStreamingReasoning")
    llm_server.responder = respond
    setup(project, "openai", MODELS["openai"])
    env = {"OPENAI_API_KEY": "sk-openai-test", "OPENAI_BASE_URL": f"{llm_server.base_url}/v1"}
    actual = run_job(project, env)

    assert_same_events(actual, expected)
    assert_each_answer_given_once(llm_server)
