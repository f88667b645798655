from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from runtime._bytecode import cache_bytecode, private_pycache
from tests.helpers import Project
from tests.s3_server import MotoServer

# A suite started in the background of a script (`pytest &`) inherits SIGINT ignored, as
# POSIX has it, and so would every process a test starts: a `perstack` interrupted with
# SIGINT would not hear it. A handler of our own is reset to the default in each child.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

# Where PYTHONDONTWRITEBYTECODE is set (CI sandboxes), every Python process the suite starts
# (its xdist workers, the MCP, model and S3 test servers) compiled what it imports from
# source, each time. They keep it where `perstack` keeps its own (runtime/_bytecode.py):
# in the environment's private tree, never beside a source file.
if cache_bytecode():
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    os.environ["PYTHONPYCACHEPREFIX"] = private_pycache()

@pytest.fixture
def project(tmp_path: Path) -> Project:
    return Project(tmp_path)


@pytest.fixture(scope="session")
def s3_server() -> Iterator[MotoServer]:
    """A real S3 HTTP API (moto's server) for this test process; fails if it cannot start."""
    server = MotoServer()
    yield server
    server.stop()


@dataclass
class S3Bucket:
    """A fresh bucket: ``PERSTACK_STORAGE_URL`` and the AWS variables that reach it."""

    name: str
    url: str
    env: dict[str, str]
    server: MotoServer

    def storage_env(self) -> dict[str, str]:
        return {**self.env, "PERSTACK_STORAGE_URL": self.url}

    def objects(self) -> dict[str, bytes]:
        """Every object under the store's prefix (key relative to it) and its bytes."""
        import obstore
        from obstore.store import S3Store

        store = S3Store(
            self.name,
            prefix=self.url.split("/", 3)[3],
            endpoint=self.env["AWS_ENDPOINT_URL"],
            access_key_id=self.env["AWS_ACCESS_KEY_ID"],
            secret_access_key=self.env["AWS_SECRET_ACCESS_KEY"],
            region=self.env["AWS_REGION"],
            client_options={"allow_http": True},
        )
        keys = [meta["path"] for chunk in obstore.list(store) for meta in chunk]
        return {key: bytes(obstore.get(store, key).bytes()) for key in keys}


@pytest.fixture
def s3(s3_server: MotoServer) -> S3Bucket:
    name = s3_server.create_bucket()
    return S3Bucket(name, f"s3://{name}/team/perstack", s3_server.env(), s3_server)
