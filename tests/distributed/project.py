"""The project the scale-out tests run: sequential and parallel delegation, slow steps."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import Project

#: How long each step of Expert "slow" waits for its (scripted) model.
SLOW_STEP_MS = 400
#: Its steps before it answers.
SLOW_STEPS = 8

CONFIG = """
model = "scripted"
[provider]
providerName = "scripted"
[provider.setting]
script = "script.toml"

[experts."lead"]
instruction = "Lead."
delegates = ["helper"]
[experts."helper"]
instruction = "Help."

[experts."fan"]
instruction = "Fan out."
delegates = ["left", "right"]
[experts."left"]
instruction = "Left."
[experts."right"]
instruction = "Right."

[experts."slow"]
instruction = "Work slowly."
"""

# Usage is given, not estimated: the estimate counts the workspace path in the
# instruction, which differs between the embedded executor and a worker.
_USAGE = "usage = { inputTokens = 100, outputTokens = 10 }"

SCRIPT = f"""
[[rules]]
expert = "lead"
turn = 1
{_USAGE}
toolCalls = [{{ name = "helper", args = {{ query = "Write the notes" }} }}]
[[rules]]
expert = "helper"
turn = 1
{_USAGE}
toolCalls = [{{ name = "writeTextFile", args = {{ path = "notes/result.md", text = "# Result" }} }}]
[[rules]]
expert = "helper"
{_USAGE}
text = "Wrote notes/result.md."
[[rules]]
expert = "lead"
{_USAGE}
text = "Done: see notes/result.md."

[[rules]]
expert = "fan"
turn = 1
toolCalls = [
  {{ name = "left", args = {{ query = "Left side" }} }},
  {{ name = "right", args = {{ query = "Right side" }} }},
]
[[rules]]
expert = "left"
turn = 1
delayMs = 1500
toolCalls = [{{ name = "writeTextFile", args = {{ path = "left.txt", text = "from the left" }} }}]
[[rules]]
expert = "left"
text = "Left done."
[[rules]]
expert = "right"
turn = 1
delayMs = 1500
toolCalls = [{{ name = "writeTextFile", args = {{ path = "right.txt", text = "from the right" }} }}]
[[rules]]
expert = "right"
text = "Right done."
[[rules]]
expert = "fan"
text = "Both sides done."
"""

_SLOW_STEP = """
[[rules]]
expert = "slow"
turn = {turn}
delayMs = {delay}
toolCalls = [{{ name = "writeTextFile", args = {{ path = "steps/{turn}.txt", text = "step {turn}" }} }}]
"""


def make_project(root: Path) -> Project:
    project = Project(root)
    root.mkdir(parents=True, exist_ok=True)
    project.write("perstack.toml", CONFIG)
    slow = "".join(
        _SLOW_STEP.format(turn=turn, delay=SLOW_STEP_MS) for turn in range(1, SLOW_STEPS + 1)
    )
    slow += '\n[[rules]]\nexpert = "slow"\ntext = "Slowly done."\n'
    project.write("script.toml", SCRIPT + slow)
    return project
