"""Projects whose jobs the replay, fork, diff and job-source tests run with the real CLI.

``team``: a lead delegates two topics to the same ``researcher`` Expert at once
(parallel runs of one Expert); each reads notes.txt for three steps, one of them also
hits a missing file (a failed tool call), then answers; the lead then answers. With an
instruction that says "carefully" the lead answers differently (the scripted provider's
``instructionContains``), which is what a fork with an edited instruction shows.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from tests.helpers import CliResult, Project

TEAM_CONFIG = """
model = "scripted"
[provider]
providerName = "scripted"
[provider.setting]
script = "script.toml"

[experts."lead"]
instruction = "{instruction}"
delegates = ["researcher"]
[experts."researcher"]
instruction = "Research."
"""

TEAM_SCRIPT = """
[[rules]]
expert = "lead"
turn = 1
[[rules.toolCalls]]
name = "researcher"
args = { query = "Topic A" }
[[rules.toolCalls]]
name = "researcher"
args = { query = "Topic B" }

[[rules]]
expert = "researcher"
queryContains = "Topic B"
turn = 2
[[rules.toolCalls]]
name = "readTextFile"
args = { path = "missing.txt" }

[[rules]]
expert = "researcher"
turn = "<4"
[[rules.toolCalls]]
name = "readTextFile"
args = { path = "notes.txt" }

[[rules]]
expert = "researcher"
queryContains = "Topic A"
text = "A is fine."

[[rules]]
expert = "researcher"
queryContains = "Topic B"
text = "B is fine."

[[rules]]
expert = "lead"
instructionContains = "carefully"
text = "Both fine, checked carefully."

[[rules]]
expert = "lead"
text = "Both fine."
"""


def team_project(root: Path, instruction: str = "Lead.") -> Project:
    """The ``team`` project (see the module docstring) in ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    project = Project(root)
    project.write("perstack.toml", TEAM_CONFIG.format(instruction=instruction))
    project.script(TEAM_SCRIPT)
    project.write("notes.txt", "The notes say hello.\n")
    return project


def job_id_of(result: CliResult) -> str:
    assert result.code == 0, result.stderr
    return str(result.events[0]["jobId"])


def step_ends(result: CliResult) -> list[dict[str, Any]]:
    """The step-ending events of a run, in order."""
    kinds = {"continueToNextStep", "completeRun", "stopRunByDelegate", "stopRunByError"}
    return [event for event in result.events if event["type"] in kinds]


def checkpoint_of(
    result: CliResult, expert: str, step: int, query: str | None = None
) -> dict[str, Any]:
    """The checkpoint that ended ``expert``'s step ``step`` (of the run asked ``query``)."""
    for event in step_ends(result):
        if event["expertKey"] != expert or event["stepNumber"] != step:
            continue
        if query is not None and _run_query(result, event["runId"]) != query:
            continue
        return event["checkpoint"]
    raise AssertionError(f"no checkpoint of {expert} at step {step}")


def _run_query(result: CliResult, run_id: str) -> str | None:
    for event in result.of_type("startRun"):
        if event["runId"] == run_id:
            for message in event["inputMessages"]:
                if message["type"] == "userMessage":
                    return message["contents"][0]["text"]
    return None


def folder_digest(folder: Path) -> str:
    """A digest of every file's name and bytes under ``folder``."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()
