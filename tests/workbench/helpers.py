"""Helpers of the workbench tests: projects, providers that answer fast or hold, the app."""

from __future__ import annotations

import shutil
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from runtime.cli.run import RunOptions
from runtime.providers._script import parse_script
from runtime.providers.scripted import ScriptedProvider

#: The fixed "now" of snapshot tests (2026-01-01T00:00:00Z).
FIXED_NOW_MS = 1_767_225_600_000
PROJECTS = Path(__file__).parent / "projects"
DEMO_SCRIPT = Path(__file__).parents[2] / "workbench" / "demo" / "demo-script.toml"
#: Long enough to hold a run for the whole test; cancelling the run ends the wait.
HOLD_MS = 600_000


def copy_project(name: str, tmp_path: Path) -> Path:
    """A copy of ``tests/workbench/projects/<name>`` under ``tmp_path/<name>``."""
    target = tmp_path / name
    shutil.copytree(PROJECTS / name, target)
    return target


def script_rules(path: Path) -> list[dict[str, Any]]:
    """The rules of a script file, as data."""
    return tomllib.loads(path.read_text())["rules"]


def without_delays(rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rules with ``delayMs``/``chunkDelayMs`` removed: the run goes at full speed."""
    return [
        {key: value for key, value in rule.items() if key not in ("delayMs", "chunkDelayMs")}
        for rule in rules
    ]


class Providers:
    """A provider factory for the app: one scripted provider per run, from given rules.

    Each run takes the next rule list (the last one is reused); every provider built is
    kept in :attr:`built`, so a test can assert on the requests the model received.
    """

    def __init__(self, *rule_lists: list[dict[str, Any]]) -> None:
        self.rule_lists = list(rule_lists)
        self.built: list[ScriptedProvider] = []

    def __call__(self, setting: Any) -> ScriptedProvider:
        rules = self.rule_lists[min(len(self.built), len(self.rule_lists) - 1)]
        provider = ScriptedProvider(parse_script({"rules": rules}, "test rules"))
        self.built.append(provider)
        return provider


def fast_demo() -> Providers:
    """The demo's own script at full speed."""
    return Providers(without_delays(script_rules(DEMO_SCRIPT)))


def fast_snap(project: Path) -> Providers:
    """The snap project's script at full speed."""
    return Providers(without_delays(script_rules(project / "script.toml")))


def holding(rules: list[dict[str, Any]], expert: str, purpose: str, **extra: Any) -> list[dict[str, Any]]:
    """``rules`` where the first rule for ``expert``/``purpose`` streams one chunk and holds.

    The held rule streams its first chunk (of ``chunkSize`` characters), then waits
    :data:`HOLD_MS`: the run stays mid-stream until the test stops it.
    """
    held = []
    done = False
    for rule in rules:
        rule = dict(rule)
        is_target = rule.get("expert") == expert and rule.get("purpose", "toolCall") == purpose
        if not done and is_target:
            rule.update({"chunkDelayMs": HOLD_MS, **extra})
            done = True
        held.append(rule)
    assert done, f"no rule for {expert} / {purpose}"
    return held


def make_app(
    project: Path,
    *,
    expert: str = "",
    query: str = "",
    providers: Callable[[Any], Any] | None = None,
    clock: Callable[[], int] | None = None,
    still: bool = True,
    open_job: str | None = None,
    **options: Any,
) -> Any:
    """The workbench on ``project`` (a directory: its perstack.toml, or the demo)."""
    from workbench.app import WorkbenchApp
    from workbench.session import Session, find_project

    session = Session(
        find_project(project), RunOptions(expert, query, **options), open_job=open_job
    )
    return WorkbenchApp(session, provider_factory=providers, clock=clock, still=still)


class Messages:
    """A ``message_hook`` for ``run_test`` that keeps the messages the app handled."""

    def __init__(self) -> None:
        self.seen: list[Any] = []

    def __call__(self, message: Any) -> None:
        self.seen.append(message)

    def of(self, cls: type) -> list[Any]:
        return [m for m in self.seen if isinstance(m, cls)]
