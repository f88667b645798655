"""``perstack create-expert`` once through the Anthropic SDK, against the fake LLM server.

The fake server answers from the same script the scripted provider runs in
``tests/create_expert``: for each request it works out, from the body alone, which Expert
asks (its instruction in the system prompt), at which turn (assistant turns so far), for
what (no tools: the run-result generation) and on which query, and gives the first rule
that matches, counting ``times`` as the scripted provider does. The whole loop runs: the
team over the SDK, and every test run of the drafts too.
"""

from __future__ import annotations

import json
import re
import subprocess
import tomllib
from typing import Any

import orjson
from fake_llm_server import AnthropicReply, FakeLLMServer, RecordedRequest, ToolCallSpec

from runtime.config import load_config
from runtime.create_expert.loop import TEAM_CONFIG
from runtime.providers._script import parse_script
from tests.create_expert.scripts import (
    FITNESS,
    FITNESS_DEFINITIONS,
    FITNESS_EXPERTS,
    FITNESS_SCENARIOS,
    team_rules,
)
from tests.helpers import PERSTACK, Project

_INSTRUCTION = re.compile(r"^Instruction:\n(.*?)$", re.MULTILINE)


def first_lines() -> dict[str, str]:
    """The first line of each Expert's instruction -> its key (team and drafts)."""
    experts = {key: e.instruction for key, e in load_config(TEAM_CONFIG).experts.items()}
    for key, table in tomllib.loads(FITNESS_DEFINITIONS)["experts"].items():
        experts[key] = table["instruction"]
    return {text.strip().splitlines()[0]: key for key, text in experts.items()}


class ScriptResponder:
    """The fake server's answers: a scripted-provider script, matched on the request body."""

    def __init__(self, rules: list[dict[str, Any]]) -> None:
        self.script = parse_script({"rules": rules}, "create-expert test")
        self.fired = [0] * len(self.script.rules)
        self.experts = first_lines()
        self.asked: list[tuple[str, int, str]] = []

    def __call__(self, request: RecordedRequest) -> AnthropicReply:
        body = request.body
        system = "".join(block["text"] for block in body["system"])
        instruction = _INSTRUCTION.search(system)
        assert instruction is not None, system
        expert = self.experts[instruction.group(1)]
        messages = body["messages"]
        turn = 1 + sum(1 for m in messages if m["role"] == "assistant")
        purpose = "toolCall" if body.get("tools") else "runResult"
        query = messages[0]["content"][0]["text"]
        self.asked.append((expert, turn, purpose))
        for rule in self.script.rules:
            if rule.times is not None and self.fired[rule.index] >= rule.times:
                continue
            if rule.matches(expert, turn, purpose, query):
                self.fired[rule.index] += 1
                calls = [
                    ToolCallSpec(
                        f"call_{len(self.asked)}_{i}", c.name, orjson.dumps(c.args).decode()
                    )
                    for i, c in enumerate(rule.tool_calls)
                ]
                return AnthropicReply(text=rule.text, tool_calls=calls)
        raise AssertionError(f"no rule for {expert}, turn {turn}, {purpose}")


def test_the_create_expert_loop_runs_through_the_anthropic_sdk(
    project: Project, llm_server: FakeLLMServer
) -> None:
    rules = team_rules([FITNESS_DEFINITIONS], FITNESS_SCENARIOS) + FITNESS_EXPERTS
    responder = ScriptResponder(rules)
    llm_server.responder = responder
    config = project.write(
        "perstack.toml",
        '# Anthropic, through the SDK\nmodel = "claude-sonnet-4-5"\n\n'
        '[provider]\nproviderName = "anthropic"\n',
    )
    env = {"ANTHROPIC_API_KEY": "sk-ant-test", "ANTHROPIC_BASE_URL": llm_server.base_url}
    completed = subprocess.run(
        [PERSTACK, "create-expert", FITNESS, "--json", "--yes"],
        cwd=project.root,
        capture_output=True,
        text=True,
        env=project.env(env),
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    report = json.loads(completed.stdout)

    assert report["stable"] and report["stopReason"] == "every scenario passed in rounds 1 and 2"
    assert {s["name"]: [r["passed"] for r in s["results"]] for s in report["scenarios"]} == {
        "log-a-workout": [True, True],
        "weekly-plan": [True, True],
    }
    experts = tomllib.loads(config.read_text())["experts"]
    assert experts["fitness-assistant"]["delegates"] == ["pro-trainer"]
    # Every model call went over the wire through the SDK, the team's and the drafts' alike.
    assert sum(f["modelCalls"] for f in report["figures"]) == len(llm_server.requests)
    assert all(r.path == "/v1/messages" for r in llm_server.requests)
    assert all(r.headers["x-api-key"] == "sk-ant-test" for r in llm_server.requests)
    asked = {expert for expert, _, _ in responder.asked}
    assert asked == {
        "create-expert",
        "designer",
        "tester",
        "verifier",
        "reporter",
        "fitness-assistant",
        "pro-trainer",
    }
    # The tools went over the wire too: the tester's lab tools, the drafts' base tools.
    offered = {
        tool["name"] for request in llm_server.requests for tool in request.body.get("tools", [])
    }
    assert {"runScenarios", "writeDefinitions", "appendTextFile", "pro-trainer"} <= offered
