"""A real S3 HTTP API for the tests: moto's server in a process of its own, on a free port.

``moto[server]`` is a dev dependency; the server is started by the tests themselves (never
downloaded) and waited for by polling its port. When it cannot start, the test FAILS with
the reason. :class:`FlakyProxy` stands between a store and the server to make the storage
unreachable for a moment without losing what the server holds.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import select
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

LAUNCHER = str(Path(__file__).with_name("moto_launcher.py"))
START_TIMEOUT = 60.0
_buckets = itertools.count(1)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


class MotoServer:
    """``moto_server`` on a free loopback port, with AWS variables pointing at it."""

    def __init__(self, *, request_log: bool = False) -> None:
        """``request_log``: keep werkzeug's line per answered request in :meth:`output`."""
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self._log = tempfile.TemporaryFile()
        self.process = subprocess.Popen(
            [sys.executable, LAUNCHER, *([] if request_log else ["--quiet"]),
             "-H", "127.0.0.1", "-p", str(self.port)],  # fmt: skip
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + START_TIMEOUT
        while not _answers(self.endpoint + "/"):
            if self.process.poll() is not None:
                pytest.fail(f"moto_server exited with {self.process.returncode}: {self.output()}")
            if time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"moto_server did not answer on port {self.port} in {START_TIMEOUT}s")
            time.sleep(0.02)  # polling the port: there is no event to await across processes

    def output(self) -> str:
        self._log.seek(0)
        return self._log.read().decode(errors="replace")[-2000:]

    def env(self, endpoint: str | None = None) -> dict[str, str]:
        """The standard AWS variables for this server (or a proxy of it)."""
        return {
            "AWS_ENDPOINT_URL": endpoint or self.endpoint,
            "AWS_ACCESS_KEY_ID": "testing-key-id",
            "AWS_SECRET_ACCESS_KEY": "testing-secret-key",
            "AWS_REGION": "us-east-1",
        }

    def create_bucket(self, prefix: str = "perstack") -> str:
        """A new empty bucket (moto takes unsigned requests); returns its name."""
        name = f"{prefix}-{os.getpid()}-{next(_buckets)}"
        request = urllib.request.Request(f"{self.endpoint}/{name}", method="PUT")
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200
        return name

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._log.close()


class FlakyProxy:
    """A TCP proxy to ``target_port`` that can refuse every connection for a while.

    :meth:`block` closes the listening socket and every open connection (clients get
    "connection refused" or a reset, as when a store goes away); :meth:`unblock` listens
    on the same port again. With ``latency`` (seconds), each answer is held that long, as
    over a network (the benchmarks use it; requests on other connections overlap).
    """

    def __init__(self, target_port: int, latency: float = 0.0) -> None:
        self.target_port = target_port
        self.latency = latency
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self._lock = threading.Lock()
        self._open: list[socket.socket] = []
        self._listener: socket.socket | None = None
        self.unblock()

    def unblock(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def block(self) -> None:
        with self._lock:
            listener, self._listener = self._listener, None
            sockets, self._open = self._open, []
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def close(self) -> None:
        self.block()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # blocked: the listener is closed
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:
                client.close()
                continue
            with self._lock:
                if self._listener is not listener:
                    client.close()
                    upstream.close()
                    return
                self._open += [client, upstream]
            args = (client, upstream, self.latency)
            threading.Thread(target=self._pipe, args=args, daemon=True).start()

    @staticmethod
    def _pipe(a: socket.socket, b: socket.socket, latency: float) -> None:
        answering = False
        try:
            while True:
                ready, _, _ = select.select([a, b], [], [], 1.0)
                for sock in ready:
                    data = sock.recv(65536)
                    if not data:
                        return
                    if sock is b and latency and not answering:
                        time.sleep(latency)  # the first bytes of an answer: one round trip
                    answering = sock is b
                    (b if sock is a else a).sendall(data)
        except (OSError, ValueError):
            return
        finally:
            for sock in (a, b):
                with contextlib.suppress(OSError):
                    sock.close()
