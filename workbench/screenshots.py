"""Regenerate ``screenshots/*.svg`` from the real workbench running the bundled demo.

Run: ``uv run python -m workbench.screenshots`` (``--out DIR`` to write elsewhere).

Each picture is the app in one state: before a run, mid-run while text streams, a
finished run with its parallel delegation, a step's details, a filter applied, an
invalid filter, the interactive question, the demo at 80x24, the finished run in the light
and high-contrast themes, the perstack.toml editor showing problems typed into it, the
stored jobs, create-expert's flow (F3: the dialog, the proposed change, the report, the
team's job), a finished job with its final answer on a wide terminal, the editor
maximised, replay (mid-job, the checkpoint panel, the fork dialog, the diff view:
:mod:`workbench.replay_shots`) and the compare view part way and finished (dark is the
default theme of every other picture). The demo's script runs
without its delays, event timestamps come from a counter and the clock is fixed, so the
pictures come out the same every time. Jobs and the demo copy go to a temporary
directory, never to your cache, your theme choice or the repository.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import itertools
import os
import tempfile
import tomllib
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from unittest import mock

from workbench.compare_samples import COMPARE_SHOTS, shoot_compare
from workbench.replay_shots import REPLAY_SHOTS, fixed_ids

__all__ = ["main", "SHOTS"]

_NOW_MS = 1_767_225_600_000
_DEMO_SCRIPT = Path(__file__).parent / "demo" / "demo-script.toml"
_HOLD_MS = 600_000


def _rules(hold: tuple[str, str] | None = None) -> list[dict[str, Any]]:
    """The demo's rules without delays; ``hold=(expert, purpose)`` stalls mid-stream."""
    rules = []
    held = False
    for rule in tomllib.loads(_DEMO_SCRIPT.read_text())["rules"]:
        rule = {k: v for k, v in rule.items() if k not in ("delayMs", "chunkDelayMs")}
        if hold and not held and (rule.get("expert"), rule.get("purpose", "toolCall")) == hold:
            rule.update(chunkDelayMs=_HOLD_MS, chunkSize=52)
            rule.pop("reasoning", None)
            held = True
        rules.append(rule)
    return rules


def _providers(rules: list[dict[str, Any]]) -> Callable[[Any], Any]:
    from runtime.providers._script import parse_script
    from runtime.providers.scripted import ScriptedProvider

    return lambda setting: ScriptedProvider(parse_script({"rules": rules}, "demo"))


def _done(app: Any) -> bool:
    return not app.bridge.running and app.state not in ("ready", "running", "stopping")


async def _ready(app: Any, pilot: Any) -> None:
    await pilot.pause()


async def _streaming(app: Any, pilot: Any) -> None:
    await pilot.press("enter")
    await app.wait_until(
        lambda: (
            not app.counts_pending
            and any(
                r.kind == "completion" and r.status == "streaming" and r.text for r in app.view.rows
            )
        )
    )
    await pilot.pause()


async def _finished(app: Any, pilot: Any) -> None:
    await pilot.press("enter")
    await app.wait_until(lambda: _done(app))
    await pilot.pause()


async def _details(app: Any, pilot: Any) -> None:
    from workbench.screens.detail import DetailScreen
    from workbench.widgets.timeline import Timeline

    await _finished(app, pilot)
    timeline = app.query_one(Timeline)
    timeline.focus()
    shown = app.view.shown
    timeline.cursor = next(
        i for i in range(len(shown)) if shown.row_at(i).tool_name == "writeTextFile"
    )
    await pilot.press("enter")
    await app.wait_until(lambda: isinstance(app.screen, DetailScreen) and app.screen.loaded)
    await pilot.pause()


async def _filtered(app: Any, pilot: Any) -> None:
    await _finished(app, pilot)
    await pilot.press("ctrl+f", *'.toolCalls[].skillName == "@perstack/base"')
    await app.wait_until(lambda: 0 < len(app.view.shown) < len(app.view.rows))
    await pilot.press("tab", *"3-8")
    await pilot.pause()


async def _invalid(app: Any, pilot: Any) -> None:
    await _finished(app, pilot)
    await pilot.press("ctrl+f", *'.toolCalls[].toolName = "readTextFile"')
    await app.wait_until(lambda: app.query_one("#filter").has_class("-invalid"))
    await pilot.pause()


async def _asking(app: Any, pilot: Any) -> None:
    from workbench.screens.answer import AnswerScreen

    await pilot.press("enter")
    await app.wait_until(lambda: isinstance(app.screen, AnswerScreen))
    await pilot.pause()
    await pilot.press(*"Four nights; food first")
    await pilot.pause()


async def _editor_problems(app: Any, pilot: Any) -> None:
    from workbench.widgets.config_pane import ConfigPane

    editor = app.query_one(ConfigPane)
    area = editor.text_area
    row = next(i for i, line in enumerate(area.text.splitlines()) if line.startswith("model"))
    area.insert('maxSteps = "ten"\n', (row + 1, 0))  # a string where a number belongs
    area.focus()
    area.move_cursor((row + 1, 0))
    while editor.validation_pending or not editor.diagnostics:
        await pilot.pause()
    await pilot.pause()


async def _stored_jobs(app: Any, pilot: Any) -> None:
    from workbench.screens.jobs import JobsScreen

    await _finished(app, pilot)  # one job in storage, then a second with another query
    await pilot.press("ctrl+n")
    app.query_one("#query-input").value = "Plan two days in Nara with a day trip to Uji"
    await _finished(app, pilot)
    await pilot.press("f2")
    await app.wait_until(lambda: isinstance(app.screen, JobsScreen) and bool(app.screen.jobs))
    await app.wait_until(lambda: app.screen.priced == len(app.screen.jobs))
    await pilot.pause()


async def _maximised_editor(app: Any, pilot: Any) -> None:
    from workbench.widgets.config_pane import ConfigPane

    await _finished(app, pilot)
    app.query_one(ConfigPane).text_area.focus()
    await pilot.press("f7")
    app.clear_notifications()  # "perstack.toml fills the screen: F7 puts it back."
    await pilot.pause()


def _hide_config(app: Any) -> None:
    """The MCP pictures leave out the perstack.toml pane (it names this machine's paths)."""
    from workbench.widgets.config_pane import ConfigPane

    if app.query_one(ConfigPane).display:
        app.action_toggle_config()


async def _progress(app: Any, pilot: Any) -> None:
    _hide_config(app)
    await pilot.press("enter")

    def held() -> bool:
        row = next((r for r in app.view.rows if r.tool_name == "survey_shore"), None)
        return row is not None and row.progress is not None and row.progress.progress == 2

    await app.wait_until(held, timeout=60)
    await app.wait_until(lambda: not app.bridge._buffer and not app.counts_pending)
    await pilot.pause()


async def _server_question(app: Any, pilot: Any) -> None:
    from workbench.screens.elicitation import ElicitationScreen

    _hide_config(app)
    await pilot.press("enter")
    await app.wait_until(lambda: isinstance(app.screen, ElicitationScreen), timeout=60)
    # Typed only once the form has its focus (a space would press a button).
    await app.wait_until(lambda: getattr(app.focused, "id", None) == "field-name")
    await pilot.pause()
    await pilot.press(*"Ada Lovelace")
    await pilot.pause()


#: Experts of the MCP demo project (the others are the bundled demo's).
_GAUGES = {"surveyor": "Survey the north shore", "host": "A room for two nights, please"}

#: name -> (size, Expert, rules to hold, what to do before the picture).
SHOTS: dict[
    str, tuple[tuple[int, int], str, tuple[str, str] | None, Callable[..., Awaitable[None]]]
] = {
    "01-demo-ready": ((120, 36), "coordinator", None, _ready),
    "02-mid-run-streaming": ((120, 36), "coordinator", ("coordinator", "runResult"), _streaming),
    "03-finished-parallel-tree": ((120, 36), "coordinator", None, _finished),
    "04-step-details": ((120, 36), "coordinator", None, _details),
    "05-filter-applied": ((120, 36), "coordinator", None, _filtered),
    "06-invalid-filter": ((120, 36), "coordinator", None, _invalid),
    "07-interactive-question": ((120, 36), "concierge", None, _asking),
    "08-demo-80x24": ((80, 24), "coordinator", None, _ready),
    "09-finished-light-theme": ((120, 36), "coordinator", None, _finished),
    "10-finished-high-contrast-theme": ((120, 36), "coordinator", None, _finished),
    "11-editor-problems": ((120, 36), "coordinator", None, _editor_problems),
    "12-stored-jobs": ((120, 36), "coordinator", None, _stored_jobs),
    "17-final-answer-wide": ((160, 42), "coordinator", None, _finished),
    "18-maximised-editor": ((120, 36), "coordinator", None, _maximised_editor),
    "19-tool-progress": ((120, 36), "surveyor", None, _progress),
    "20-server-question": ((120, 36), "host", None, _server_question),
    **REPLAY_SHOTS,  # replay mid-job, the checkpoint panel, the fork dialog, the diff view
}


async def _describe(app: Any, pilot: Any) -> None:
    from runtime.create_expert.demo import DEMO_DESCRIPTION
    from workbench.screens.describe import DescribeScreen

    await pilot.press("f3")
    await app.wait_until(lambda: isinstance(app.screen, DescribeScreen))
    app.screen.query_one("#describe-input").value = DEMO_DESCRIPTION
    await pilot.pause()


async def _proposal(app: Any, pilot: Any) -> None:
    from workbench.screens.proposal import ProposalScreen

    await _describe(app, pilot)
    await pilot.press("enter")
    await app.wait_until(lambda: isinstance(app.screen, ProposalScreen), timeout=120)
    await pilot.pause()


async def _report(app: Any, pilot: Any) -> None:
    from workbench.screens.report import ReportScreen

    await _proposal(app, pilot)
    await pilot.press("a")
    await app.wait_until(lambda: isinstance(app.screen, ReportScreen))
    await app.wait_until(lambda: "fitness-assistant" in app.preflight.experts)
    app.clear_notifications()
    await pilot.pause()


async def _create_job(app: Any, pilot: Any) -> None:
    from workbench.widgets.run_tree import RunTreePanel

    await _report(app, pilot)
    await pilot.press("escape")
    app.query_one(RunTreePanel).root.expand_all()
    await pilot.pause()


#: create-expert in the workbench (F3), on the create-expert demo project.
CREATE_SHOTS: dict[str, Callable[..., Awaitable[None]]] = {
    "13-create-expert-describe": _describe,
    "14-create-expert-proposed-change": _proposal,
    "15-create-expert-report": _report,
    "16-create-expert-job": _create_job,
}

#: The theme of a picture when not the default (perstack-dark).
THEMES: dict[str, str] = {
    "09-finished-light-theme": "perstack-light",
    "10-finished-high-contrast-theme": "perstack-high-contrast",
}


async def _shoot_create(name: str, out: Path, work: Path) -> Path:
    """A picture of create-expert in the workbench: ids from a counter, a fixed clock."""
    from runtime.cli.run import RunOptions
    from runtime.create_expert.demo import install_demo
    from workbench.app import WorkbenchApp
    from workbench.session import Session, find_project
    from workbench.theming import DEFAULT_THEME, save_theme_name, settings_path

    save_theme_name(DEFAULT_THEME, settings_path())
    counter = itertools.count(_NOW_MS - 20_000, 30)
    ids = itertools.count()
    fixed_os = mock.Mock(urandom=lambda n: hashlib.sha256(str(next(ids)).encode()).digest()[:n])
    project = install_demo(work / name / "fitness")
    with (
        mock.patch("runtime.engine.bus.now_ms", lambda: next(counter)),
        mock.patch("runtime.model.os", fixed_os),
    ):
        session = Session(find_project(project), RunOptions("", ""))
        app = WorkbenchApp(session, clock=lambda: _NOW_MS, still=True)
        async with app.run_test(size=(120, 36)) as pilot:
            await CREATE_SHOTS[name](app, pilot)
            svg = app.export_screenshot(title=f"perstack start: {name[3:].replace('-', ' ')}")
    path = out / f"{name}.svg"
    path.write_text(svg, encoding="utf-8")
    return path


async def _shoot(name: str, out: Path, work: Path) -> Path:
    from runtime.cli.run import RunOptions
    from workbench.app import WorkbenchApp
    from workbench.demo import DEMO_QUERY
    from workbench.session import Session, find_project
    from workbench.theming import DEFAULT_THEME, save_theme_name, settings_path

    size, expert, hold, before = SHOTS[name]
    save_theme_name(THEMES.get(name, DEFAULT_THEME), settings_path())
    counter = itertools.count(_NOW_MS - 20_000, 30)  # ~ the demo's real pace
    empty = work / name
    empty.mkdir()
    ids = fixed_ids() if name in REPLAY_SHOTS else contextlib.nullcontext()
    with mock.patch("runtime.engine.bus.now_ms", lambda: next(counter)), ids:
        query = DEMO_QUERY if expert == "coordinator" else "Where should I stay in Kyoto?"
        # A job id of the shot's own: the pictures stay the same from one run to the next.
        job_id = hashlib.sha1(name.encode()).hexdigest()[:24]
        providers: Any = _providers(_rules(hold))
        if expert in _GAUGES:  # the MCP demo project, its own script
            from workbench.demo.gauges import write_gauges_project

            write_gauges_project(empty, hold_at=4)
            query, providers = _GAUGES[expert], None
        session = Session(find_project(empty), RunOptions(expert, "", job_id=job_id))
        app = WorkbenchApp(
            session, provider_factory=providers, clock=lambda: _NOW_MS, still=True
        )
        async with app.run_test(size=size) as pilot:
            app.query_one("#query-input").value = query
            await before(app, pilot)
            svg = app.export_screenshot(title=f"perstack start: {name[3:].replace('-', ' ')}")
    path = out / f"{name}.svg"
    path.write_text(svg, encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> None:
    """Write every screenshot (or those named) to ``--out``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("screenshots"))
    parser.add_argument(
        "names", nargs="*", choices=[[], *SHOTS, *CREATE_SHOTS, *COMPARE_SHOTS], help="only these"
    )
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="perstack-shots-") as temp:
        work = Path(temp)
        # A home of its own: the demo's copy and its jobs go to ~/.cache/perstack/demo, and
        # the stored-jobs dialog names that place as a user's would.
        os.environ["HOME"] = str(work)
        os.environ.pop("PERSTACK_STORAGE_PATH", None)
        os.environ["XDG_CACHE_HOME"] = str(work / ".cache")
        os.environ["XDG_CONFIG_HOME"] = str(work / "config")
        for name in args.names or [*SHOTS, *CREATE_SHOTS, *COMPARE_SHOTS]:
            if name in COMPARE_SHOTS:  # the compare view, on a sample of its own
                print(asyncio.run(shoot_compare(name, args.out, work, _NOW_MS)))
                continue
            shoot = _shoot_create if name in CREATE_SHOTS else _shoot
            print(asyncio.run(shoot(name, args.out, work)))


if __name__ == "__main__":
    main()
