"""``perstack create-expert`` end to end: the real CLI, the scripted provider answering both
the create-expert team and the Experts under test."""

from __future__ import annotations

import json
import subprocess
import tomllib
from pathlib import Path

import orjson

from runtime.create_expert.report import REPORT_NAME
from tests.create_expert.scripts import (
    FITNESS,
    FITNESS_DEFINITIONS,
    FITNESS_EXPERTS,
    FITNESS_SCENARIOS,
    SCRIPTED_HEAD,
    team_rules,
)
from tests.helpers import PERSTACK, Project


def fitness_project(project: Project, designs: list[str] | None = None) -> Path:
    rules = team_rules(designs or [FITNESS_DEFINITIONS], FITNESS_SCENARIOS) + FITNESS_EXPERTS
    project.write("script.json", orjson.dumps({"rules": rules}).decode())
    project.write("fitness-log.md", "MY REAL LOG\n")
    return project.write("perstack.toml", SCRIPTED_HEAD)


def create_expert(
    project: Project, *args: str, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PERSTACK, "create-expert", *args],
        cwd=project.root,
        input=stdin,
        capture_output=True,
        text=True,
        env=project.env(),
        timeout=120,
    )


def job_ids(project: Project) -> set[str]:
    return {path.name for path in (project.storage / "jobs").iterdir()}


def test_the_fitness_walkthrough_adds_a_tested_assistant_and_its_trainer(project: Project) -> None:
    config = fitness_project(project)
    result = create_expert(project, FITNESS, "--yes")
    assert result.returncode == 0, result.stderr

    text = config.read_text()
    assert text.startswith(SCRIPTED_HEAD)  # the user's lines, comment and all, come first
    experts = tomllib.loads(text)["experts"]
    assert experts["fitness-assistant"]["delegates"] == ["pro-trainer"]
    assert "./fitness-log.md" in experts["fitness-assistant"]["instruction"]
    assert "pro-trainer" in experts
    # Every scenario passed in rounds 1 and 2: the loop stopped there, on evidence.
    assert "every scenario passed in rounds 1 and 2" in result.stdout
    assert "| log-a-workout | typical | fitness-assistant | pass | pass |" in result.stdout
    # The drafts ran in scratch copies: the project's own log is untouched.
    assert (project.root / "fitness-log.md").read_text() == "MY REAL LOG\n"
    # One team job, plus one job per scenario per round, all in the project's storage.
    team = next(line for line in result.stderr.splitlines() if "perstack log --job" in line)
    team_job = team.split("job ", 1)[1].split()[0]
    assert len(job_ids(project)) == 1 + 2 * 2
    session = project.storage / "create-expert" / team_job
    assert tomllib.loads((session / "round-1" / "perstack.toml").read_text())["experts"]
    assert (session / "round-2" / "perstack.toml").read_text() == text
    assert (session / "perstack.toml.before").read_text() == SCRIPTED_HEAD
    report = (project.root / REPORT_NAME).read_text()
    assert (
        "Written to `perstack.toml`. The previous file is kept at `perstack/create-expert/"
        in report
    )
    # The team's job is an ordinary job: perstack log shows its rounds and delegations.
    log = project.run("log", "--job", team_job, "--delegations", "--take", "0")
    assert log.code == 0, log.stderr
    for delegate in ("designer", "tester", "verifier", "reporter"):
        assert f"Delegate to: {delegate}" in log.stdout


def test_the_demo_fixes_a_failing_scenario_in_round_2(tmp_path: Path) -> None:
    project = Project(tmp_path)
    result = create_expert(project, "--demo", "--json", "--yes")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)  # one JSON object, nothing else on stdout

    results = {s["name"]: [r["passed"] for r in s["results"]] for s in report["scenarios"]}
    assert results == {
        "log-a-workout": [False, True, True],
        "weekly-plan": [True, True, True],
        "medical-question": [True, True, True],
    }
    first = report["scenarios"][0]["results"][0]
    assert "writes fitness-log.md: not written" in first["failures"]
    assert report["stable"] is True
    assert report["stopReason"] == "every scenario passed in rounds 2 and 3"
    round_2, round_3 = report["changes"]
    assert round_2["definitions"] == ["fitness-assistant: instruction changed"]
    assert "explicit first step" in round_2["why"]
    assert "writes now: fitness-log.md" in round_2["runs"]["log-a-workout"]
    assert round_3["definitions"] == []
    assert [f["round"] for f in report["figures"]] == [1, 2, 3, "report"]
    assert all(f["modelCalls"] > 0 for f in report["figures"])
    assert report["findings"]["capabilities"] and report["findings"]["limitations"]
    assert report["perstackToml"]["applied"] is True
    demo = tmp_path / "create-expert-demo"
    written = tomllib.loads((demo / "perstack.toml").read_text())["experts"]
    assert (
        "first append one line to ./fitness-log.md" in written["fitness-assistant"]["instruction"]
    )
    assert Path(report["report"]) == demo / REPORT_NAME


def test_declining_leaves_perstack_toml_byte_for_byte(project: Project) -> None:
    config = fitness_project(project)
    original = b"# My fitness project\r\nmodel   =   'scripted'  # odd spacing\r\n" + (
        SCRIPTED_HEAD.split("\n", 2)[2].encode()
    )
    config.write_bytes(original)
    for answer in ("n\n", ""):  # "no", and no answer at all (end of input)
        result = create_expert(project, FITNESS, stdin=answer)
        assert result.returncode == 0, result.stderr
        assert "Write this change to" in result.stderr
        assert "perstack.toml not changed" in result.stderr
        assert config.read_bytes() == original
    report = (project.root / REPORT_NAME).read_text()
    assert "the change was declined" in report
    assert not list(project.storage.glob("create-expert/*/perstack.toml.before"))


def test_a_definition_that_does_not_load_is_never_written(project: Project) -> None:
    broken = FITNESS_DEFINITIONS.replace('delegates = ["pro-trainer"]', 'delegates = ["coach"]')
    config = fitness_project(project, designs=[broken])
    before = config.read_bytes()
    result = create_expert(project, FITNESS, "--yes", "--max-iterations", "2")
    assert result.returncode == 1
    assert config.read_bytes() == before
    assert "definitions rejected" in result.stderr
    assert "coach" in result.stderr
    assert (
        result.stderr.strip()
        .splitlines()[-1]
        .startswith("Error: perstack.toml not changed: no definition that loads was written")
    )
    assert "None: no definition that loads was written." in (project.root / REPORT_NAME).read_text()


def test_no_provider_key_says_how_to_set_one_in_one_line(project: Project) -> None:
    project.write("perstack.toml", '[provider]\nproviderName = "anthropic"\n')
    result = create_expert(project, FITNESS)
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("Error: ANTHROPIC_API_KEY is not set")
    assert "export ANTHROPIC_API_KEY=" in lines[0]
    assert not project.storage.exists()


def test_an_unknown_expert_to_improve_is_one_line(project: Project) -> None:
    fitness_project(project)
    result = create_expert(project, "Make it better", "--expert", "ghost")
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f'Error: Expert "ghost" is not defined in {project.root / "perstack.toml"}; defined: none'
    )
