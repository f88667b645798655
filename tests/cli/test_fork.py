"""`perstack fork`: a new job from any checkpoint, run by the real CLI on the scripted provider."""

from __future__ import annotations

import shutil
from pathlib import Path

import orjson
import pytest

from runtime.storage import FileStorage
from tests.helpers import Project
from tests.replay_projects import (
    checkpoint_of,
    folder_digest,
    job_id_of,
    step_ends,
    team_project,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "old-jobs"


@pytest.fixture(scope="module")
def team(tmp_path_factory: pytest.TempPathFactory) -> tuple[Project, object]:
    project = team_project(tmp_path_factory.mktemp("team"))
    return project, project.run("run", "lead", "Check both topics")


def test_a_fork_inside_a_parallel_delegate_continues_there_and_answers_its_parent(
    team: tuple[Project, object],
) -> None:
    project, original = team
    job_id = job_id_of(original)
    folder = project.storage / "jobs" / job_id
    before = folder_digest(folder)
    # Researcher B's step 3; researcher A had got somewhere too by then.
    fork_point = checkpoint_of(original, "researcher", 3, query="Topic B")
    fork_ms = _timestamp_of(original, fork_point["id"])
    sibling_step = max(
        e["stepNumber"]
        for e in step_ends(original)
        if e["expertKey"] == "researcher"
        and e["runId"] != fork_point["runId"]
        and e["timestamp"] <= fork_ms
    )

    forked = project.run("fork", job_id, fork_point["id"], "Look at the dates too.")

    assert forked.code == 0, forked.stderr
    assert forked.types[0] == "initializeRuntime" and forked.types[-1] == "skillDisconnected"
    new_id = job_id_of(forked)
    assert new_id != job_id
    starts = forked.of_type("startRun")
    forked_run = next(s for s in starts if s["inputMessages"])
    assert forked_run["stepNumber"] == 4 and forked_run["expertKey"] == "researcher"
    assert forked_run["inputMessages"][0]["contents"][0]["text"] == "Look at the dates too."
    history = [m["id"] for m in forked_run["initialCheckpoint"]["messages"]]
    assert history == [m["id"] for m in fork_point["messages"]]
    # The sibling went on from where it stood, without a new query.
    sibling = next(s for s in starts[:2] if s is not forked_run)
    assert sibling["stepNumber"] == sibling_step + 1 and sibling["inputMessages"] == []
    # Nothing before the fork point went to the model again.
    for run, first_step in ((forked_run, 4), (sibling, sibling_step + 1)):
        generations = [e for e in forked.of_type("startGeneration") if e["runId"] == run["runId"]]
        assert min(e["stepNumber"] for e in generations) == first_step
    # Both answers went back to the lead, which went on as in the original job.
    lead = [s for s in starts if s["expertKey"] == "lead"]
    assert len(lead) == 1
    resumed = forked.of_type("finishAllToolCalls")[0]["newMessages"][0]["contents"]
    assert sorted(part["contents"][0]["text"] for part in resumed) == ["A is fine.", "B is fine."]
    assert forked.last("completeRun")["text"] == "Both fine."

    # The new job: forkedFrom, the history before the fork point, then its own steps.
    record = orjson.loads((project.storage / "jobs" / new_id / "job.json").read_bytes())
    assert record["forkedFrom"] == {
        "jobId": job_id,
        "runId": fork_point["runId"],
        "checkpointId": fork_point["id"],
    }
    assert record["status"] == "completed" and record["coordinatorExpertKey"] == "lead"
    log = project.run("log", "--job", new_id, "--json", "--take", "0")
    assert log.code == 0 and "warning" not in log.stderr, log.stderr
    events = orjson.loads(log.stdout)["events"]
    assert {e["jobId"] for e in events} == {new_id}
    copied = [e for e in events if e["timestamp"] <= _timestamp_of(original, fork_point["id"])]
    original_ids = {e["id"] for e in original.events}
    assert copied and all(e["id"] in original_ids for e in copied)
    assert {"stopRunByDelegate", "callTools"} <= {e["type"] for e in copied}
    # The original job was only read.
    assert folder_digest(folder) == before
    # And the fork is a job like any other: it can be continued.
    again = project.run("run", "lead", "And now?", "--continue-job", new_id)
    assert again.code == 0, again.stderr
    sent = again.of_type("startGeneration")[0]["messages"]
    assert sent[-1]["contents"][0]["text"] == "And now?"


def _timestamp_of(result: object, checkpoint_id: str) -> int:
    for event in step_ends(result):  # type: ignore[arg-type]
        if event["checkpoint"]["id"] == checkpoint_id:
            return event["timestamp"]
    raise AssertionError(checkpoint_id)


def test_a_fork_with_an_edited_instruction_diverges_at_the_fork(tmp_path: Path) -> None:
    project = team_project(tmp_path / "team")
    original = project.run("run", "lead", "Check both topics")
    job_id = job_id_of(original)
    # The lead's step after its delegates answered: the next step is its final answer.
    fork_point = step_ends(original)[-2]
    assert fork_point["expertKey"] == "lead" and fork_point["type"] == "continueToNextStep"
    team_project(project.root, instruction="Lead, carefully.")

    forked = project.run("fork", job_id, fork_point["checkpoint"]["id"])

    assert forked.code == 0, forked.stderr
    sent = forked.of_type("startGeneration")
    assert len(sent) == 1  # only the step after the fork point asked the model
    assert "Lead, carefully." in sent[0]["messages"][0]["contents"][0]["text"]
    assert forked.last("completeRun")["text"] == "Both fine, checked carefully."
    diff = project.run("diff", job_id, job_id_of(forked), "--json")
    assert diff.code == 0, diff.stderr
    data = orjson.loads(diff.stdout)
    first = data["firstDivergence"]
    assert first["a"]["action"] == {"type": "answer", "text": "Both fine."}
    assert first["b"]["action"] == {"type": "answer", "text": "Both fine, checked carefully."}
    assert first["a"]["stepNumber"] == fork_point["stepNumber"] + 1
    pairs = data["pairs"]
    assert all(pair["same"] for pair in pairs[: first["index"]])
    assert len(pairs) == first["index"] + 1
    assert data["b"]["finalAnswer"] == "Both fine, checked carefully."
    assert data["b"]["forkedFrom"]["checkpointId"] == fork_point["checkpoint"]["id"]
    text = project.run("diff", job_id, job_id_of(forked))
    assert "▶ ~" in text.stdout and "equal steps" in text.stdout


def test_fork_refuses_what_it_cannot_do_with_one_line(team: tuple[Project, object]) -> None:
    project, original = team
    job_id = job_id_of(original)
    delegating = checkpoint_of(original, "lead", 1)["id"]
    completed = step_ends(original)[-1]["checkpoint"]["id"]
    cases = [
        (
            ("fork", job_id, "nosuchcheckpoint"),
            f"Checkpoint nosuchcheckpoint not found in job {job_id}",
        ),
        (("fork", "nosuchjob", completed), "Job nosuchjob not found"),
        (("fork", job_id, completed), "is where the job completed: give a query"),
        (("fork", job_id, delegating, "More"), "waits for its delegates"),
        (
            ("fork", job_id, completed, "x", "--continue"),
            "--continue cannot be used with perstack fork",
        ),
    ]
    for args, message in cases:
        result = project.run(*args)
        assert result.code == 1, args
        assert result.stdout == ""
        assert message in result.stderr and len(result.stderr.splitlines()) == 1, result.stderr


def test_a_delegation_point_forked_without_a_query_runs_the_delegates_again(
    team: tuple[Project, object],
) -> None:
    project, original = team
    delegating = checkpoint_of(original, "lead", 1)
    forked = project.run("fork", job_id_of(original), delegating["id"])
    assert forked.code == 0, forked.stderr
    queries = sorted(
        s["inputMessages"][1]["contents"][0]["text"]
        for s in forked.of_type("startRun")
        if s["expertKey"] == "researcher"
    )
    assert queries == ["Topic A", "Topic B"]
    assert forked.last("completeRun")["text"] == "Both fine."


def test_a_job_in_upstreams_layout_and_a_capture_can_be_forked(tmp_path: Path) -> None:
    project = Project(tmp_path / "old")
    shutil.copytree(FIXTURES, project.root)
    upstream = project.storage / "jobs" / "fixtureupstreamjob000001"
    storage = FileStorage(project.storage)
    final = storage.latest_checkpoint("fixtureupstreamjob000001")
    assert final is not None and final.status == "completed"
    moved = tmp_path / "elsewhere" / "upstream-job"
    shutil.copytree(upstream, moved)

    forked = project.run("fork", str(moved), final.id, "Once more")

    assert forked.code == 0, forked.stderr
    sent = forked.of_type("startGeneration")[0]["messages"]
    assert [m["id"] for m in sent[1:-1]] == [m.id for m in final.messages[1:]]
    # The instruction is today's: it names this workspace, not the one the job ran in.
    assert str(project.root) in sent[0]["contents"][0]["text"]
    assert sent[-1]["contents"][0]["text"] == "Once more"
    new_id = job_id_of(forked)
    log = project.run("log", "--job", new_id, "--json", "--take", "0")
    events = orjson.loads(log.stdout)["events"]
    assert len(events) > len(forked.events) - 6  # the copied history is there too
    # All of it the new job's, though the folder it came from had been renamed.
    assert {e["jobId"] for e in events} == {new_id}
    checkpoints = orjson.loads(project.run("log", "--job", new_id, "--json").stdout)["checkpoints"]
    assert {c["jobId"] for c in checkpoints} == {new_id}
    # A capture of `perstack run`, forked at one of its checkpoints.
    capture = project.run("run", "lead", "Go")
    (project.root / "run.jsonl").write_text(capture.stdout)
    point = checkpoint_of(capture, "helper", 2)
    again = project.run("fork", "run.jsonl", point["id"])
    assert again.code == 0, again.stderr
    assert again.last("completeRun")["text"] == capture.last("completeRun")["text"]
