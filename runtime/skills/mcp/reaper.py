"""Stdio servers die with ``perstack``, even when it is killed with SIGKILL.

A run closes its servers on every ending it sees (completion, error, Ctrl+C, SIGTERM),
and an ``atexit`` hook ends any left over. SIGKILL runs neither, and a server that does
not notice its stdin closing (or is busy) would outlive the run, with every process it
started. ``PR_SET_PDEATHSIG`` would cover only the server's own process (not what ``npx``
starts below it) and fires when the spawning *thread* ends, not the process.

So one small watcher process per ``perstack`` process (started with the first stdio server)
holds the process groups of the live servers. Its stdin is a pipe whose only write end is
ours: when ``perstack`` dies, however it dies, the kernel closes it, the watcher reads EOF
and sends SIGKILL to every group still registered, then exits. It runs in a session of its
own, so Ctrl+C in a terminal does not reach it.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from contextlib import suppress
from typing import IO

__all__ = ["forget", "reaper_pid", "watch"]

# Run with `python -S -E`: no site packages, no environment, so it starts in milliseconds.
_SCRIPT = """
import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_IGN)
signal.signal(signal.SIGTERM, signal.SIG_IGN)
groups = set()
for line in sys.stdin:
    sign, pgid = line[:1], line[1:].strip()
    if pgid.isdigit():
        (groups.add if sign == "+" else groups.discard)(int(pgid))
for pgid in groups:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except OSError:
        pass
"""

_lock = threading.Lock()
_process: subprocess.Popen[bytes] | None = None


def _pipe() -> IO[bytes] | None:
    """The watcher's stdin, starting the watcher if needed (None if it cannot run)."""
    global _process
    if _process is not None and _process.poll() is None and _process.stdin is not None:
        return _process.stdin
    try:
        _process = subprocess.Popen(
            [sys.executable, "-S", "-E", "-c", _SCRIPT],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
    except OSError:
        _process = None
        return None
    return _process.stdin


def _send(line: str) -> None:
    with _lock:
        pipe = _pipe()
        if pipe is None:
            return
        with suppress(OSError, ValueError):
            pipe.write(line.encode())
            pipe.flush()


def watch(pgid: int) -> None:
    """Kill process group ``pgid`` if this process dies before :func:`forget`."""
    _send(f"+{pgid}\n")


def forget(pgid: int) -> None:
    """The group ended normally: stop watching it (its id may be reused)."""
    if _process is not None:
        _send(f"-{pgid}\n")


def reaper_pid() -> int | None:
    """The watcher's pid while it runs (tests exempt it from their orphan checks)."""
    return _process.pid if _process is not None and _process.poll() is None else None
