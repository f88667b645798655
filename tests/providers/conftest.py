"""Fixtures of the provider tests: one fake LLM server per test module, reset per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fake_llm_server import FakeLLMServer


@pytest.fixture(scope="module")
def _server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer() as server:
        yield server


@pytest.fixture
def llm_server(_server: FakeLLMServer) -> Iterator[FakeLLMServer]:
    """The module's fake server with an empty script and no recorded requests."""
    _server.reset()
    yield _server
    _server.reset()
