"""`perstack log`: every option, both output forms, errors, bad files and upstream jobs."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from runtime.cli.log import log_command
from runtime.storage import FileStorage
from tests.helpers import COMPLETE_ON_TURN_1, PERSTACK, Project, simple_expert
from tests.storage_samples import T0, EventFactory, checkpoint, job

HOUR = 3_600_000
RULE = "─" * 50


QUERY = "Find and summarise the news of the day for me, please " * 2


def build_jobs(root: Path) -> FileStorage:
    """Two jobs; the latest (j2) has a delegation, a retry, an error and five steps."""
    storage = FileStorage(root)
    old = EventFactory("j1", start=T0)
    storage.store_job(job("j1", started_at=T0, status="completed", steps=1))
    storage.store_event(old.start_run("r0", 1, query="old job"))
    storage.store_event(old.complete("r0", 1))
    storage.store_checkpoint(checkpoint("j1", "r0", 1, status="completed"))

    make = EventFactory("j2", start=T0 + HOUR + 62_000)  # events from 01:01:02
    storage.store_job(
        job("j2", started_at=T0 + HOUR, status="stoppedByError", steps=5).model_copy(
            update={"finished_at": T0 + HOUR + 5 * 60_000}
        )
    )
    events = [
        make.start_run("r1", 1, query=QUERY),
        *make.tool_step("r1", 1),
        make.start_generation("r1", 2),
        make.retry("r1", 2),
        make.start_generation("r1", 3),
        make.call_delegate("r1", 3, target="researcher"),
        make.stop_by_delegate("r1", 3),
        make.start_run("r2", 4, query="research"),
        make.call_tools("r2", 4, [("search", "web"), ("@perstack/base", "exec")]),
        make.resolve(
            "r2", 4, text="Error: network unreachable while fetching the page", is_error=True
        ),
        make.complete("r2", 4, text="The news " * 20),
        make.start_run("r1", 5, query="resume"),
        make.stop_by_error("r1", 5),
    ]
    for event in events:
        storage.store_event(event)
    for step, run, status in [
        (1, "r1", "proceeding"),
        (2, "r1", "proceeding"),
        (3, "r1", "stoppedByDelegate"),
        (4, "r2", "completed"),
        (5, "r1", "stoppedByError"),
    ]:
        storage.store_checkpoint(checkpoint("j2", run, step, status=status))
    return storage


@pytest.fixture
def root(tmp_path: Path) -> Path:
    build_jobs(tmp_path / "store")
    return tmp_path / "store"


def log(root: Path, *args: str, env: dict[str, str | None] | None = None) -> Result:
    return CliRunner().invoke(
        log_command, list(args), env={"PERSTACK_STORAGE_PATH": str(root), **(env or {})}
    )


def log_json(root: Path, *args: str) -> dict[str, Any]:
    result = log(root, "--json", *args)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.count("\n") == 1  # one compact line
    return json.loads(result.stdout)


def event_lines(output: str) -> list[str]:
    """The `[Step N] type` header of each printed event."""
    return [" ".join(line.split()[:3]) for line in output.splitlines() if line.startswith("[Step")]


# --- selection ----------------------------------------------------------------------


def test_latest_job_by_default_with_the_upstream_header(root: Path) -> None:
    result = log(root)
    assert result.exit_code == 0
    assert result.stdout.startswith(
        "(showing latest job)\n\n"
        f"Storage: {root}\n\n"
        "Job: j2 (stoppedByError)\n"
        "Expert: writer\n"
        "Started: 2026-01-01 01:00:00\n"
        "Steps: 5\n"
        "Finished: 2026-01-01 01:05:00\n\n"
        f"Events:\n{RULE}\n"
        "[Step 1] startRun                01:01:02\n"
        f'  Query: "{QUERY[:60]}..."\n\n'
    )
    assert result.stdout.endswith(f"{RULE}\n")
    assert len(event_lines(result.stdout)) == 18


def test_job_option_selects_a_job_and_lists_its_checkpoints(root: Path) -> None:
    text = log(root, "--job", "j1").stdout
    assert not text.startswith("(showing latest job)")
    assert "Job: j1 (completed)" in text
    assert event_lines(text) == ["[Step 1] startRun", "[Step 1] completeRun"]

    data = log_json(root, "--job", "j1")
    assert "isLatestJob" not in data
    assert [c["id"] for c in data["checkpoints"]] == ["cp-r0-1"]
    assert [c["stepNumber"] for c in log_json(root, "--job", "j2")["checkpoints"]] == [
        1,
        2,
        3,
        4,
        5,
    ]


def test_run_option_shows_one_run(root: Path) -> None:
    data = log_json(root, "--run", "r2")
    assert data["isLatestJob"] is True
    assert {e["runId"] for e in data["events"]} == {"r2"}
    assert [e["type"] for e in data["events"]] == [
        "startRun", "callTools", "resolveToolResults", "completeRun"
    ]  # fmt: skip
    assert "checkpoints" not in data
    assert log_json(root, "--job", "j1", "--run", "r2")["events"] == []


def test_checkpoint_option_shows_it_and_its_runs_events(root: Path) -> None:
    result = log(root, "--checkpoint", "cp-r2-4")
    assert "Checkpoint: cp-r2-4\nStatus: completed\nStep: 4\nExpert: writer\n\n" in result.stdout
    assert "Messages:" not in result.stdout
    assert event_lines(result.stdout)[0] == "[Step 4] startRun"

    with_messages = log(root, "--checkpoint", "cp-r2-4", "--messages").stdout
    assert "Messages:\n  [instructionMessage] You write.\n  [userMessage] Write a haiku\n" in (
        with_messages
    )

    data = log_json(root, "--job", "j2", "--checkpoint", "cp-r1-3")
    assert data["checkpoint"]["id"] == "cp-r1-3"
    assert {e["runId"] for e in data["events"]} == {"r1"}
    assert "checkpoints" not in data and "isLatestJob" not in data


def test_unknown_checkpoint_is_an_error(root: Path) -> None:
    result = log(root, "--checkpoint", "nope")
    assert result.exit_code == 1
    assert result.stderr == "Error: Checkpoint nope not found in job j2\n"
    assert result.stdout == ""


def test_nothing_found_exits_zero(tmp_path: Path) -> None:
    for args in ([], ["--job", "missing"], ["--run", "r1"], ["--checkpoint", "cp"]):
        result = log(tmp_path / "empty", *args)
        assert (result.exit_code, result.stdout) == (0, "No data found\n")
    result = log(tmp_path / "empty", "--json")
    assert (result.exit_code, result.stdout) == (0, "No data found\n")


def test_default_storage_is_perstack_under_cwd(
    root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    build_jobs(tmp_path / "project" / "perstack")
    monkeypatch.chdir(tmp_path / "project")
    result = log(root, "--json", env={"PERSTACK_STORAGE_PATH": None})
    assert json.loads(result.stdout)["storagePath"] == str(tmp_path / "project" / "perstack")


# --- filters ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--step", "2"], ["startGeneration", "retry"]),
        (["--step", ">=4", "--type", "startRun"], ["startRun", "startRun"]),
        (["--step", "<2", "--type", "callTools"], ["callTools"]),
        (["--type", "callTools"], ["callTools", "callTools"]),
        (["--errors"], ["retry", "stopRunByError"]),
        (["--tools"], ["callTools", "resolveToolResults", "callTools", "resolveToolResults"]),
        (["--delegations"], ["callDelegate", "stopRunByDelegate"]),
        (["--errors", "--type", "retry"], ["retry"]),
        (["--errors", "--tools"], []),
        (["--filter", ".toolCalls[].skillName == search"], ["callTools"]),
        (["--filter", ".stepNumber >= 5"], ["startRun", "stopRunByError"]),
        (["--tools", "--filter", ".stepNumber > 1"], ["callTools", "resolveToolResults"]),
        (["--filter", '.error.name == "APIError"'], ["stopRunByError"]),
        (["--type", "noSuchType"], []),
    ],
)
def test_filters(root: Path, args: list[str], expected: list[str]) -> None:
    data = log_json(root, *args)
    assert [e["type"] for e in data["events"]] == expected
    assert data["totalEventsBeforeLimit"] == len(expected)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--step", "x"], 'Invalid step filter: x (expected a step number, found "x" at column 1;'),
        (["--step", "5-2"], "Invalid step range: 5-2 (min 5 > max 2)"),
        (["--filter", "type == x"], "Invalid filter expression: type == x ("),
        (["--take", "x"], 'Invalid value for --take: "x" is not a valid number'),
        (["--take", "1.5"], 'Invalid value for --take: "1.5" is not a valid number'),
        (["--offset", "-1"], 'Invalid value for --offset: "-1" must be non-negative'),
        (["--context", "-2"], 'Invalid value for --context: "-2" must be non-negative'),
        (["--context", "many"], 'Invalid value for --context: "many" is not a valid number'),
    ],
)
def test_bad_options_are_one_line_errors(root: Path, args: list[str], message: str) -> None:
    result = log(root, *args)
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: {message}")
    assert result.stderr.count("\n") == 1
    assert result.stdout == ""


# --- pagination and context ---------------------------------------------------------


def test_take_and_offset_paginate_with_notes(root: Path) -> None:
    result = log(root, "--take", "3", "--offset", "1")
    assert event_lines(result.stdout) == [
        "[Step 1] startGeneration", "[Step 1] streamReasoning", "[Step 1] callTools"
    ]  # fmt: skip
    assert result.stdout.endswith(
        f"{RULE}\n(showing 3 of 18 matched events)\n"
        "Use --take and --offset to paginate, or --take 0 for all\n"
    )
    data = log_json(root, "--take", "3", "--offset", "1")
    assert (data["totalEventsBeforeLimit"], data["matchedAfterPagination"]) == (18, 3)
    assert len(log_json(root, "--take", "0")["events"]) == 18
    assert len(log_json(root, "--take", "5", "--offset", "15")["events"]) == 3


def test_offset_past_the_end_says_how_many_exist(root: Path) -> None:
    result = log(root, "--offset", "40")
    assert "Events:" not in result.stdout
    assert result.stdout.endswith(
        "Steps: 5\nFinished: 2026-01-01 01:05:00\n\n(18 events available, use --offset to view)\n"
    )


def test_context_adds_neighbours_from_the_unfiltered_list(root: Path) -> None:
    data = log_json(root, "--type", "retry", "--context", "1")
    assert [e["type"] for e in data["events"]] == ["startGeneration", "retry", "startGeneration"]
    assert (data["totalEventsBeforeLimit"], data["matchedAfterPagination"]) == (1, 1)

    result = log(root, "--errors", "--take", "1", "--context", "2")
    assert event_lines(result.stdout) == [
        "[Step 1] continueToNextStep",
        "[Step 2] startGeneration",
        "[Step 2] retry",
        "[Step 3] startGeneration",
        "[Step 3] callDelegate",
    ]
    assert "(showing 1 of 2 matched events (+4 context))\n" in result.stdout


# --- output forms -------------------------------------------------------------------


def test_json_shape_and_order(root: Path) -> None:
    data = log_json(root, "--type", "callTools", "--take", "1")
    assert list(data) == [
        "job", "events", "summary", "isLatestJob", "storagePath",
        "totalEventsBeforeLimit", "matchedAfterPagination",
    ]  # fmt: skip
    assert data["job"]["id"] == "j2" and data["job"]["finishedAt"] == T0 + HOUR + 300_000
    assert data["summary"] == {
        "totalEvents": 1,
        "errorCount": 0,
        "toolCallCount": 1,
        "delegationCount": 0,
        "stepRange": {"min": 1, "max": 1},
    }
    assert data["storagePath"] == str(root)
    stored = (root / "jobs/j2/runs/r1").glob("event-*-1-callTools.json")
    assert data["events"] == [json.loads(next(stored).read_bytes())]
    empty = log_json(root, "--type", "nothing")
    assert empty["summary"] == {
        "totalEvents": 0, "errorCount": 0, "toolCallCount": 0, "delegationCount": 0
    }  # fmt: skip


def test_pretty_json_is_two_space_indented(root: Path) -> None:
    for args in (["--job", "j2"], ["--type", "nothing"]):
        result = log(root, "--json", "--pretty", *args)
        data = json.loads(result.stdout)
        assert result.stdout == json.dumps(data, indent=2, ensure_ascii=False) + "\n"
        assert data == log_json(root, *args)


def test_summary_and_verbose_terminal_details(root: Path) -> None:
    text = log(root, "--summary", "--verbose", "--step", "4").stdout
    assert (
        "Summary:\n  Total Events: 4\n  Errors: 0\n  Tool Calls: 2\n  Delegations: 0\n"
        "  Step Range: 4 - 4\n"
        "  Tokens (job): 0 (input 0 · cached 0 · output 0 · reasoning 0)\n"
        "  Cost (job): — (which model run r1 used is not recorded)\n\n"
    ) in text
    assert '  [search] web\n    Args: {"path":"a.txt"}\n  [@perstack/base] exec\n' in text
    assert "  ✗ readTextFile: Error: network unreachable while fetchin...\n" in text
    assert f"  Result: {('The news ' * 20)[:80]}...\n" in text

    plain = log(root, "--step", "1-3").stdout
    assert "  Tools: readTextFile\n" in plain
    assert '  ✓ readTextFile: {"content":"hello"}\n' in plain
    assert '  Reason: {"error":"RateLimit","message":"slow down"}\n' in plain
    assert "  Delegate to: researcher\n" in plain
    error = log(root, "--errors").stdout
    assert "  Error: APIError\n  Message: boom\n  Retryable: false\n" in error


ANSI = re.compile(r"\x1b\[[0-9;]*m")


def test_colour_only_on_a_colour_terminal(root: Path) -> None:
    plain = log(root, "--summary").stdout
    coloured = log(root, "--summary", env={"FORCE_COLOR": "1", "NO_COLOR": None}).stdout
    assert ANSI.search(coloured)
    assert ANSI.sub("", coloured) == plain
    no_color = log(root, "--summary", env={"FORCE_COLOR": "1", "NO_COLOR": "1"}).stdout
    assert no_color == plain


# --- robustness ---------------------------------------------------------------------


def test_corrupt_files_are_skipped_with_one_warning_each(root: Path) -> None:
    (next((root / "jobs/j2/runs/r2").glob("event-*-callTools.json"))).write_bytes(b'{"type":')
    (root / "jobs/j2/checkpoints/cp-r1-2.json").write_bytes(b"")

    result = log(root, "--job", "j2", "--json", "--take", "0")
    data = json.loads(result.stdout)
    assert len(data["events"]) == 17
    assert [c["stepNumber"] for c in data["checkpoints"]] == [1, 3, 4, 5]
    warnings = result.stderr.splitlines()
    assert len(warnings) == 2
    assert all(line.startswith("warning: skipped corrupt file ") for line in warnings)

    text = log(root, "--job", "j2", "--take", "0")
    assert len(event_lines(text.stdout)) == 17
    assert text.stderr.count("warning:") == 1


def test_upstream_job_without_job_json_or_run_settings(tmp_path: Path) -> None:
    root = tmp_path / "perstack"
    make = EventFactory("up")
    run_dir = root / "jobs/up/runs/r1"
    run_dir.mkdir(parents=True)
    (root / "jobs/up/checkpoints").mkdir()
    for step, status in ((1, "proceeding"), (2, "completed")):
        cp = checkpoint("up", "r1", step, status=status, expert_key="coordinator")
        (root / "jobs/up/checkpoints" / f"{cp.id}.json").write_bytes(cp.to_json())
    for event in (make.start_run("r1", 1), make.call_tools("r1", 1), make.complete("r1", 2)):
        name = f"event-{event.timestamp}-{event.step_number}-{event.type}.json"
        (run_dir / name).write_bytes(event.to_json())
    os.utime(root / "jobs/up", (1_767_225_600.5, 1_767_225_600.5))

    result = log(root)
    assert "Job: up (completed)\nExpert: coordinator\nStarted: 2026-01-01 00:00:00\nSteps: 2\n" in (
        result.stdout
    )
    assert event_lines(result.stdout) == [
        "[Step 1] startRun", "[Step 1] callTools", "[Step 2] completeRun"
    ]  # fmt: skip


# --- the real command ---------------------------------------------------------------


def test_perstack_log_after_a_real_run(project: Project) -> None:
    project.config(simple_expert())
    project.script(COMPLETE_ON_TURN_1)
    run = project.run("run", "writer", "Say hi")
    assert run.code == 0, run.stderr
    stored = [e for e in run.events if "stepNumber" in e]  # run events only are stored

    result = project.run("log", "--json", "--take", "0")
    assert result.code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["job"]["status"] == "completed" and data["isLatestJob"] is True
    assert data["events"] == stored
    assert data["storagePath"] == str(project.storage)

    text = subprocess.run(
        [PERSTACK, "log", "--type", "completeRun"],
        cwd=project.root,
        env=project.env(),
        capture_output=True,
        text=True,
        check=True,
    )
    assert "  Result: All done here.\n" in text.stdout


def test_log_never_imports_pydantic_or_rich_for_json() -> None:
    # Model and rich imports are a large share of `perstack log`'s 1.5 s budget.
    code = (
        "import sys, runtime.cli.log, runtime.views.logview, runtime.storage, runtime.views.filtering\n"
        "assert not {'pydantic', 'rich', 'runtime.model'} & set(sys.modules), sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_piping_into_head_ends_quietly(tmp_path: Path) -> None:
    storage = FileStorage(tmp_path / "perstack")
    make = EventFactory("big")
    storage.store_job(job("big"))
    for step in range(1, 400):
        for event in make.tool_step("r1", step):
            storage.store_event(event)
    reader = subprocess.Popen(
        [PERSTACK, "log", "--take", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PERSTACK_STORAGE_PATH": str(tmp_path / "perstack")},
    )
    assert reader.stdout is not None and reader.stderr is not None
    assert reader.stdout.readline() == b"(showing latest job)\n"
    reader.stdout.close()
    assert reader.wait(timeout=60) == 0
    assert reader.stderr.read() == b""


def test_marks_come_from_is_error_and_calls_are_counted_once(tmp_path: Path) -> None:
    """✓/✗ from the result's isError (or the base skill's error object), never from its
    text; "Tool Calls" counts calls, not the events that name them."""
    from runtime.events import ResolveToolResults, SkillLog
    from runtime.model import TextPart, ToolResult

    storage = FileStorage(tmp_path)
    make = EventFactory("j", start=T0)
    storage.store_job(job("j", started_at=T0, status="completed", steps=2))
    tools = [("box", "search"), ("box", "lookup"), ("@perstack/base", "readTextFile")]
    results = [
        ("tc-1-0", "search", "Error: 3 results about errors", None),  # a result, not a failure
        ("tc-1-1", "lookup", "the lookup service is down", True),  # isError
        ("tc-1-2", "readTextFile", '{"error":"Error","message":"no such file"}', None),
    ]
    for event in [
        make.call_tools("r", 1, tools),
        SkillLog(**make._base("r", 1), skill_name="box", level="info", data="hi"),
        ResolveToolResults(
            **make._base("r", 1),
            tool_results=[
                ToolResult(
                    id=call_id, skill_name="box", tool_name=name,
                    result=[TextPart(text=text)], is_error=failed,
                )
                for call_id, name, text, failed in results
            ],
        ),
    ]:  # fmt: skip
        storage.store_event(event)
    text = log(tmp_path, "--tools", "--summary").stdout
    assert "  Total Events: 3\n  Errors: 0\n  Tool Calls: 3\n" in text
    assert "  ✓ search: Error: 3 results about errors\n" in text
    assert "  ✗ lookup: the lookup service is down\n" in text
    assert '  ✗ readTextFile: {"error":"Error","message":"no such file...\n' in text
    assert "  [info] box: hi\n" in text
    assert log_json(tmp_path, "--tools")["summary"]["toolCallCount"] == 3
    assert log_json(tmp_path, "--type", "resolveToolResults")["summary"]["toolCallCount"] == 3
# --- tokens and cost in the summary ----------------------------------------------------

PRICED_TEAM = """
[prices."scripted:claude-sonnet-4-5"]
inputPerMillion = 1000
outputPerMillion = 2000
"""


def run_priced_job(project: Project, prices: str = "") -> None:
    project.config(simple_expert() + prices)
    project.script(COMPLETE_ON_TURN_1)
    assert project.run("run", "writer", "Say hi").code == 0


def summary_json(project: Project, *args: str) -> dict[str, Any]:
    result = project.run("log", "--summary", "--json", *args)
    assert result.code == 0, result.stderr
    return json.loads(result.stdout)["summary"]


def test_summary_prices_the_job_with_perstack_toml_prices(tmp_path: Path) -> None:
    project = Project(tmp_path)
    run_priced_job(project, PRICED_TEAM)
    summary = summary_json(project)
    tokens = summary["tokens"]
    assert tokens["total"] == tokens["input"] + tokens["output"] > 0
    # $1000 per million input tokens and $2000 per million output: exact in decimal.
    expected = (tokens["input"] * 1000 + tokens["output"] * 2000) / 1_000_000
    assert summary["costUsd"] == pytest.approx(expected, abs=1e-12)
    assert summary["models"] == ["scripted:claude-sonnet-4-5"]
    assert "costReason" not in summary
    text = project.run("log", "--summary").stdout
    assert f"  Tokens (job): {tokens['total']:,} (input {tokens['input']:,} · cached 0" in text
    assert "  Cost (job): $" in text and "(scripted:claude-sonnet-4-5 at perstack.toml prices)" in text


def test_summary_of_an_offline_job_costs_nothing_and_plain_json_has_no_cost(tmp_path: Path) -> None:
    project = Project(tmp_path)
    run_priced_job(project)
    summary = summary_json(project)
    assert summary["costUsd"] == 0 and summary["tokens"]["total"] > 0
    assert "  Cost (job): $0 (scripted:claude-sonnet-4-5: offline provider, no charge)\n" in (
        project.run("log", "--summary").stdout
    )
    plain = json.loads(project.run("log", "--json").stdout)["summary"]
    assert "costUsd" not in plain and "tokens" not in plain  # upstream's shape unless asked


def test_summary_of_an_unknown_model_says_why_in_text_and_json(tmp_path: Path) -> None:
    project = Project(tmp_path)
    run_priced_job(project)
    # The run setting names a model no price table knows (as if run on a private model).
    for setting in project.storage.glob("jobs/*/runs/*/run-setting.json"):
        data = json.loads(setting.read_text())
        data["model"], data["providerConfig"]["providerName"] = "in-house-7b", "openai"
        setting.write_text(json.dumps(data))
    summary = summary_json(project)
    assert summary["costUsd"] is None
    assert "has no price for openai:in-house-7b" in summary["costReason"]
    assert '[prices."openai:in-house-7b"]' in summary["costReason"]
    text = project.run("log", "--summary").stdout
    assert "  Cost (job): — (genai-prices " in text and "openai:in-house-7b" in text


def test_summary_of_one_run_and_a_bad_price_table(tmp_path: Path) -> None:
    project = Project(tmp_path)
    run_priced_job(project, PRICED_TEAM)
    job_id = next((project.storage / "jobs").iterdir()).name
    run_id = next((project.storage / "jobs" / job_id / "runs").iterdir()).name
    by_run = project.run("log", "--summary", "--job", job_id, "--run", run_id).stdout
    assert "  Cost (run): $" in by_run
    config = project.root / "perstack.toml"
    config.write_text(config.read_text().replace("outputPerMillion = 2000", "outputPerMillion = -2"))
    result = project.run("log", "--summary")
    assert result.code == 1 and result.stdout == ""
    assert result.stderr.strip().endswith(
        'prices."scripted:claude-sonnet-4-5".outputPerMillion: must be >= 0.0, got integer -2'
    )
    assert result.stderr.startswith(f"{config}:")
    assert project.run("log").code == 0  # without --summary no price is needed
