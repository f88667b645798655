"""`perstack diff`: two jobs' steps aligned like a text diff, from real CLI runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.helpers import Project
from tests.replay_projects import job_id_of, team_project

CONFIG = """
model = "scripted"
[provider]
providerName = "scripted"
[provider.setting]
script = "script.toml"

[experts."reader"]
instruction = "Read."
"""


def _script(*steps: str) -> str:
    """Rules making the reader take these steps in order, then answer ``done``."""
    rules = []
    for turn, step in enumerate(steps, start=1):
        tool, _, argument = step.partition(" ")
        args = f'{{ path = "{argument}" }}'
        rules.append(
            f'[[rules]]\nturn = {turn}\n[[rules.toolCalls]]\nname = "{tool}"\nargs = {args}\n'
        )
    rules.append('[[rules]]\ntext = "done"\n')
    return "\n".join(rules)


@pytest.fixture(scope="module")
def jobs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Project, str, str]:
    """Two jobs of one reader: the second takes one more step (a listing) in the middle."""
    project = Project(tmp_path_factory.mktemp("diff"))
    project.write("perstack.toml", CONFIG)
    project.write("a.txt", "A\n")
    project.write("b.txt", "B\n")
    project.script(_script("readTextFile a.txt", "readTextFile b.txt"))
    shorter = job_id_of(project.run("run", "reader", "Read both"))
    project.script(_script("readTextFile a.txt", "listDirectory .", "readTextFile b.txt"))
    longer = job_id_of(project.run("run", "reader", "Read both"))
    return project, shorter, longer


def _tools(step: dict[str, Any] | None) -> list[str] | str | None:
    if step is None:
        return None
    action = step["action"]
    if action["type"] == "answer":
        return action["text"]
    return [call["toolName"] for call in action["toolCalls"]]


def test_an_inserted_step_shifts_nothing_after_it(jobs: tuple[Project, str, str]) -> None:
    project, shorter, longer = jobs
    result = project.run("diff", shorter, longer, "--json")
    assert result.code == 0, result.stderr
    data = orjson.loads(result.stdout)
    pairs = [(_tools(p["a"]), _tools(p["b"]), p["same"]) for p in data["pairs"]]
    assert pairs == [
        (["readTextFile"], ["readTextFile"], True),
        (None, ["listDirectory"], False),
        (["readTextFile"], ["readTextFile"], True),
        ("done", "done", True),
    ]
    first = data["firstDivergence"]
    assert first["a"] is None and _tools(first["b"]) == ["listDirectory"] and first["index"] == 1
    assert first["b"]["stepNumber"] == 2 and first["b"]["expert"] == "reader"
    for side, job_id, steps in (("a", shorter, 3), ("b", longer, 4)):
        summary = data[side]
        assert summary["jobId"] == job_id and summary["status"] == "completed"
        assert summary["steps"] == steps and summary["toolCalls"] == steps - 1
        assert summary["finalAnswer"] == "done"
        assert summary["tokens"]["input"] > 0 and summary["tokens"]["output"] > 0
        assert summary["durationMs"] >= 0
    step = data["pairs"][0]["a"]
    assert set(step) >= {"stepNumber", "action", "tokens", "durationMs", "checkpointId"}
    assert step["action"]["toolCalls"][0]["args"] == {"path": "a.txt"}


def test_a_removed_step_is_one_sided_the_other_way(jobs: tuple[Project, str, str]) -> None:
    project, shorter, longer = jobs
    data = orjson.loads(project.run("diff", longer, shorter, "--json").stdout)
    pairs = [(_tools(p["a"]), _tools(p["b"])) for p in data["pairs"]]
    assert pairs[1] == (["listDirectory"], None)
    assert data["firstDivergence"]["b"] is None
    text = project.run("diff", longer, shorter)
    assert text.code == 0, text.stderr
    lines = text.stdout.splitlines()
    assert lines[0].startswith(f"A  {longer}  completed  reader  4 steps")
    marked = [line for line in lines if line.startswith("▶")]
    assert len(marked) == 1 and "▶ -" in marked[0] and "listDirectory" in marked[0]
    assert lines[-1] == "done"  # the final answers close the output


def test_equal_jobs_have_no_divergence_and_their_equal_steps_fold(
    jobs: tuple[Project, str, str], tmp_path: Path
) -> None:
    project, shorter, _ = jobs
    project.script(_script("readTextFile a.txt", "readTextFile b.txt"))
    capture = project.run("run", "reader", "Read both")
    (project.root / "again.jsonl").write_text(capture.stdout)
    data = orjson.loads(project.run("diff", shorter, "again.jsonl", "--json").stdout)
    assert data["firstDivergence"] is None
    assert all(pair["same"] for pair in data["pairs"])
    text = project.run("diff", shorter, "again.jsonl").stdout
    assert "… 3 equal steps (1–3) …" in text
    assert "The jobs did the same things, step by step." in text


def test_parallel_delegates_are_matched_by_expert_and_order(tmp_path: Path) -> None:
    project = team_project(tmp_path / "team")
    first = job_id_of(project.run("run", "lead", "Check both topics"))
    second = job_id_of(project.run("run", "lead", "Check both topics"))
    data = orjson.loads(project.run("diff", first, second, "--json").stdout)
    assert data["firstDivergence"] is None, data["firstDivergence"]
    actors = [pair["a"]["actor"] for pair in data["pairs"]]
    # The lead's delegation, then researcher #1's steps, researcher #2's, then the lead.
    assert actors[0] == "lead" and actors[-1] == "lead"
    assert actors[1:9] == ["researcher #1"] * 4 + ["researcher #2"] * 4


def test_diff_errors_are_one_line(jobs: tuple[Project, str, str]) -> None:
    project, shorter, _ = jobs
    (project.root / "junk.jsonl").write_text("not json\n")
    for args, message in (
        (("diff", shorter, "nosuchjob"), "Job nosuchjob not found"),
        (("diff", "./missing.jsonl", shorter), "./missing.jsonl: no such file or folder"),
        (("diff", shorter, "junk.jsonl"), "junk.jsonl:1: invalid JSON"),
    ):
        result = project.run(*args)
        assert result.code == 1 and result.stdout == ""
        assert message in result.stderr and len(result.stderr.splitlines()) == 1, result.stderr
