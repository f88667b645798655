"""Jobs cost in proportion to their steps (issue 12): compact storage and compact streams.

Each message is written once, in storage and on stdout; every reader rebuilds the full
checkpoints; `--event-format upstream` prints upstream's full events; old jobs still open.
"""

from __future__ import annotations

import random
import shutil
import signal
import sys
from pathlib import Path
from typing import Any

import orjson

from runtime.storage import FileStorage
from runtime.views.checkpoints import rebuild_events
from tests.helpers import Project, parse_stream
from tests.replay_compare import comparable, comparable_runs

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from bench_run import CONFIG, LOOP_RULE, SCRIPT  # noqa: E402

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "old-jobs"
FULL_JOB, UPSTREAM_JOB = "fixturefulljob0000000001", "fixtureupstreamjob000001"


def looping_project(tmp_path: Path, steps: int, name: str = "loop") -> Project:
    project = Project(tmp_path / name)
    project.root.mkdir(parents=True)
    project.write("perstack.toml", CONFIG)
    project.write("notes.txt", "A short note the looping Expert reads at every step.\n")
    project.script(LOOP_RULE.format(steps=steps) + SCRIPT)
    return project


def delegating_project(tmp_path: Path, name: str) -> Project:
    project = Project(tmp_path / name)
    project.root.mkdir(parents=True)
    for file in ("perstack.toml", "script.toml", "notes.txt"):
        shutil.copy(FIXTURES / file, project.root / file)
    return project


def stored_bytes(project: Project) -> int:
    return sum(path.stat().st_size for path in project.storage.rglob("*") if path.is_file())


def stored_documents(project: Project) -> list[dict[str, Any]]:
    return [orjson.loads(path.read_bytes()) for path in project.storage.rglob("*.json")]


def test_storage_and_stdout_grow_linearly_with_the_steps(tmp_path: Path) -> None:
    sizes = {}
    for steps in (100, 300):
        project = looping_project(tmp_path, steps, f"loop{steps}")
        result = project.run("run", "looper", "go", "--max-steps", "400")
        assert result.code == 0, result.stderr
        assert result.last("completeRun")["stepNumber"] == steps
        sizes[steps] = (len(result.stdout), stored_bytes(project))
    for kind, (short, long) in zip(("stdout", "storage"), zip(sizes[100], sizes[300])):
        assert long <= 2 * 3 * short, f"{kind}: {long} bytes for 300 steps, {short} for 100"


def test_rebuilt_checkpoints_and_events_equal_upstreams_full_ones(tmp_path: Path) -> None:
    # Folder names of one length: the prompt names the workspace, and the scripted model's
    # token estimate counts its characters, so both jobs must see the same length.
    compact = delegating_project(tmp_path, "compact-")
    upstream = delegating_project(tmp_path, "upstream")
    compact_run = compact.run("run", "lead", "Go")
    upstream_run = upstream.run("run", "lead", "Go", "--event-format", "upstream")
    assert compact_run.code == 0 and upstream_run.code == 0, compact_run.stderr
    printed = [orjson.loads(line) for line in upstream_run.stdout.splitlines()]

    # The compact stream really is compact, and rebuilds to upstream's stream.
    assert b"messagesBase" in compact_run.stdout.encode()
    assert b"messagesBase" not in upstream_run.stdout.encode()
    assert len(compact_run.stdout) < len(upstream_run.stdout)
    assert _runs(compact_run.events) == _runs(printed)

    # Storage is compact on disk, and reads back as upstream prints it.
    assert any("messagesBase" in doc for doc in stored_documents(compact))
    storage = FileStorage(compact.storage)
    job_id = compact_run.events[0]["jobId"]
    rebuilt = [c.to_json_dict() for c in storage.list_checkpoints(job_id)]
    final_versions = {}  # a checkpoint file holds the last version the stream showed
    for event in printed:
        if "checkpoint" in event:
            final_versions[event["checkpoint"]["id"]] = event["checkpoint"]
    assert sorted(map(_key, rebuilt)) == sorted(map(_key, final_versions.values()))
    stored_events = [event.to_json_dict() for event in storage.list_events(job_id)]
    run_events = [event for event in printed if "stepNumber" in event]
    assert _runs(stored_events) == _runs(run_events)


def _without_call_ids(value: Any) -> Any:
    # Two runs of one script differ in their tool-call ids too (the replay keeps them).
    if isinstance(value, dict):
        return {k: _without_call_ids(v) for k, v in value.items() if k != "toolCallId"}
    if isinstance(value, list):
        return [_without_call_ids(item) for item in value]
    return value


def _runs(events: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    return comparable_runs(_without_call_ids(events))


def _key(checkpoint: dict[str, Any]) -> bytes:
    return orjson.dumps(_without_call_ids(comparable(checkpoint)), option=orjson.OPT_SORT_KEYS)


def test_continue_and_resume_from_on_compact_storage(tmp_path: Path) -> None:
    project = looping_project(tmp_path, 4)
    first = project.run("run", "looper", "go")
    assert first.code == 0, first.stderr
    assert any("messagesBase" in doc for doc in stored_documents(project))
    final_messages = first.last("completeRun")["checkpoint"]["messages"]
    assert len(final_messages) == 9  # instruction, query, 3 x (call, result), answer

    again = project.run("run", "looper", "more", "--continue")
    assert again.code == 0, again.stderr
    sent = again.of_type("startGeneration")[0]["messages"]
    assert [m["id"] for m in sent[:9]] == [m["id"] for m in final_messages]
    assert sent[9]["type"] == "userMessage" and len(sent) == 10

    job_id = first.events[0]["jobId"]
    step_two = first.of_type("continueToNextStep")[1]["checkpoint"]
    resumed = project.run(
        "run", "looper", "back", "--continue-job", job_id, "--resume-from", step_two["id"]
    )
    assert resumed.code == 0, resumed.stderr
    sent = resumed.of_type("startGeneration")[0]["messages"]
    assert [m["id"] for m in sent[:-1]] == [m["id"] for m in step_two["messages"]]


def test_log_messages_shows_the_whole_history_of_a_compact_checkpoint(tmp_path: Path) -> None:
    project = looping_project(tmp_path, 6)
    result = project.run("run", "looper", "go")
    assert result.code == 0, result.stderr
    last = result.of_type("continueToNextStep")[-1]["checkpoint"]
    path = project.storage / "jobs" / last["jobId"] / "checkpoints" / f"{last['id']}.json"
    stored = orjson.loads(path.read_bytes())
    assert len(stored["messages"]) < len(last["messages"])  # the file holds a delta
    log = project.run("log", "--checkpoint", last["id"], "--messages")
    assert log.code == 0, log.stderr
    assert log.stdout.count("[toolMessage]") == 5 and "[instructionMessage]" in log.stdout
    as_json = project.run("log", "--checkpoint", last["id"], "--messages", "--json")
    assert as_json.code == 0, as_json.stderr
    data = orjson.loads(as_json.stdout)
    assert "messagesBase" not in as_json.stdout
    assert [m["id"] for m in data["checkpoint"]["messages"]] == [m["id"] for m in last["messages"]]


def test_a_kill_at_a_random_step_leaves_a_readable_resumable_job(tmp_path: Path) -> None:
    step = random.Random().randint(3, 40)
    project = looping_project(tmp_path, 500)
    process = project.popen("run", "looper", "go", "--max-steps", "600")
    assert process.stdout is not None
    lines = []
    for line in process.stdout:  # wait for the step, then kill: no sleeping
        lines.append(line)
        event = orjson.loads(line)
        if event["type"] == "startGeneration" and event["stepNumber"] == step:
            process.send_signal(signal.SIGKILL)
            break
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL

    log = project.run("log", "--json")
    assert log.code == 0, f"killed at step {step}: {log.stderr}"
    assert "warning" not in log.stderr, f"killed at step {step}: {log.stderr}"
    resumed = project.run("run", "looper", "go on", "--continue", "--max-steps", "600")
    assert resumed.code == 0, f"killed at step {step}: {resumed.stderr}"
    sent = resumed.of_type("startGeneration")[0]["messages"]
    # The history as far as the last checkpoint before the kill: step - 1 whole steps.
    assert len(sent) >= 2 + 2 * (step - 2), f"killed at step {step}"
    assert resumed.last("completeRun") is not None


def _copy_old_jobs(tmp_path: Path) -> Project:
    project = Project(tmp_path / "old")
    shutil.copytree(FIXTURES, project.root)
    return project


def test_jobs_written_before_compact_histories_open_and_continue(tmp_path: Path) -> None:
    project = _copy_old_jobs(tmp_path)
    for job_id in (FULL_JOB, UPSTREAM_JOB):
        summary = project.run("log", "--job", job_id, "--summary", "--json")
        assert summary.code == 0, summary.stderr
        assert "warning" not in summary.stderr
        events = project.run("log", "--job", job_id, "--json", "--take", "0")
        assert events.code == 0, events.stderr
        history = [
            e["checkpoint"]["messages"]
            for e in orjson.loads(events.stdout)["events"]
            if e["type"] == "completeRun" and e["expertKey"] == "lead"
        ][-1]
        resumed = project.run("run", "lead", "Once more", "--continue-job", job_id)
        assert resumed.code == 0, resumed.stderr
        sent = resumed.of_type("startGeneration")[0]["messages"]
        assert [m["id"] for m in sent[:-1]] == [m["id"] for m in history]
        # The new steps are stored compact, on top of the old full checkpoints.
        storage = FileStorage(project.storage)
        latest = storage.latest_checkpoint(job_id)
        assert latest is not None and latest.status == "completed"
        assert [m.id for m in latest.messages[: len(history)]] == [m["id"] for m in history]
    assert any("messagesBase" in doc for doc in stored_documents(project))


def test_the_stream_rebuilder_is_what_the_docs_show(tmp_path: Path) -> None:
    project = looping_project(tmp_path, 3)
    result = project.run("run", "looper", "go")
    raw = [orjson.loads(line) for line in result.stdout.splitlines()]
    assert any("messagesBase" in orjson.dumps(event).decode() for event in raw)
    assert list(rebuild_events(raw)) == parse_stream(result.stdout) == result.events
