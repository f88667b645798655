"""Scale-out on a shared folder (every machine mounts the same volume) instead of a
bucket: the same Temporal dev server, a cluster of its own."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.distributed.cluster import Cluster, TemporalDevServer, start_cluster
from tests.distributed.project import make_project
from tests.distributed.test_temporal import files, messages, start, whole_stream

pytestmark = pytest.mark.timeout(240)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, temporal_dev_server: TemporalDevServer):
    root = tmp_path_factory.mktemp("scale-out-folder")
    storage_env = {"PERSTACK_STORAGE_PATH": str(root / "shared-storage")}
    running = start_cluster(make_project(root / "project"), temporal_dev_server, storage_env)
    yield running
    running.stop()


def test_a_parallel_delegation_on_a_shared_folder(cluster: Cluster) -> None:
    assert cluster.server is not None
    with cluster.server.client() as api:
        job_id = start(api, "fan")
        frames = whole_stream(api, job_id)
        assert frames[-1].data == {"status": "completed", "jobId": job_id}
        done = [e for e in messages(frames) if e["type"] == "completeRun"]
        assert done[-1]["text"] == "Both sides done."
        assert files(api, job_id) == {"left.txt": "from the left", "right.txt": "from the right"}
    shared = Path(cluster.storage_env["PERSTACK_STORAGE_PATH"])
    assert (shared / "server" / "workspaces" / job_id / "left.txt").read_text() == "from the left"
    assert (shared / "jobs" / job_id / "job.json").is_file()
    assert not (shared / "server" / "relay" / job_id).exists()  # read, then removed
