"""Any job, from anywhere: `perstack log --job` with an id, a job folder, a .jsonl capture."""

from __future__ import annotations

import shutil
from pathlib import Path

import orjson
import pytest

from runtime.errors import PerstackError
from runtime.storage.sources import open_job
from tests.helpers import Project
from tests.replay_projects import job_id_of, team_project

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "old-jobs"


@pytest.fixture(scope="module")
def team(tmp_path_factory: pytest.TempPathFactory) -> tuple[Project, str, str, str]:
    """A job of parallel delegates, with captures of its stdout in both formats."""
    project = team_project(tmp_path_factory.mktemp("sources"))
    compact = project.run("run", "lead", "Check both topics")
    project.write("compact.jsonl", compact.stdout)
    upstream = project.run("run", "lead", "Check both topics", "--event-format", "upstream")
    project.write("upstream.jsonl", upstream.stdout)
    return project, job_id_of(compact), job_id_of(upstream), compact.stdout


def _log_events(project: Project, job: str, *more: str) -> tuple[list[dict], str]:
    result = project.run("log", "--job", job, "--json", "--take", "0", *more)
    assert result.code == 0, result.stderr
    return orjson.loads(result.stdout)["events"], result.stderr


def test_a_capture_reads_like_the_stored_job(team: tuple[Project, str, str, str]) -> None:
    project, compact_id, upstream_id, _ = team
    for capture, job_id in (("compact.jsonl", compact_id), ("upstream.jsonl", upstream_id)):
        stored, _ = _log_events(project, job_id)
        captured, warnings = _log_events(project, capture)
        assert warnings == ""
        assert captured == stored  # every event, histories rebuilt, in the same order
        data = orjson.loads(project.run("log", "--job", capture, "--json").stdout)
        assert data["job"]["id"] == job_id and data["job"]["status"] == "completed"
        assert data["job"]["coordinatorExpertKey"] == "lead"
        assert data["storagePath"] == str(project.root / capture)
        checkpoints = {c["id"]: c for c in data["checkpoints"]}
        final = stored[-1]["checkpoint"]
        assert checkpoints[final["id"]]["messages"] == final["messages"]


def test_a_cut_or_damaged_capture_opens_as_far_as_it_is_whole(
    team: tuple[Project, str, str, str],
) -> None:
    project, compact_id, _, stdout = team
    lines = stdout.splitlines(keepends=True)
    whole = sum(1 for line in lines[:30] if '"stepNumber"' in line)
    cut = "".join(lines[:30]) + lines[30][: len(lines[30]) // 2]
    project.write("cut.jsonl", cut)
    events, warnings = _log_events(project, "cut.jsonl")
    assert len(events) == whole
    assert warnings.splitlines() == [
        f"warning: {project.root / 'cut.jsonl'}:31: invalid JSON (cut short?); "
        "the job is shown as far as line 30"
    ]
    project.write("damaged.jsonl", "".join(lines[:30]) + "garbage\n" + "".join(lines[31:]))
    events, warnings = _log_events(project, "damaged.jsonl")
    assert len(events) == whole and len(warnings.splitlines()) == 1
    # Its start cut off: read until a line names a base the capture never showed.
    project.write("headless.jsonl", "".join(lines[12:]))
    events, warnings = _log_events(project, "headless.jsonl")
    assert 0 < len(events) < len(stored_events(project, compact_id))
    assert "not shown before it; the job is shown as far as line" in warnings
    assert len(warnings.splitlines()) == 1
    project.write("empty.jsonl", "\n")
    result = project.run("log", "--job", "empty.jsonl")
    assert result.code == 1
    assert result.stderr.strip().endswith(
        "no event of a job in it: not a capture of perstack run's events"
    )


def stored_events(project: Project, job_id: str) -> list[dict]:
    return _log_events(project, job_id)[0]


def test_job_folders_open_wherever_they_are(
    team: tuple[Project, str, str, str], tmp_path: Path
) -> None:
    project, compact_id, _, _ = team
    stored, _ = _log_events(project, compact_id)
    elsewhere = tmp_path / "attachments" / "bug-1234"
    shutil.copytree(project.storage / "jobs" / compact_id, elsewhere)
    events, warnings = _log_events(project, str(elsewhere))
    assert events == stored and warnings == ""
    inside = project.storage / "jobs" / compact_id
    assert _log_events(project, str(inside))[0] == stored
    # Upstream's layout: no job.json, a folder outside any storage root.
    upstream = tmp_path / "upstream-job"
    shutil.copytree(FIXTURES / "perstack" / "jobs" / "fixtureupstreamjob000001", upstream)
    data = orjson.loads(project.run("log", "--job", str(upstream), "--json").stdout)
    assert data["job"]["coordinatorExpertKey"] == "lead" and data["job"]["totalSteps"] == 6
    assert data["storagePath"] == str(upstream)


def test_names_that_lead_nowhere_say_so(
    team: tuple[Project, str, str, str], tmp_path: Path
) -> None:
    project, *_ = team
    for name, message in (
        ("./nowhere", "./nowhere: no such file or folder"),
        ("perstack", "perstack is a storage root, not a job"),
    ):
        result = project.run("log", "--job", name)
        assert result.code == 1 and message in result.stderr, result.stderr
    (tmp_path / "plain").mkdir()
    with pytest.raises(PerstackError, match="not a job folder"):
        open_job(str(tmp_path / "plain"))
    # A job id that is nowhere keeps upstream's answer.
    assert project.run("log", "--job", "nosuchjob").stdout == "No data found\n"


def test_parallel_runs_of_one_expert_are_numbered_in_the_log(
    team: tuple[Project, str, str, str],
) -> None:
    project, compact_id, _, _ = team
    text = project.run("log", "--job", compact_id, "--take", "0").stdout
    assert "  Delegate to: researcher #1\n  Delegate to: researcher #2\n" in text
    starts = [line for line in text.splitlines() if "] startRun" in line]
    assert [line.split()[-2:] for line in starts[1:3]] == [
        ["researcher", "#1"],
        ["researcher", "#2"],
    ]
    assert starts[0].split()[-1] != "#1"  # the lead is not numbered
