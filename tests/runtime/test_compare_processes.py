"""``perstack compare``'s worker processes (runtime/compare/processes.py): each run in a
fork of its own, its events sent back whole and in order, the same figures and output as
in-process, a worker that dies reported while the others complete, and Ctrl+C or SIGTERM
stopping every worker with each job whole and resumable.

The comparisons run in a process of their own (tests/compare_driver.py, or the real CLI):
the workers are forked only from a process with one thread."""

from __future__ import annotations

import json
import os
import re
import select
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.helpers import Project
from tests.replay_projects import team_project

DRIVER = Path(__file__).resolve().parents[1] / "compare_driver.py"
MODELS = ("scripted:one", "scripted:two", "scripted:three")


def drive(project: Project, mode: str, *args: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Run the driver: the events its listener got, and its last line."""
    done = subprocess.run(
        [sys.executable, str(DRIVER), str(project.root), mode, *args],
        capture_output=True,
        env=project.env(),
        timeout=120,
    )
    assert done.returncode == 0, done.stderr.decode()
    lines = [orjson.loads(line) for line in done.stdout.splitlines()]
    return lines[:-1], lines[-1]


def _runs(events: list[dict[str, Any]], index: int) -> list[list[tuple[str, Any]]]:
    """Each run's events (type, step) in the order they came, runs sorted."""
    by_run: dict[str, list[tuple[str, Any]]] = {}
    for line in events:
        if line["index"] == index:
            event = line["event"]
            by_run.setdefault(event["runId"], []).append((event["type"], event.get("stepNumber")))
    return sorted(by_run.values())


_VOLATILE = re.compile(r"(^id$|Id$|^timestamp$|At$|Ms$|^workspace$|^usage$|^fastest$)")
_TIME = re.compile(r"\d{4}-\d\d-\d\dT[\d:.]+Z")
_FOLDER = re.compile(r"/\S*/comparisons/\w+/")


def _stable(value: Any) -> Any:
    """``value`` without ids, times and paths (which differ from one job to the next)."""
    if isinstance(value, dict):
        return {k: _stable(v) for k, v in value.items() if not _VOLATILE.search(k)}
    if isinstance(value, list):
        return [_stable(item) for item in value]
    if isinstance(value, str):
        return _FOLDER.sub("<comparison>/", _TIME.sub("<time>", value))
    return value


def test_each_run_works_in_a_worker_and_its_events_arrive_whole_and_in_order(
    tmp_path: Path,
) -> None:
    project = team_project(tmp_path / "team")
    events, last = drive(project, "processes", "lead", "Go", *MODELS)
    workers = last["workers"]
    assert len(workers) == 3 and len(set(workers)) == 3 and os.getpid() not in workers
    inline_events, inline_last = drive(team_project(tmp_path / "inline"), "inline", "lead", "Go", *MODELS)
    assert len(set(inline_last["workers"])) == 1  # all three in the driver itself
    for index in range(3):
        mine = [line["event"] for line in events if line["index"] == index]
        assert len({event["jobId"] for event in mine}) == 1
        stamps = [event["timestamp"] for event in mine]
        assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)  # in order
        assert _runs(events, index) == _runs(inline_events, index)
        # Whole: full histories (no compact "messagesBase"), as an in-process listener
        # gets them.
        assert all(b"messagesBase" not in orjson.dumps(event) for event in mine)
        theirs = [line["event"] for line in inline_events if line["index"] == index]
        assert Counter(orjson.dumps(_stable(e)) for e in mine) == Counter(
            orjson.dumps(_stable(e)) for e in theirs
        )


def test_figures_and_alignment_are_those_of_an_in_process_comparison(tmp_path: Path) -> None:
    _, forked = drive(team_project(tmp_path / "forked"), "processes", "lead", "Go", *MODELS)
    _, inline = drive(team_project(tmp_path / "inline"), "inline", "lead", "Go", *MODELS)
    assert len(set(forked["workers"])) == 3
    assert _stable(forked["comparison"]) == _stable(inline["comparison"])
    runs = forked["comparison"]["runs"]
    assert [run["status"] for run in runs] == ["completed"] * 3
    assert [run["finalAnswer"] for run in runs] == ["Both fine."] * 3
    assert runs[0]["steps"] == inline["comparison"]["runs"][0]["steps"] > 5


def test_a_worker_that_dies_is_reported_and_the_others_complete(tmp_path: Path) -> None:
    project = team_project(tmp_path / "team")
    _, last = drive(project, "processes", "lead", "Go", *MODELS, "--die", "two")
    one, two, three = last["comparison"]["runs"]
    assert one["status"] == three["status"] == "completed"
    assert two["status"] == "failed"
    assert "worker process ended without a result (exit code 3)" in two["error"]
    assert two["jobId"] is None


SLOW = """
[[rules]]
turn = "<3"
[[rules.toolCalls]]
name = "exec"
args = {{ command = "sh", args = ["-c", "echo step >> {fifo}"], env = {{}}, cwd = ".", stdout = true, stderr = true }}
[[rules]]
turn = 3
delayMs = 60000
text = "never"
"""


@pytest.mark.parametrize(
    ("how", "code"),
    [("ctrl-c", 130), ("sigint", 130), ("sigterm", 143), ("sigkill", -9)],
)
def test_an_interrupted_comparison_stops_every_worker_and_each_job_resumes(
    tmp_path: Path, how: str, code: int
) -> None:
    project = Project(tmp_path / "project")
    project.config('[experts."writer"]\ninstruction = "Write."\n')
    fifo = tmp_path / "started.fifo"  # not in the project: its workspace is copied
    os.mkfifo(fifo)
    project.script(SLOW.format(fifo=fifo))
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "perstack"), "compare", "writer", "Go",
         "--model", "scripted:one", "--model", "scripted:two"],
        cwd=project.root, env=project.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        start_new_session=True,  # its own process group, as a terminal's job is
    )  # fmt: skip
    # Each worker's second step ran its tool: its first step is stored, its job resumable.
    _wait_for_lines(fifo, 4, process)
    workers = _children(process.pid)
    assert len(workers) == 2
    if how == "ctrl-c":  # the terminal signals the whole group
        os.killpg(process.pid, signal.SIGINT)
    else:
        signals = {"sigint": signal.SIGINT, "sigterm": signal.SIGTERM, "sigkill": signal.SIGKILL}
        process.send_signal(signals[how])
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == code, stderr
    if how == "sigkill":  # the workers are not ours to wait for: they cancel on their own
        _wait_until_gone(workers)
    assert not [pid for pid in workers if _alive(pid)]
    for path in project.storage.rglob("*"):
        assert not path.name.startswith("."), f"temp file left behind: {path}"
        if path.suffix == ".json":
            json.loads(path.read_text())  # every file is whole
    jobs = sorted(path.name for path in (project.storage / "jobs").iterdir())
    assert len(jobs) == 2
    project.script('[[rules]]\ntext = "resumed"\n')
    for job in jobs:
        resumed = project.run("run", "writer", "Go on", "--continue-job", job)
        assert resumed.code == 0, resumed.stderr
        assert resumed.last("completeRun")["text"] == "resumed"


def _wait_for_lines(fifo: Path, count: int, process: subprocess.Popen[bytes]) -> None:
    """Wait until ``count`` lines came through ``fifo`` (failing if ``process`` ends
    first, with what it said)."""
    fd = os.open(fifo, os.O_RDWR)  # never blocks, and never reads an end of file
    try:
        seen = b""
        while seen.count(b"\n") < count:
            assert process.poll() is None, process.communicate()[1].decode()
            ready, _, _ = select.select([fd], [], [], 60)
            assert ready, "no worker reached its tool call within 60 s"
            seen += os.read(fd, 4096)
    finally:
        os.close(fd)


def _wait_until_gone(pids: list[int]) -> None:
    """Poll /proc until ``pids`` have exited (another process's children give no event)."""
    deadline = time.monotonic() + 60
    while [pid for pid in pids if _alive(pid)]:
        assert time.monotonic() < deadline, "a worker outlived the command by 60 s"
        time.sleep(0.02)


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(child) for child in (task / "children").read_text().split()]
    return found


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in status
