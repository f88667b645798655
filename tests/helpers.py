"""Shared helpers: throwaway projects with a perstack.toml and a script, and the real CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

PERSTACK = str(Path(sys.executable).parent / "perstack")


@dataclass
class CliResult:
    """What one `perstack` invocation did."""

    code: int
    stdout: str
    stderr: str
    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def types(self) -> list[str]:
        return [e["type"] for e in self.events]

    def of_type(self, event_type: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["type"] == event_type]

    def last(self, event_type: str) -> dict[str, Any]:
        return self.of_type(event_type)[-1]


@dataclass
class Project:
    """A directory with `perstack.toml` (scripted provider) and `script.toml`."""

    root: Path

    def write(self, name: str, text: str) -> Path:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path

    def config(self, experts: str, *, head: str = "") -> Path:
        return self.write(
            "perstack.toml",
            f'{head}\n[provider]\nproviderName = "scripted"\n'
            f'[provider.setting]\nscript = "script.toml"\n\n{experts}',
        )

    def script(self, text: str) -> Path:
        return self.write("script.toml", text)

    @property
    def storage(self) -> Path:
        return self.root / "perstack"

    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PERSTACK_")}
        env.pop("ANTHROPIC_API_KEY", None)
        env.pop("OPENAI_API_KEY", None)
        env.update(extra or {})
        return env

    def run(self, *args: str, env: dict[str, str] | None = None, timeout: float = 120) -> CliResult:
        completed = subprocess.run(
            [PERSTACK, *args],
            cwd=self.root,
            capture_output=True,
            text=True,
            env=self.env(env),
            timeout=timeout,
        )
        try:
            events = parse_stream(completed.stdout)
        except orjson.JSONDecodeError:
            events = []  # not `perstack run`: `perstack log`'s text, help …
        return CliResult(completed.returncode, completed.stdout, completed.stderr, events)

    def popen(self, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [PERSTACK, *args],
            cwd=self.root,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=self.env(env),
        )


def parse_stream(stdout: str) -> list[dict[str, Any]]:
    """The events ``perstack run`` printed, with full histories (a compact stream is
    rebuilt the way docs/events.md tells consumers to)."""
    from runtime.views.checkpoints import rebuild_events

    return list(rebuild_events(orjson.loads(line) for line in stdout.splitlines() if line.strip()))


#: A script that completes on the first turn, with reasoning and a streamed result.
COMPLETE_ON_TURN_1 = """
[[rules]]
turn = 1
reasoning = "Nothing to do but finish."
[[rules.toolCalls]]
name = "attemptCompletion"
[[rules]]
purpose = "runResult"
text = "All done here."
"""


def simple_expert(key: str = "writer", *, extra: str = "") -> str:
    return f'[experts."{key}"]\ninstruction = "You write things."\n{extra}\n'


class Recorder:
    """An event listener for in-process runs that keeps every event, in order."""

    def __init__(self) -> None:
        self.events: list[Any] = []

    def __call__(self, event: Any) -> None:
        self.events.append(event)

    @property
    def types(self) -> list[str]:
        return [e.type for e in self.events]

    def of(self, event_type: str) -> list[Any]:
        return [e for e in self.events if e.type == event_type]

    def dicts(self) -> list[dict[str, Any]]:
        return [e.to_json_dict() for e in self.events]
