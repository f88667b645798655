"""`perstack worker` and `perstack serve --engine temporal` refuse bad starts in one line."""

from __future__ import annotations

from pathlib import Path

from tests.distributed.cluster import free_port
from tests.distributed.project import make_project


def test_a_worker_that_cannot_reach_temporal_says_so_in_one_line(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    result = project.run("worker", "--temporal-address", f"127.0.0.1:{free_port()}")
    assert result.code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: cannot reach Temporal at 127.0.0.1:")
    assert "Traceback" not in result.stderr


def test_serve_on_temporal_needs_an_address_it_can_reach(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    env = {"PERSTACK_API_KEY": "k"}
    missing = project.run("serve", "--engine", "temporal", env=env)
    assert missing.code == 1
    assert missing.stderr.strip() == "Error: --engine temporal needs --temporal-address HOST:PORT"
    stray = project.run("serve", "--temporal-address", "127.0.0.1:7233", env=env)
    assert stray.code == 1 and "--engine temporal" in stray.stderr
    away = project.run(
        "serve", "--engine", "temporal", "--temporal-address", f"127.0.0.1:{free_port()}", env=env
    )
    assert away.code == 1
    assert away.stderr.strip().splitlines() == [
        line for line in away.stderr.strip().splitlines() if line.startswith("Error: cannot")
    ]
    assert "Traceback" not in away.stderr


def test_a_worker_that_cannot_reach_the_bucket_says_so_in_one_line(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    away = f"http://127.0.0.1:{free_port()}"
    env = {
        "PERSTACK_STORAGE_URL": "s3://nowhere/perstack",
        "AWS_ENDPOINT_URL": away,
        "AWS_ACCESS_KEY_ID": "k",
        "AWS_SECRET_ACCESS_KEY": "s",
        "AWS_REGION": "us-east-1",
        "PERSTACK_STORAGE_TIMEOUT": "1",
    }
    result = project.run("worker", "--temporal-address", f"127.0.0.1:{free_port()}", env=env)
    assert result.code == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and errors[0].startswith("Error: storage s3://nowhere/perstack")
    assert "Traceback" not in result.stderr
