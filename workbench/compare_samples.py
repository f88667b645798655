"""A sample comparison, the same every time: for the compare view's screenshots and snapshots.

Three columns of one ``writer`` Expert, recorded one after the other with the scripted
provider standing in for each model (the runs' settings name the models, so their tokens
are priced as those models'): each reads the notes and writes the same report, one looks
around first (a step the others did not take), and each answers in its own words. :func:`record_sample` runs them into a storage and
returns each column's events and the finished :class:`~runtime.views.comparison.Comparison`;
:func:`show_live` and :func:`show_finished` put them on a
:class:`~workbench.screens.compare.CompareScreen` (part way through, or done) without
running anything, so a picture depends on nothing but the sample.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runtime.events import BaseEvent
    from runtime.views.comparison import Comparison
    from workbench.screens.compare import CompareScreen

__all__ = ["SAMPLE_CONFIG", "SAMPLE_QUERY", "Sample", "record_sample", "show_finished", "show_live"]

SAMPLE_QUERY = "Summarise notes.txt into report.md"
SAMPLE_CONFIG = """
model = "scripted"
[provider]
providerName = "scripted"
[provider.setting]
rules = []

[experts."writer"]
description = "Writes reports"
instruction = "Read the notes and write the report."
"""
_NOTES = "Lake north: cliffs.\nLake south: beaches.\nWater: cold.\n"


def _rules(*steps: tuple[str, dict[str, str]], answer: str) -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = [
        {"turn": turn, "toolCalls": [{"name": name, "args": args}]}
        for turn, (name, args) in enumerate(steps, start=1)
    ]
    return [*rules, {"text": answer}]


_READ = ("readTextFile", {"path": "notes.txt"})
_WRITE = ("writeTextFile", {"path": "report.md", "text": "# Report\n- North: cliffs\n- South: beaches\n"})
#: ``provider:model`` -> what that column's run does.
COLUMNS: dict[str, list[dict[str, Any]]] = {
    "anthropic:claude-sonnet-4-5": _rules(
        _READ,
        _WRITE,
        answer="report.md: the north shore is cliffs, the south beaches; the water is cold.",
    ),
    "openai:gpt-4.1": _rules(
        _READ,
        ("listDirectory", {"path": "."}),
        _WRITE,
        answer="Wrote report.md (cliffs north, beaches south).",
    ),
    "openai:gpt-4.1-mini": _rules(
        _READ,
        _WRITE,
        answer="Done: report.md.",
    ),
}


@dataclass
class Sample:
    """The recorded sample: each column's label and events, and the comparison."""

    labels: list[str]
    events: list[list[BaseEvent]]
    comparison: Comparison


def write_project(folder: Path) -> Path:
    """The sample's project (perstack.toml and notes.txt) in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "perstack.toml").write_text(SAMPLE_CONFIG)
    (folder / "notes.txt").write_text(_NOTES)
    return folder


async def record_sample(project: Path, storage_root: Path) -> Sample:
    """Run the three columns one after the other into ``storage_root``."""
    from runtime.config import load_config, with_overrides
    from runtime.engine.api import run, settings_from_config
    from runtime.providers._script import parse_script
    from runtime.providers.scripted import ScriptedProvider
    from runtime.storage import FileStorage
    from runtime.storage.sources import JobSource
    from runtime.views.comparison import Comparison, RunFigures, job_figures

    config = load_config(project / "perstack.toml")
    storage = FileStorage(storage_root)
    labels, events, runs, steps = [], [], [], []
    for number, (label, rules) in enumerate(COLUMNS.items(), start=1):
        provider_name, model = label.split(":", 1)
        setting = settings_from_config(
            with_overrides(config, provider=provider_name, model=model),
            "writer",
            SAMPLE_QUERY,
            env={},
            workspace=project,
            job_id=f"sample-job-{number}",
        )
        seen: list[BaseEvent] = []
        provider = ScriptedProvider(parse_script({"rules": rules}, "sample"))
        await run(setting, seen.append, storage=storage, provider=provider)
        source = JobSource(storage, setting.job_id, "stored", str(storage_root), "")
        figures = RunFigures(model=model, provider=provider_name, workspace=str(project))
        _, own = job_figures(source, into=figures)
        labels.append(label)
        events.append(seen)
        runs.append(figures)
        steps.append(own)
    comparison = Comparison("writer", SAMPLE_QUERY, runs)
    comparison.align(steps)
    return Sample(labels, events, comparison)


def show_live(screen: CompareScreen, sample: Sample, shares: Sequence[float]) -> None:
    """The sample part way: column *k* has had ``shares[k]`` of its events."""
    from runtime.views.comparison import RunFigures
    from runtime.views.comparison_live import LiveRun

    screen.begin(sample.labels)
    live, runs = [], []
    for events, share, done in zip(sample.events, shares, sample.comparison.runs):
        run = LiveRun()
        for event in events[: round(len(events) * share)]:
            run.feed(event)
        live.append(run)
        finished = share >= 1
        runs.append(done if finished else RunFigures(done.model, done.provider, status="running"))
    screen.draw_live(live, runs)


def show_finished(screen: CompareScreen, sample: Sample) -> None:
    """The sample's finished comparison."""
    screen.begin(sample.labels)
    screen.finish(sample.comparison)


#: The compare view's pictures in ``screenshots/`` (see :mod:`workbench.screenshots`).
COMPARE_SHOTS = ("25-compare-live", "26-compare-finished")


async def shoot_compare(name: str, out: Path, work: Path, now_ms: int) -> Path:
    """One of :data:`COMPARE_SHOTS`: the sample on the compare view at 150x40."""
    import itertools
    from unittest import mock

    from runtime.cli.run import RunOptions
    from workbench.app import WorkbenchApp
    from workbench.session import Session, find_project

    project = write_project(work / name)
    counter = itertools.count(now_ms - 20_000, 100)
    with mock.patch("runtime.engine.bus.now_ms", lambda: next(counter)):
        session = Session(find_project(project), RunOptions("writer", ""))
        app = WorkbenchApp(session, clock=lambda: now_ms, still=True)
        async with app.run_test(size=(150, 40)) as pilot:
            app.query_one("#query-input").value = SAMPLE_QUERY
            await pilot.press("f10")
            await pilot.pause()
            sample = await record_sample(project, work / f"{name}-storage")
            if name == "25-compare-live":
                show_live(app.screen, sample, [1.0, 0.55, 0.4])
            else:
                show_finished(app.screen, sample)
                await pilot.press("right")
            await pilot.pause()
            svg = app.export_screenshot(title=f"perstack start: {name[3:].replace('-', ' ')}")
    path = out / f"{name}.svg"
    path.write_text(svg, encoding="utf-8")
    return path
