"""`perstack compare` with the scripted provider, through the real CLI: the table,
--repeat, --baseline, a failing model beside completing ones, exit codes and bad input."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.helpers import CliResult, Project
from tests.replay_projects import job_id_of, team_project

CONFIG = """
model = "scripted"
[provider]
providerName = "scripted"
[provider.setting]
script = "script.toml"

[experts."writer"]
instruction = "Write out.txt."
"""

SCRIPT = """
[[rules]]
turn = 1
[[rules.toolCalls]]
name = "writeTextFile"
args = { path = "out.txt", text = "hello" }
[[rules]]
text = "Wrote it."
"""


@pytest.fixture
def writer(project: Project) -> Project:
    project.write("perstack.toml", CONFIG)
    project.script(SCRIPT)
    return project


def _json(result: CliResult) -> dict[str, Any]:
    return orjson.loads(result.stdout)


def test_the_table_names_every_run_its_job_and_its_workspace(writer: Project) -> None:
    result = writer.run(
        "compare", "writer", "Write", "--model", "scripted:one", "--model", "scripted:two"
    )
    assert result.code == 0, result.stderr
    assert "scripted:one" in result.stdout and "scripted:two" in result.stdout
    assert result.stdout.count("│ completed │") == 2
    folders = sorted((writer.storage / "comparisons").glob("*/*"))
    assert [folder.name for folder in folders] == ["1-scripted-one", "2-scripted-two"]
    for folder in folders:
        assert str(folder) in result.stdout
        assert (folder / "out.txt").read_text() == "hello"
        assert (folder / "perstack.toml").exists() and not (folder / "perstack").exists()
    assert "Final answer (scripted:one):\nWrote it." in result.stdout
    assert "Every run did the same things" in result.stdout


def test_repeat_runs_each_model_n_times_and_summarises(writer: Project) -> None:
    result = writer.run(
        "compare", "writer", "Write", "--model", "scripted:one", "--model", "scripted:two",
        "--repeat", "3", "--json",
    )  # fmt: skip
    assert result.code == 0, result.stderr
    data = _json(result)
    runs = data["runs"]
    assert [(r["model"], r.get("repeat", 1)) for r in runs] == [
        ("one", 1), ("one", 2), ("one", 3), ("two", 1), ("two", 2), ("two", 3),
    ]  # fmt: skip
    assert len({r["jobId"] for r in runs}) == 6
    assert len({r["workspace"] for r in runs}) == 6
    repeats = data["repeats"]
    assert [(s["model"], s["runs"], s["completed"]) for s in repeats] == [
        ("scripted:one", 3, 3),
        ("scripted:two", 3, 3),
    ]
    steps = repeats[0]["steps"]
    assert steps == {"median": 2, "min": 2, "max": 2}
    durations = [r["durationMs"] for r in runs[:3]]
    spread = repeats[0]["durationMs"]
    assert (spread["min"], spread["max"]) == (min(durations), max(durations))
    assert spread["median"] == sorted(durations)[1]
    assert all(len(row["steps"]) == 6 for row in data["alignment"])


def test_a_baseline_is_a_column_and_is_not_run_again(tmp_path: Path) -> None:
    project = team_project(tmp_path)
    recorded = project.run("run", "lead", "Check both topics")
    baseline = job_id_of(recorded)
    jobs_before = set((project.storage / "jobs").iterdir())
    result = project.run(
        "compare", "lead", "Check both topics", "--model", "scripted:scripted",
        "--baseline", baseline, "--json",
    )  # fmt: skip
    assert result.code == 0, result.stderr
    runs = _json(result)["runs"]
    assert runs[0]["jobId"] == baseline and runs[0]["baseline"] is True
    assert runs[0]["finalAnswer"] == runs[1]["finalAnswer"] == "Both fine."
    assert runs[0]["delegations"] == runs[1]["delegations"] == 2
    assert len(set((project.storage / "jobs").iterdir()) - jobs_before) == 1  # one new job
    data = _json(result)
    # The same team did the same things: every row the same, delegates' rows included.
    assert data["firstDivergence"] is None
    depths = {row["depth"] for row in data["alignment"]}
    assert depths == {0, 1}
    # A baseline from a job folder works the same way.
    folder = project.storage / "jobs" / baseline
    again = project.run(
        "compare", "lead", "Check both topics", "--model", "scripted:scripted",
        "--baseline", str(folder), "--json",
    )  # fmt: skip
    assert again.code == 0 and _json(again)["runs"][0]["jobId"] == baseline


def test_a_failing_model_never_stops_the_others_and_the_exit_code_says_so(
    writer: Project,
) -> None:
    result = writer.run(
        "compare", "writer", "Write", "--model", "anthropic:claude-sonnet-4-5",
        "--model", "scripted:one", "--json",
    )  # fmt: skip
    assert result.code == 1
    failed, done = _json(result)["runs"]
    assert failed["status"] == "failed" and "ANTHROPIC_API_KEY" in failed["error"]
    assert failed["jobId"] is None and failed["costUsd"] is None
    assert done["status"] == "completed" and done["finalAnswer"] == "Wrote it."
    table = writer.run(
        "compare", "writer", "Write", "--model", "anthropic:claude-sonnet-4-5",
        "--model", "scripted:one",
    )  # fmt: skip
    assert table.code == 1
    assert "failed" in table.stdout and "completed" in table.stdout
    # One job alone aligns with nothing: no claim that "every run did the same things".
    assert "only scripted:one has a job, nothing to align" in " ".join(table.stdout.split())
    assert "did the same things" not in table.stdout


def test_a_run_stopped_by_its_step_limit_is_not_completed(writer: Project) -> None:
    result = writer.run(
        "compare", "writer", "Write", "--model", "scripted:one", "--max-steps", "1", "--json"
    )
    assert result.code == 1
    (run,) = _json(result)["runs"]
    assert run["status"] == "stoppedByMaxSteps"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model", "gpt-4.1"], "--model gpt-4.1: expected <provider>:<model>"),
        (["--model", "nosuch:x"], "unknown provider 'nosuch'"),
        (["--model", "scripted:one", "--baseline", "nosuchjob"], "Job nosuchjob not found"),
        (["--model", "scripted:one", "--repeat", "0"], "--repeat"),
        ([], "Missing option '--model'"),
    ],
)
def test_bad_input_is_one_line_and_runs_nothing(
    writer: Project, args: list[str], message: str
) -> None:
    result = writer.run("compare", "writer", "Write", *args)
    assert result.code == 1
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr
    assert not (writer.storage / "comparisons").exists()


def test_an_unknown_expert_is_one_line(writer: Project) -> None:
    result = writer.run("compare", "nobody", "Write", "--model", "scripted:one")
    assert result.code == 1
    assert 'Expert "nobody" is not defined' in result.stderr
