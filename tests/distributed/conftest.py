"""One Temporal dev server per test process, shared by its clusters (each on a task queue
of its own): starting one is the slow part of a scale-out test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.distributed.cluster import TemporalDevServer


@pytest.fixture(scope="session")
def temporal_dev_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TemporalDevServer]:
    server = TemporalDevServer(tmp_path_factory.mktemp("temporal"))
    yield server
    server.stop()
