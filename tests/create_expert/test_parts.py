"""The parts of create-expert: merging definitions, checks, comparing runs, scratch copies,
and the runtime's in-process skills."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from runtime.create_expert.compare import compare_definitions, compare_runs
from runtime.create_expert.drafts import DraftError, merge_definitions, validate_text, write_config
from runtime.create_expert.scenarios import RunRecord, Scenario, check_run
from runtime.create_expert.testrun import WorkspaceCopy, changed_files, snapshot
from runtime.errors import PerstackError
from runtime.model import TextPart
from runtime.providers.base import ToolDefinition
from runtime.skills.manager import Skill, SkillContext
from tests.helpers import Recorder


def test_merging_adds_experts_to_a_file_without_any() -> None:
    merged = merge_definitions('model = "m"\n', '[experts.a]\ninstruction = "A"\n')
    assert merged == 'model = "m"\n\n[experts.a]\ninstruction = "A"\n'
    assert (
        merge_definitions("", "[experts.a]\ninstruction = 'A'\n").strip().startswith("[experts.a]")
    )


def test_merging_changes_only_the_values_that_differ() -> None:
    base = (
        '[experts.a]\n# why a exists\ndescription = "old"  # kept? no: replaced\n'
        'instruction = "same"  # stays with its comment\ntags = ["x"]\n'
    )
    merged = merge_definitions(base, '[experts.a]\ndescription = "new"\ninstruction = "same"\n')
    assert "# why a exists" in merged
    assert 'instruction = "same"  # stays with its comment' in merged
    assert 'description = "new"' in merged
    assert "tags" not in merged  # a key the new definition no longer has is removed


def test_validation_names_the_problems_and_write_refuses_them(tmp_path: Path) -> None:
    path = tmp_path / "perstack.toml"
    path.write_text("# mine\n")
    bad = '[experts.a]\ninstruction = "A"\ndelegates = ["b"]\n'
    with pytest.raises(DraftError, match="b"):
        validate_text(bad, path)
    with pytest.raises(DraftError):
        write_config(path, bad, tmp_path / "backup")
    assert path.read_text() == "# mine\n" and not (tmp_path / "backup").exists()
    write_config(path, '[experts.a]\ninstruction = "A"\n', tmp_path / "b" / "perstack.toml")
    assert (tmp_path / "b" / "perstack.toml").read_text() == "# mine\n"


def scenario(**expect: Any) -> Scenario:
    return Scenario.model_validate({"name": "s", "expert": "a", "query": "q", "expect": expect})


def test_checks_read_files_tools_delegation_steps_and_the_answer() -> None:
    record = RunRecord(
        status="completed",
        steps=7,
        tools_called=["a:readTextFile", "b:writeTextFile"],
        delegations=["b"],
        files_written=["./out.md"],
        final_text="Here is the PLAN.",
    )
    checks = check_run(
        scenario(
            filesWritten=["out.md"],
            filesNotWritten=["log.md"],
            fileContains={"out.md": "week"},
            toolsCalled=["writeTextFile"],
            toolsNotCalled=["exec"],
            delegatesTo=["b"],
            maxSteps=5,
            resultContains=["plan"],
        ),
        record,
        {"out.md": "One WEEK"},
    )
    assert {c.name: c.passed for c in checks} == {
        "completes": True,
        "writes out.md": True,
        "leaves log.md": True,
        "out.md contains 'week'": True,
        "calls writeTextFile": True,
        "never calls exec": True,
        "delegates to b": True,
        "at most 5 steps": False,
        "answer mentions 'plan'": True,
    }
    failed = check_run(
        scenario(noDelegation=True), record.model_copy(update={"status": "timedOut"}), {}
    )
    assert [(c.name, c.passed) for c in failed] == [
        ("completes", False),
        ("does not delegate", False),
    ]


def test_comparing_two_runs_says_what_the_later_one_did_differently() -> None:
    before = RunRecord(status="completed", steps=1, tools_called=["a:todo"])
    after = RunRecord(
        status="completed", steps=3, tools_called=["a:appendTextFile"], files_written=["log.md"]
    )
    assert compare_runs(before, after) == [
        "tools now: appendTextFile",
        "tools no longer: todo",
        "writes now: log.md",
        "steps 1 -> 3",
    ]
    assert compare_runs(after, after) == []
    old = '[experts.a]\ninstruction = "x"\n'
    new = '[experts.a]\ninstruction = "y"\ndelegates = ["b"]\n[experts.b]\ninstruction = "b"\n'
    assert compare_definitions(old, new, ["a", "b"]) == [
        "a: delegates, instruction changed",
        "b: added",
    ]


def test_a_scratch_copy_leaves_out_storage_and_keeps_files_inside(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "perstack" / "jobs").mkdir(parents=True)
    (project / ".git").mkdir()
    (project / "notes.md").write_text("mine")
    copy = WorkspaceCopy(project, (project / "perstack",))
    try:
        assert sorted(p.name for p in copy.root.iterdir()) == ["notes.md"]
        for escape in ("../outside.md", "/tmp/abs.md"):
            with pytest.raises(PerstackError, match="inside the workspace"):
                copy.put(escape, "x")
        before = snapshot(copy.root)
        copy.put("sub/new.md", "new")
        (copy.root / "notes.md").write_text("changed!")
        assert changed_files(before, snapshot(copy.root)) == ["notes.md", "sub/new.md"]
    finally:
        copy.remove()
    assert not copy.root.exists()
    assert (project / "notes.md").read_text() == "mine"


class EchoSkill(Skill):
    """An in-process skill offering one tool."""

    def __init__(self, name: str) -> None:
        self.name = name

    async def start(self, context: SkillContext) -> None:
        pass

    def tools(self) -> list[ToolDefinition]:
        return [
            ToolDefinition(name="echo", description="Echo", input_schema={}, skill_name=self.name)
        ]

    async def call(self, tool_name: str, args: Any) -> list[Any]:
        return [TextPart(text=f"echo {args['text']}")]


async def test_run_serves_a_declared_skill_in_process(tmp_path: Path) -> None:
    from runtime import parse_config_text, run, settings_from_config
    from runtime.providers.scripted import ScriptedProvider
    from runtime.storage import MemoryStorage

    config = parse_config_text(
        '[experts.a]\ninstruction = "i"\n[experts.a.skills.mine]\ntype = "mcpStdioSkill"\n'
        'command = "does-not-exist"\nargs = ["x"]\n',
        tmp_path / "perstack.toml",
    )
    provider = ScriptedProvider.from_rules(
        [
            {"turn": 1, "toolCalls": [{"name": "echo", "args": {"text": "hi"}}]},
            {"text": "done"},
        ]
    )
    recorder = Recorder()
    final = await run(
        settings_from_config(config, "a", "go", workspace=tmp_path),
        recorder,
        storage=MemoryStorage(),
        provider=provider,
        in_process_skills={"mine": lambda table: EchoSkill(table.name)},
    )
    assert final.status == "completed"
    assert [t.name for t in provider.requests[0].tools][-1] == "echo"
    result = recorder.of("resolveToolResults")[0].tool_results[0]
    assert result.result[0].text == "echo hi"
    connected = [e.skill_name for e in recorder.of("skillConnected")]
    assert connected == ["@perstack/base", "mine"]
