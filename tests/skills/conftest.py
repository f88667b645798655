"""Fixtures of the skill tests: real MCP servers over real transports, and a check that
no server process outlives its test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from runtime.skills.manager import SkillContext
from tests.skills.mcp_testkit import HttpServer, Recorder, child_pids, serve_toolbox


@pytest.fixture(autouse=True)
def no_leftover_processes() -> Iterator[None]:
    """Every test must leave no server process behind."""
    before = child_pids()
    yield
    leftover = child_pids() - before
    assert not leftover, f"server processes left running: {sorted(leftover)}"


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def context(recorder: Recorder, tmp_path: Path) -> SkillContext:
    return SkillContext(
        workspace=tmp_path,
        env=dict(os.environ),
        emit_runtime=recorder.emit,
        emit_activity=recorder.emit,
    )


@pytest.fixture(scope="module")
def sse_server() -> Iterator[HttpServer]:
    yield from serve_toolbox("sse")


@pytest.fixture(scope="module")
def http_server() -> Iterator[HttpServer]:
    yield from serve_toolbox("http")
