"""End to end: the real ``perstack start`` in a pseudo-terminal, running the demo.

The process draws its screen with escape sequences; ``pyte`` (a terminal emulator) turns
them back into rows of text, which the test reads like a person would.
"""

from __future__ import annotations

import fcntl
import os
import select
import signal
import struct
import subprocess
import termios
import time
from collections.abc import Callable
from pathlib import Path

import pyte

from tests.helpers import PERSTACK

COLUMNS, LINES = 120, 36


class Terminal:
    """A child process on a pseudo-terminal, with the screen it has drawn so far."""

    def __init__(self, args: list[str], cwd: Path, env: dict[str, str]) -> None:
        self.screen = pyte.Screen(COLUMNS, LINES)
        self.stream = pyte.ByteStream(self.screen)
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", LINES, COLUMNS, 0, 0))
        self.process = subprocess.Popen(
            args, cwd=cwd, env=env, stdin=slave, stdout=slave, stderr=slave,
            start_new_session=True, close_fds=True,
        )  # fmt: skip
        os.close(slave)
        self.master = master

    @property
    def text(self) -> str:
        return "\n".join(self.screen.display)

    def wait_for(self, condition: Callable[[str], bool], timeout: float) -> str:
        """Read output until ``condition(screen text)`` holds; fail after ``timeout``."""
        deadline = time.monotonic() + timeout
        while not condition(self.text):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"the screen never showed what was expected:\n{self.text}")
            ready, _, _ = select.select([self.master], [], [], remaining)
            if ready:
                try:
                    data = os.read(self.master, 65536)
                except OSError:  # the child closed the terminal
                    data = b""
                if not data:
                    raise AssertionError(f"perstack start exited early:\n{self.text}")
                self.stream.feed(data)
        return self.text

    def send(self, keys: bytes) -> None:
        os.write(self.master, keys)

    def close(self, timeout: float = 15) -> int | None:
        """Wait for the process to exit, still reading what it draws (or it would block)."""
        deadline = time.monotonic() + timeout
        try:
            while self.process.poll() is None and time.monotonic() < deadline:
                ready, _, _ = select.select([self.master], [], [], 0.2)
                if ready:
                    try:
                        self.stream.feed(os.read(self.master, 65536))
                    except OSError:
                        break
            return self.process.wait(timeout=max(0.1, deadline - time.monotonic()))
        finally:
            if self.process.poll() is None:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
            os.close(self.master)


def test_perstack_start_runs_the_demo_in_a_terminal(empty_dir: Path, tmp_path: Path) -> None:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("TEXTUAL", "PYTEST", "COLUMNS", "LINES"))
    }
    env.update(TERM="xterm-256color", COLORTERM="truecolor")
    terminal = Terminal([PERSTACK, "start"], empty_dir, env)
    try:
        screen = terminal.wait_for(lambda s: "Plan three days in Kyoto" in s and "coordinator" in s, 30)
        assert "perstack" in screen.splitlines()[0] and "demo" in screen.splitlines()[0]
        assert "bundled demo" in screen
        terminal.send(b"\r")  # the demo's query is in the box: Enter runs it
        screen = terminal.wait_for(
            lambda s: "completed" in s.splitlines()[0] and "Follow-up" in s, 60
        )
        # The run, as a person sees it: steps, delegates in the tree, the final answer.
        assert "Your three-day" in screen  # the final answer's row (the label is narrow)
        assert "researcher" in screen and "writer" in screen
        terminal.send(b"\x11")  # Ctrl+Q
        assert terminal.close() == 0
    finally:
        if terminal.process.poll() is None:
            os.killpg(terminal.process.pid, signal.SIGKILL)
            terminal.process.wait()
    # The demo ran in the user's cache (here: the test's), not in the current directory.
    assert not any(empty_dir.iterdir())
    assert (tmp_path / "cache" / "perstack" / "demo" / "itinerary.md").is_file()
    assert list((tmp_path / "storage" / "jobs").iterdir())
