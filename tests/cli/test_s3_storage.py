"""`perstack run`, `log`, continue and resume with jobs in a bucket on a real S3 HTTP API
(moto's server): the same commands, the same layout, nothing written locally."""

from __future__ import annotations

import json
import signal

import orjson

from tests.conftest import S3Bucket
from tests.helpers import Project, simple_expert
from tests.s3_server import FlakyProxy, free_port

LOOPER = """
[[rules]]
turn = "<3"
[[rules.toolCalls]]
name = "writeTextFile"
args = { path = "out/notes.md", text = "a note" }
[[rules]]
text = "done"
"""


def test_run_then_log_read_and_write_the_bucket(project: Project, s3: S3Bucket) -> None:
    project.config(simple_expert())
    project.script(LOOPER)
    result = project.run("run", "writer", "Go", env=s3.storage_env())
    assert result.code == 0, result.stderr
    job_id = result.events[0]["jobId"]
    assert not project.storage.exists()  # nothing under ./perstack

    objects = s3.objects()
    assert json.loads(objects[f"jobs/{job_id}/job.json"])["status"] == "completed"
    stored_events = [k for k in objects if k.startswith(f"jobs/{job_id}/runs/") and "/event-" in k]
    printed = [e for e in result.events if "stepNumber" in e and "expertKey" in e]
    assert len(stored_events) == len(printed)  # every run event once, no duplicate
    assert sum("/checkpoints/" in key for key in objects) == 3

    logged = project.run("log", "--json", env=s3.storage_env())
    assert logged.code == 0, logged.stderr
    data = json.loads(logged.stdout)
    assert data["job"]["id"] == job_id and data["storagePath"] == s3.url
    assert [e["type"] for e in data["events"]][:2] == ["startRun", "startGeneration"]
    text = project.run("log", "--job", job_id, "--summary", env=s3.storage_env())
    assert text.code == 0 and f"Storage: {s3.url}" in text.stdout and "Steps: 3" in text.stdout


def test_continue_and_resume_from_the_bucket(project: Project, s3: S3Bucket) -> None:
    project.config(simple_expert())
    project.script(LOOPER)
    first = project.run("run", "writer", "Go", env=s3.storage_env())
    assert first.code == 0, first.stderr
    job_id = first.events[0]["jobId"]
    step_1 = first.of_type("continueToNextStep")[0]["checkpoint"]

    project.script('[[rules]]\ntext = "again"\n')
    again = project.run("run", "writer", "More", "--continue", env=s3.storage_env())
    assert again.code == 0, again.stderr
    assert again.events[0]["jobId"] == job_id
    final = first.last("completeRun")["checkpoint"]
    initial = again.of_type("startRun")[0]["initialCheckpoint"]
    assert initial["stepNumber"] == final["stepNumber"] + 1  # as from the file store
    assert initial["messages"][: len(final["messages"])] == final["messages"]

    back = project.run("run", "writer", "Redo", "--continue-job", job_id,
                       "--resume-from", step_1["id"], env=s3.storage_env())  # fmt: skip
    assert back.code == 0, back.stderr
    assert back.of_type("startRun")[0]["stepNumber"] == step_1["stepNumber"] + 1
    history = back.of_type("startGeneration")[0]["messages"]  # up to step 1, then the query
    assert history[: len(step_1["messages"])] == step_1["messages"]
    assert len(history) == len(step_1["messages"]) + 1

    missing = project.run("run", "writer", "x", "--continue-job", "nope", env=s3.storage_env())
    assert missing.code == 1 and missing.stderr.strip().endswith(
        "No checkpoints found for job nope"
    )


def test_an_interrupted_run_is_whole_in_the_bucket_and_continues(
    project: Project, s3: S3Bucket
) -> None:
    project.config(simple_expert())
    project.script(
        """
[[rules]]
turn = 1
[[rules.toolCalls]]
name = "todo"
args = { newTodos = ["a"] }
[[rules]]
turn = 2
delayMs = 60000
text = "never"
"""
    )
    process = project.popen("run", "writer", "Go", env=s3.storage_env())
    assert process.stdout is not None
    for line in process.stdout:  # wait for the slow generation to start (no sleeping)
        event = json.loads(line)
        if event["type"] == "startGeneration" and event["stepNumber"] == 2:
            break
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=30)
    assert process.returncode == 143
    for key, data in s3.objects().items():
        orjson.loads(data)  # every object is a whole document
        assert not key.rsplit("/", 1)[-1].startswith("."), key
    project.script('[[rules]]\ntext = "resumed"\n')
    resumed = project.run("run", "writer", "Continue", "--continue", env=s3.storage_env())
    assert resumed.code == 0, resumed.stderr
    assert resumed.last("completeRun")["text"] == "resumed"
    assert resumed.of_type("startRun")[0]["stepNumber"] == 2


def test_secrets_never_reach_the_bucket_or_stdout(project: Project, s3: S3Bucket) -> None:
    project.config(simple_expert())
    project.script('[[rules]]\ntext = "hi"\n')
    project.write(".env", "MY_SERVICE_TOKEN=sup3r-s3cret-from-dotenv\n")
    env = {**s3.storage_env(), "ANTHROPIC_API_KEY": "sk-ant-very-secret-key"}
    result = project.run("run", "writer", "Go", env=env)
    assert result.code == 0, result.stderr
    secrets = ("very-secret", "s3cret", s3.env["AWS_SECRET_ACCESS_KEY"])
    for stream in (result.stdout, result.stderr):
        assert not any(secret in stream for secret in secrets)
    objects = s3.objects()
    for key, data in objects.items():
        assert not any(secret.encode() in data for secret in secrets), key
    (setting,) = [orjson.loads(v) for k, v in objects.items() if k.endswith("run-setting.json")]
    assert setting["env"]["MY_SERVICE_TOKEN"] == "[redacted]"
    assert setting["env"]["AWS_SECRET_ACCESS_KEY"] == "[redacted]"


def test_a_bad_storage_url_is_one_line(project: Project, s3: S3Bucket) -> None:
    project.config(simple_expert())
    project.script('[[rules]]\ntext = "hi"\n')
    for url, message in (
        ("ftp://x/y", "unsupported scheme 'ftp'"),
        ("s3://", "expected s3://bucket/prefix"),
        (f"s3://no-such-bucket-{s3.name}/p", "NoSuchBucket"),
    ):
        result = project.run("log", env={**s3.env, "PERSTACK_STORAGE_URL": url})
        assert result.code == 1, url
        assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1, (
            result.stderr
        )


def test_a_run_rides_out_a_moment_without_storage(project: Project, s3: S3Bucket) -> None:
    """The bucket goes away mid-run: one line on stderr, retries, then the run completes
    with every document whole and every event stored once."""
    project.config(simple_expert())
    project.script(LOOPER.replace('turn = "<3"', 'turn = "<3"\ndelayMs = 100'))
    proxy = FlakyProxy(s3.server.port)
    env = {**s3.storage_env(), "AWS_ENDPOINT_URL": proxy.endpoint}
    process = project.popen("run", "writer", "Go", env=env)
    assert process.stdout is not None and process.stderr is not None
    printed = []
    for line in process.stdout:  # step 2's model call has begun: the bucket goes away
        printed.append(json.loads(line))
        if printed[-1]["type"] == "startGeneration" and printed[-1]["stepNumber"] == 2:
            break
    proxy.block()
    try:
        notice = process.stderr.readline().decode()  # the run waits at step 2's checkpoint
    finally:
        proxy.unblock()
    assert notice == f"warning: storage {s3.url} is not answering; retrying for up to 60 s\n"
    printed += [json.loads(line) for line in process.stdout]
    assert process.wait(timeout=60) == 0, process.stderr.read()
    assert process.stderr.read() == b""
    proxy.close()

    objects = s3.objects()
    for data in objects.values():
        orjson.loads(data)  # nothing half-written
    stored = sorted(orjson.loads(v)["id"] for k, v in objects.items() if "/event-" in k)
    run_events = sorted(e["id"] for e in printed if "stepNumber" in e and "expertKey" in e)
    assert stored == run_events  # each once, whatever was retried
    logged = project.run("log", "--summary", env=s3.storage_env())
    assert logged.code == 0 and "(completed)" in logged.stdout


def test_a_store_that_stays_away_is_one_line_and_exit_1(project: Project, s3: S3Bucket) -> None:
    project.config(simple_expert())
    project.script('[[rules]]\ntext = "hi"\n')
    closed = f"http://127.0.0.1:{free_port()}"
    env = {**s3.storage_env(), "AWS_ENDPOINT_URL": closed, "PERSTACK_STORAGE_TIMEOUT": "0.5"}
    for args in (("log",), ("run", "writer", "Go")):
        result = project.run(*args, env=env)
        assert result.code == 1, args
        (line,) = result.stderr.strip().splitlines()
        assert line.startswith(f"Error: storage {s3.url}: ") and " failed: " in line, line
        assert "Traceback" not in result.stderr
        assert s3.env["AWS_SECRET_ACCESS_KEY"] not in result.stderr + result.stdout
