"""Scripts for create-expert sessions: the team's answers and the Experts' under test.

:func:`team_rules` writes the team's part of a script from what the test is about (the
designer's drafts, the scenarios, the findings); the tests add the answers of the Experts
under test. One scripted provider serves the whole session, so ``times`` counts across
rounds: the designer's first draft answers once, the next one after it, and so on.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from runtime.create_expert.demo import DEMO_SCRIPT

FITNESS = "Create a fitness assistant that delegates to a pro trainer"

FITNESS_DEFINITIONS = '''
[experts."fitness-assistant"]
description = "Everyday fitness companion: logs workouts and gets plans from a pro trainer"
instruction = """
You help the user stay fit.
1. When the user reports a workout, append one line to ./fitness-log.md, then confirm.
2. For a training plan, read ./fitness-log.md and delegate to pro-trainer.
"""
delegates = ["pro-trainer"]

[experts."pro-trainer"]
description = "Strength coach: writes one-week training plans"
instruction = "Write a safe, progressive one-week plan from the goal and the recent workouts."
'''

FITNESS_SCENARIOS: list[dict[str, Any]] = [
    {
        "name": "log-a-workout",
        "kind": "typical",
        "expert": "fitness-assistant",
        "query": "Log today's workout: squats 3x5 at 80 kg",
        "files": {"fitness-log.md": "# Fitness log\n"},
        "expect": {
            "filesWritten": ["fitness-log.md"],
            "fileContains": {"fitness-log.md": "squats"},
            "noDelegation": True,
            "maxSteps": 6,
        },
    },
    {
        "name": "weekly-plan",
        "kind": "typical",
        "expert": "fitness-assistant",
        "query": "Plan my training for next week: I want a stronger deadlift",
        "files": {"fitness-log.md": "# Fitness log\n2025-01-06 deadlift 3x5 @ 100 kg\n"},
        "expect": {
            "delegatesTo": ["pro-trainer"],
            "resultContains": ["deadlift"],
            "filesNotWritten": ["fitness-log.md"],
        },
    },
]

#: The fitness Experts answering the scenarios above, every time.
FITNESS_EXPERTS: list[dict[str, Any]] = [
    {
        "expert": "fitness-assistant",
        "queryContains": "Log today's workout",
        "turn": 1,
        "toolCalls": [
            {
                "name": "appendTextFile",
                "args": {"path": "fitness-log.md", "text": "2025-01-08 squats 3x5 @ 80 kg\n"},
            }
        ],
    },
    {"expert": "fitness-assistant", "queryContains": "Log today's workout", "text": "Logged."},
    {
        "expert": "fitness-assistant",
        "queryContains": "deadlift",
        "turn": 1,
        "toolCalls": [{"name": "readTextFile", "args": {"path": "fitness-log.md"}}],
    },
    {
        "expert": "fitness-assistant",
        "queryContains": "deadlift",
        "turn": 2,
        "toolCalls": [{"name": "pro-trainer", "args": {"query": "A week for a stronger deadlift"}}],
    },
    {
        "expert": "fitness-assistant",
        "queryContains": "deadlift",
        "text": "Your week: deadlift 5x3 on Monday, front squats on Wednesday.",
    },
    {"expert": "pro-trainer", "text": "Mon: deadlift 5x3 @ 102.5 kg. Wed: front squat 4x5."},
]


def _call(tool: str, **args: Any) -> dict[str, Any]:
    return {"name": tool, "args": args}


def team_rules(
    designs: list[str],
    scenarios: list[dict[str, Any]],
    *,
    findings: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """The team's answers.

    Args:
        designs: The designer's definitions, one per time it is asked (the last repeats).
        scenarios: What the tester defines in round 1.
        findings: What the reporter records.
    """
    names = [scenario["name"] for scenario in scenarios]
    rules: list[dict[str, Any]] = []
    lead = "create-expert"
    for turn, call in enumerate(
        [_call("tester", query="Run every scenario again."), _call("verifier", query="Judge.")],
        start=1,
    ):
        rules.append(
            {
                "expert": lead,
                "queryContains": "skip the designer",
                "turn": turn,
                "toolCalls": [call],
            }
        )
    rules.append({"expert": lead, "queryContains": "skip the designer", "text": "Confirmed."})
    rules.append(
        {
            "expert": lead,
            "queryContains": "Testing is over",
            "turn": 1,
            "toolCalls": [_call("reporter", query="Write the report.")],
        }
    )
    rules.append({"expert": lead, "queryContains": "Testing is over", "text": "Reported."})
    for turn, call in enumerate(
        [
            _call("designer", query="Design or fix the Experts."),
            _call("tester", query="Write scenarios if there are none, then run them all."),
            _call("verifier", query="Judge every run."),
        ],
        start=1,
    ):
        rules.append({"expert": lead, "turn": turn, "toolCalls": [call]})
    rules.append({"expert": lead, "text": "Round done."})
    for index, definitions in enumerate(designs):
        rule: dict[str, Any] = {
            "expert": "designer",
            "turn": 1,
            "toolCalls": [
                _call("writeDefinitions", definitions=definitions, changes=f"draft {index + 1}")
            ],
        }
        if index < len(designs) - 1:
            rule["times"] = 1
        rules.append(rule)
    rules.append({"expert": "designer", "text": "Saved."})
    rules += [
        {
            "expert": "tester",
            "turn": 1,
            "times": 1,
            "toolCalls": [_call("defineScenarios", scenarios=scenarios)],
        },
        {"expert": "tester", "turn": 2, "times": 1, "toolCalls": [_call("runScenarios")]},
        {"expert": "tester", "turn": 1, "toolCalls": [_call("runScenarios")]},
        {"expert": "tester", "text": "All run."},
        {
            "expert": "verifier",
            "turn": 1,
            "toolCalls": [_call("inspectRun", name=name) for name in names],
        },
        {
            "expert": "verifier",
            "turn": 2,
            "toolCalls": [
                _call(
                    "recordVerdicts",
                    verdicts=[
                        {"scenario": name, "passed": True, "reason": "did what was asked"}
                        for name in names
                    ],
                )
            ],
        },
        {"expert": "verifier", "text": "Judged."},
        {
            "expert": "reporter",
            "turn": 1,
            "toolCalls": [
                _call(
                    "recordFindings",
                    **(
                        findings
                        or {
                            "summary": "Tested.",
                            "capabilities": ["works"],
                            "limitations": ["scripted"],
                        }
                    ),
                )
            ],
        },
        {"expert": "reporter", "text": "Findings recorded."},
    ]
    return rules


def demo_rules() -> list[dict[str, Any]]:
    """The rules of the shipped demo script."""
    return tomllib.loads(Path(DEMO_SCRIPT).read_text())["rules"]


SCRIPTED_HEAD = """# My fitness project
model = "scripted"

[provider]
providerName = "scripted"

[provider.setting]
script = "script.json"
"""
