"""The create-expert loop in-process: improving an Expert, the iteration limit, a new file."""

from __future__ import annotations

import tomllib
from pathlib import Path

import orjson
import pytest

from runtime.create_expert import CreateExpertOptions, CreateExpertSession, apply_proposal
from runtime.create_expert.drafts import DraftError
from runtime.create_expert.lab import Lab, LabState
from runtime.create_expert.testrun import DraftRunner
from runtime.providers.scripted import ScriptedProvider
from runtime.storage import FileStorage
from tests.create_expert.scripts import (
    FITNESS,
    FITNESS_DEFINITIONS,
    FITNESS_EXPERTS,
    FITNESS_SCENARIOS,
    SCRIPTED_HEAD,
    team_rules,
)

COACH_PROJECT = (
    SCRIPTED_HEAD
    + """
# The coach: keep it short.
[experts."coach"]
# Shown in the Expert picker.
description = "A running coach"
instruction = "Answer questions about running."   # the first version
delegates = []

[experts."coach".skills."@perstack/base"]
type = "mcpStdioSkill"
command = "npx"
pick = ["readTextFile", "appendTextFile", "attemptCompletion"]  # no exec

# Someone else's Expert: create-expert must not touch it.
[experts."accountant"]
instruction = "Keep the books."
"""
)

COACH_IMPROVED = """
[experts."coach"]
description = "A running coach that keeps a training diary"
instruction = "Answer questions about running. After each run the user reports, append it to ./diary.md."
delegates = ["physio"]

[experts."coach".skills."@perstack/base"]
type = "mcpStdioSkill"
command = "npx"
pick = ["readTextFile", "appendTextFile", "attemptCompletion"]

[experts."physio"]
description = "Answers questions about running injuries"
instruction = "Explain common running injuries; always suggest seeing a professional."
"""

COACH_SCENARIOS = [
    {
        "name": "diary",
        "expert": "coach",
        "query": "I ran 10 km this morning",
        "files": {"diary.md": "# Diary\n"},
        "expect": {"filesWritten": ["diary.md"], "maxSteps": 5},
    }
]

COACH_ANSWERS = [
    {
        "expert": "coach",
        "turn": 1,
        "toolCalls": [{"name": "appendTextFile", "args": {"path": "diary.md", "text": "10 km\n"}}],
    },
    {"expert": "coach", "text": "Noted in your diary."},
]


def scripted_project(root: Path, text: str, rules: list[dict]) -> Path:
    (root / "script.json").write_text(orjson.dumps({"rules": rules}).decode())
    config = root / "perstack.toml"
    config.write_text(text)
    return config


async def test_improving_an_expert_keeps_the_files_comments_and_other_experts(
    tmp_path: Path,
) -> None:
    rules = team_rules([COACH_IMPROVED], COACH_SCENARIOS) + COACH_ANSWERS
    config = scripted_project(tmp_path, COACH_PROJECT, rules)
    options = CreateExpertOptions("Keep a diary of my runs", expert="coach")
    outcome = await CreateExpertSession(options, cwd=tmp_path).run()

    assert outcome.stable and len(outcome.state.rounds) == 2
    assert outcome.state.touched == ["coach", "physio"]
    backup = apply_proposal(outcome)
    text = config.read_text()
    for line in COACH_PROJECT.splitlines():
        if line.lstrip().startswith("#"):
            assert line in text  # every comment line is still there
    assert 'pick = ["readTextFile", "appendTextFile", "attemptCompletion"]  # no exec' in text
    assert text.index('[experts."coach"]') < text.index('[experts."accountant"]')
    experts = tomllib.loads(text)["experts"]
    assert experts["coach"]["delegates"] == ["physio"]
    assert "./diary.md" in experts["coach"]["instruction"]
    assert experts["accountant"] == {"instruction": "Keep the books."}
    assert backup is not None and backup.read_text() == COACH_PROJECT
    assert "delegates" in outcome.proposal.diff and "physio" in outcome.proposal.diff


async def test_the_loop_stops_at_max_iterations_when_a_scenario_keeps_failing(
    tmp_path: Path,
) -> None:
    # The assistant never writes the log, whatever the definitions say.
    forgetful = [r for r in FITNESS_EXPERTS if r.get("queryContains") != "Log today's workout"]
    forgetful.insert(0, {"expert": "fitness-assistant", "queryContains": "Log", "text": "Nice!"})
    rules = team_rules([FITNESS_DEFINITIONS], FITNESS_SCENARIOS) + forgetful
    scripted_project(tmp_path, SCRIPTED_HEAD, rules)
    provider = ScriptedProvider.from_rules(rules)
    options = CreateExpertOptions(FITNESS, max_iterations=2)
    outcome = await CreateExpertSession(options, cwd=tmp_path, provider=provider).run()

    assert outcome.stop_reason == "stopped at --max-iterations (2)"
    assert not outcome.stable
    assert [r.number for r in outcome.state.rounds] == [1, 2]
    for state in outcome.state.rounds:
        assert not state.results["log-a-workout"].passed
        assert state.results["weekly-plan"].passed
    # Round 2 was told what failed, from the recorded evidence.
    queries = [
        request.messages[1].contents[0].text
        for request in provider.requests
        if request.expert_key == "create-expert" and len(request.messages) == 2
    ]
    assert queries[1].startswith("Round 2 of at most 2.\nFailures in round 1:\n")
    assert "- log-a-workout: writes fitness-log.md: not written" in queries[1]
    assert outcome.proposal.new_text is not None  # the last draft is still offered
    assert [f.number for f in outcome.figures] == [1, 2, 0]  # two rounds, then the report


async def test_a_project_without_perstack_toml_gets_one_created(tmp_path: Path) -> None:
    rules = team_rules([FITNESS_DEFINITIONS], FITNESS_SCENARIOS) + FITNESS_EXPERTS
    provider = ScriptedProvider.from_rules(rules)
    options = CreateExpertOptions(FITNESS, model="my-model")
    session = CreateExpertSession(options, cwd=tmp_path, provider=provider)
    outcome = await session.run()

    assert outcome.proposal.creates
    assert apply_proposal(outcome) is None  # nothing to back up
    text = (tmp_path / "perstack.toml").read_text()
    assert text.startswith(f'# Created by perstack create-expert: {FITNESS}\nmodel = "my-model"')
    assert set(tomllib.loads(text)["experts"]) == {"fitness-assistant", "pro-trainer"}
    # Every model call of the session went to the one provider: the team's and the tests'.
    experts = {request.expert_key for request in provider.requests}
    assert {"create-expert", "designer", "tester", "verifier", "reporter"} <= experts
    assert {"fitness-assistant", "pro-trainer"} <= experts


# --- the lab on its own --------------------------------------------------------------


def make_lab(tmp_path: Path, base_text: str, target: str | None = None) -> Lab:
    storage = FileStorage(tmp_path / "perstack")
    runner = DraftRunner(storage=storage, env={}, project_dir=tmp_path)
    state = LabState(description="d", target=target)
    lab = Lab(tmp_path / "session", base_text, tmp_path / "perstack.toml", state, runner)
    lab.begin_round()
    return lab


def test_a_draft_that_would_not_load_is_refused_and_a_corrected_one_kept(tmp_path: Path) -> None:
    lab = make_lab(tmp_path, SCRIPTED_HEAD)
    broken = FITNESS_DEFINITIONS.replace('["pro-trainer"]', '["ghost"]')
    with pytest.raises(DraftError, match="ghost"):
        lab.write_definitions(broken, "first try")
    assert lab.draft_text() is None
    assert not (tmp_path / "session" / "round-1" / "perstack.toml").exists()
    assert "ghost" in lab.round.rejected[0]
    lab.write_definitions(FITNESS_DEFINITIONS, "fixed")
    assert "pro-trainer" in lab.draft_text()
    assert lab.state.touched == ["fitness-assistant", "pro-trainer"]


@pytest.mark.parametrize(
    ("definitions", "target", "message"),
    [
        ('model = "x"\n[experts.a]\ninstruction = "i"\n', None, "Only \\[experts"),
        ("[experts.coach]\ninstruction = 'i'\n", None, "coach already exist"),
        ("[experts.accountant]\ninstruction = 'i'\n", "coach", "not accountant"),
        ("[experts.a\ninstruction = 'i'\n", None, "not valid TOML"),
        ("# nothing\n", None, "No Expert defined"),
    ],
)
def test_the_designer_may_only_write_what_the_session_is_about(
    tmp_path: Path, definitions: str, target: str | None, message: str
) -> None:
    lab = make_lab(tmp_path, COACH_PROJECT, target=target)
    with pytest.raises(DraftError, match=message):
        lab.write_definitions(definitions, "why")


async def test_scenarios_wait_for_a_draft(tmp_path: Path) -> None:
    lab = make_lab(tmp_path, SCRIPTED_HEAD)
    lab.define_scenarios(FITNESS_SCENARIOS)
    with pytest.raises(DraftError, match="No draft"):
        await lab.run_scenarios(None)
    with pytest.raises(DraftError, match=r"scenarios\[0\]\.name"):
        lab.define_scenarios([{"name": "Not A Slug", "expert": "x", "query": "q"}])
