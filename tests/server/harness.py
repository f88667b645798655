"""A real `perstack serve` on a free port, and readers for what it sends."""

from __future__ import annotations

import os
import re
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
import orjson

from tests.helpers import PERSTACK, Project

KEY = "test-key-default"
_SERVING = re.compile(r"Serving .* on (http://\S+)")

#: A project whose coordinator delegates, reads a file and writes one.
CONFIG = """
model = "scripted"
[provider]
providerName = "scripted"
[provider.setting]
script = "script.toml"

[experts."lead"]
instruction = "Lead."
delegates = ["helper"]
[experts."helper"]
instruction = "Help."

[experts."asker"]
instruction = "Ask the user."
[experts."asker".skills."ask"]
type = "interactiveSkill"
[experts."asker".skills."ask".tools."askUser"]
description = "Ask the user a question"
inputJsonSchema = '{"type":"object","properties":{"question":{"type":"string"}}}'

[experts."slow"]
instruction = "Work slowly."
"""

SCRIPT = """
[[rules]]
expert = "lead"
turn = 1
[[rules.toolCalls]]
name = "helper"
args = { query = "Write the notes" }
[[rules]]
expert = "helper"
turn = 1
[[rules.toolCalls]]
name = "writeTextFile"
args = { path = "notes/result.md", text = "# Result\\nhello\\n" }
[[rules]]
expert = "helper"
text = "Wrote notes/result.md."
[[rules]]
expert = "lead"
text = "Done: see notes/result.md."

[[rules]]
expert = "asker"
turn = 1
[[rules.toolCalls]]
name = "askUser"
args = { question = "Your name?" }
[[rules]]
expert = "asker"
text = "Nice to meet you."

[[rules]]
expert = "slow"
turn = "<6"
delayMs = {delay}
[[rules.toolCalls]]
name = "todo"
args = { newTodos = ["a"] }
[[rules]]
expert = "slow"
text = "Slowly done."
"""


def make_project(root: Path, *, delay_ms: int = 400) -> Project:
    project = Project(root)
    root.mkdir(parents=True, exist_ok=True)
    project.write("perstack.toml", CONFIG)
    project.write("script.toml", SCRIPT.replace("{delay}", str(delay_ms)))
    return project


@dataclass
class Server:
    """One `perstack serve` process."""

    project: Project
    process: subprocess.Popen[bytes]
    url: str
    stderr: list[str] = field(default_factory=list)

    def client(self, key: str = KEY, **kwargs: Any) -> httpx2.Client:
        return httpx2.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {key}"}, timeout=30, **kwargs
        )

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        code = self.process.wait(timeout=30)
        assert self.process.stderr is not None
        self.stderr.append(self.process.stderr.read().decode(errors="replace"))
        return code


def start_server(
    project: Project, *args: str, key: str | None = KEY, env: dict[str, str] | None = None
) -> Server:
    """Start `perstack serve --port 0` in the project; return once it listens."""
    env = project.env({**({"PERSTACK_API_KEY": key} if key else {}), **(env or {})})
    process = subprocess.Popen(
        [PERSTACK, "serve", "--port", "0", *args],
        cwd=project.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert process.stderr is not None
    seen = []
    for raw in process.stderr:  # the server says where it listens once it does
        line = raw.decode(errors="replace")
        seen.append(line)
        match = _SERVING.search(line)
        if match:
            return Server(project, process, match.group(1), seen)
    process.wait(timeout=10)
    raise AssertionError(f"perstack serve did not start: {''.join(seen)}")


@dataclass
class Frame:
    event: str
    data: Any
    id: int | None = None


def parse_sse(text: str) -> list[Frame]:
    """The frames of an SSE body (comments dropped)."""
    frames = []
    for block in text.split("\n\n"):
        fields: dict[str, str] = {}
        for line in block.split("\n"):
            if not line or line.startswith(":"):
                continue
            name, _, value = line.partition(": ")
            fields[name] = value
        if "event" in fields:
            frames.append(
                Frame(
                    fields["event"],
                    orjson.loads(fields.get("data", "null")),
                    int(fields["id"]) if "id" in fields else None,
                )
            )
    return frames


def env_without_keys() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("PERSTACK_")}
