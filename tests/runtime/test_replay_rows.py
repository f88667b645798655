"""The replay's timeline rows (a filter, as of the cursor) and its checkpoint reads."""

from __future__ import annotations

import pytest

from runtime.storage.sources import open_job
from runtime.views.replay import JobReplay
from runtime.views.replay_rows import ReplayRows
from runtime.views.timeline_filter import RowFilter
from tests.replay_projects import job_id_of, team_project


@pytest.fixture(scope="module")
def replay(tmp_path_factory: pytest.TempPathFactory) -> JobReplay:
    project = team_project(tmp_path_factory.mktemp("replay-rows"))
    result = project.run("run", "lead", "Check both topics")
    return JobReplay.from_source(open_job(job_id_of(result), cwd=project.root))


def test_rows_shown_follow_the_cursor_and_the_filter(replay: JobReplay) -> None:
    shown = ReplayRows(replay)
    replay.last()
    assert len(shown) == len(replay.rows) and shown.last_position() == len(shown) - 1
    replay.go_to_step(3)
    count = replay.visible_count()
    assert len(shown) == count < len(replay.rows)
    assert [shown.row_at(p).row for p in range(len(shown))] == replay.rows[:count]
    assert shown.position_of(count) is None  # not there yet
    shown.set_filter(RowFilter(tools=True))
    tools = [p for p in range(len(shown)) if shown.row_at(p).kind == "tool"]
    assert tools == list(range(len(shown))) and len(shown) > 0
    failed = next(r for r in replay.rows if r.args == {"path": "missing.txt"})
    replay.seek(replay.index_of(failed.events[0].id))
    assert shown.row_at(shown.position_of(failed.index)).status == "running"
    replay.first()
    assert len(shown) == 0 and shown.last_position() is None


def test_a_checkpoint_is_read_once(replay: JobReplay, monkeypatch: pytest.MonkeyPatch) -> None:
    replay.go_to_step(2)
    first = replay.checkpoint_at()
    assert first is not None
    reads: list[int] = []
    original = replay.stored_event
    monkeypatch.setattr(replay, "stored_event", lambda i: reads.append(i) or original(i))
    again = replay.checkpoint_at()
    assert again is not None and again.checkpoint is first.checkpoint and reads == []
