"""The replay view: a job as it was at any event, on jobs made by real CLI runs."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from runtime.storage.sources import open_job
from runtime.views.replay import JobReplay
from runtime.views.runtree import STEP_END_TYPES
from tests.helpers import Project
from tests.replay_projects import job_id_of, team_project

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "old-jobs"


@pytest.fixture(scope="module")
def team(tmp_path_factory: pytest.TempPathFactory) -> tuple[Project, str, list[dict]]:
    project = team_project(tmp_path_factory.mktemp("replay"))
    result = project.run("run", "lead", "Check both topics")
    project.write("job.jsonl", result.stdout)
    return project, job_id_of(result), result.events


def _replay(project: Project, name: str) -> JobReplay:
    return JobReplay.from_source(open_job(name, cwd=project.root))


def test_the_tree_and_header_are_those_of_the_moment(team: tuple[Project, str, list[dict]]) -> None:
    project, job_id, printed = team
    replay = _replay(project, job_id)
    assert len(replay) == sum(1 for e in printed if "stepNumber" in e)
    assert replay.cursor == len(replay) - 1  # it opens at the end

    replay.first()
    assert replay.event.type == "startRun" and replay.header().step == 1
    assert replay.header().tokens == 0 and replay.visible_count() == 1
    assert [n.label for n in replay.nodes_at().values()] == ["lead"]

    replay.go_to_step(1)  # the lead delegated; nobody has started yet
    assert replay.event.type == "stopRunByDelegate"
    nodes = replay.nodes_at()
    assert [(n.label, n.status, n.steps) for n in nodes.values()] == [("lead", "delegating", 1)]
    tokens_at_1 = replay.header().tokens
    assert tokens_at_1 > 0

    replay.go_to_step(3)  # both researchers under way
    nodes = replay.nodes_at()
    labels = sorted(n.label for n in nodes.values() if n.expert_key == "researcher")
    assert labels == ["researcher #1", "researcher #2"]
    assert nodes["root"].status == "delegating" and nodes["root"].children == list(nodes)[1:]
    assert replay.header().tokens > tokens_at_1

    replay.last()
    header = replay.header()
    assert (header.step, header.last_step, header.steps_done, header.steps_total) == (7, 7, 11, 11)
    assert header.status == "completed"
    generated = sum(
        e["usage"]["totalTokens"] for e in printed if e["type"] in ("callTools", "completeRun")
    )
    assert header.tokens == generated
    final = replay.nodes_at()
    assert all(n.status == "completed" for n in final.values())
    assert sorted(n.steps for n in final.values()) == [3, 4, 4]
    assert final["root"].total_steps == 11
    assert header.elapsed_ms == final["root"].elapsed_ms > 0


def test_rows_are_shown_as_they_were(team: tuple[Project, str, list[dict]]) -> None:
    project, job_id, _ = team
    replay = _replay(project, job_id)
    counts = [replay.visible_count(cursor) for cursor in range(len(replay))]
    assert counts == sorted(counts) and counts[-1] == len(replay.rows)
    failed = next(row for row in replay.rows if row.args == {"path": "missing.txt"})
    assert failed.actor == "researcher #2" and failed.status == "error"
    called = replay.index_of(failed.events[0].id)
    assert replay.row_at(failed, called).status == "running"
    assert replay.row_at(failed, called).result is None
    assert replay.row_at(failed, called - 1).status == "future"
    answered = replay.index_of(failed.events[-1].id)
    assert replay.row_at(failed, answered).status == "error"
    assert "missing.txt" in (replay.row_at(failed, answered).result or "")
    completion = replay.rows[-1]
    assert completion.kind == "completion" and completion.text == "Both fine."
    streaming = replay.index_of(completion.events[0].id)
    assert replay.row_at(completion, streaming).status == "streaming"
    assert replay.row_at(completion, streaming).text == ""
    assert replay.row_at(completion).text == "Both fine."
    shown = replay.rows_at(cursor=streaming)
    assert len(shown) == replay.visible_count(streaming) and shown[-1].row is completion


def test_navigation_between_steps_errors_delegations_and_tools(
    team: tuple[Project, str, list[dict]],
) -> None:
    project, job_id, _ = team
    replay = _replay(project, job_id)
    replay.first()
    ends = [i for i, e in enumerate(replay.events) if e.type in STEP_END_TYPES]
    assert replay.next_step() == ends[0]
    assert replay.next_step() == ends[1]
    assert replay.prev_step() == ends[0]
    assert replay.prev_step() == ends[0]  # nothing earlier: it stays
    assert replay.next_event() == ends[0] + 1 and replay.prev_event() == ends[0]
    replay.first()
    delegation = replay.find("delegation")
    assert replay.events[delegation].type == "callDelegate"
    assert replay.events[replay.find("tool")].type == "callTools"
    error = replay.move("error", 1)
    assert replay.events[error].type == "resolveToolResults"
    assert replay.find("error", 1) is None and replay.find("error", -1) is None
    assert replay.go_to_step(5) in ends and replay.event.step_number == 5
    assert replay.go_to_step(99) == len(replay) - 1
    with pytest.raises(ValueError, match="unknown mark"):
        replay.find("nonsense")
    gaps = [replay.gap_ms(i) for i in range(len(replay))]
    assert gaps[0] == 0 and sum(gaps) == replay.events[-1].timestamp - replay.events[0].timestamp
    replay.seek(5)
    assert replay.play_delay_ms(4) == min(2_000, replay.gap_ms(6) // 4)
    assert replay.play_delay_ms(None) == 0


def test_the_checkpoint_at_the_cursor(team: tuple[Project, str, list[dict]]) -> None:
    project, job_id, printed = team
    replay = _replay(project, job_id)
    end = step_ends_of(printed)[3]
    replay.seek(replay.index_of(end["id"]))
    held = replay.checkpoint_at()
    assert held is not None and held.stored
    assert held.checkpoint.id == end["checkpoint"]["id"]
    assert [m.id for m in held.messages] == [m["id"] for m in end["checkpoint"]["messages"]]
    assert held.usage.total_tokens == end["checkpoint"]["usage"]["totalTokens"]
    assert replay.fork_point() == (end["runId"], end["checkpoint"]["id"])
    # Mid-step: the call just made waits for its result.
    replay.seek(replay.find("tool", 1))
    waiting = replay.checkpoint_at()
    assert waiting is not None
    calls = replay.event.tool_calls  # type: ignore[attr-defined]
    assert [c.id for c in waiting.pending_tool_calls] == [c.id for c in calls]
    assert [r.status for r in waiting.waiting] == ["running"] * len(calls)
    # Before a run's first step ends, it holds what it started with (not a fork point).
    replay.first()
    start = replay.checkpoint_at()
    assert start is not None and not start.stored and replay.fork_point() is None


def step_ends_of(printed: list[dict]) -> list[dict]:
    kinds = {"continueToNextStep", "completeRun", "stopRunByDelegate"}
    return [e for e in printed if e["type"] in kinds]


def test_the_todo_list_of_a_checkpoint(tmp_path: Path) -> None:
    project = Project(tmp_path / "old")
    shutil.copytree(FIXTURES, project.root)
    replay = _replay(project, "fixturefulljob0000000001")
    todo = next(i for i, e in enumerate(replay.events) if e.type == "callTools"
                and e.tool_calls[0].tool_name == "todo")  # fmt: skip
    replay.seek(todo)
    replay.next_step()
    assert replay.checkpoint_at().todos == [{"id": 0, "title": "answer", "completed": False}]


def test_a_capture_replays_like_the_stored_job(team: tuple[Project, str, list[dict]]) -> None:
    project, job_id, _ = team
    stored, captured = _replay(project, job_id), _replay(project, "job.jsonl")
    assert len(stored) == len(captured)
    for cursor in range(0, len(stored), 7):
        assert stored.header(cursor) == captured.header(cursor)
        assert [r.status for r in stored.rows_at(cursor=cursor)] == [
            r.status for r in captured.rows_at(cursor=cursor)
        ]
    captured.go_to_step(6)
    held = captured.checkpoint_at()
    stored.go_to_step(6)
    assert held is not None and held.messages == stored.checkpoint_at().messages


def test_a_forks_gap_is_not_elapsed_time(team: tuple[Project, str, list[dict]]) -> None:
    project, job_id, printed = team
    point = step_ends_of(printed)[-2]
    forked = project.run("fork", job_id, point["checkpoint"]["id"])
    replay = _replay(project, job_id_of(forked))
    assert replay.pause is not None
    start, end = replay.pause
    assert end - start > 0
    first, last = replay.events[0].timestamp, replay.events[-1].timestamp
    assert replay.header().elapsed_ms <= (last - first) - (end - start)
    before = replay.header(replay.index_of(point["id"]))
    assert before.elapsed_ms <= point["timestamp"] - first
