"""Running a draft Expert for real: a scratch copy of the workspace, limits, the events read back.

The tester's ``runScenarios`` tool comes here. Each run is an ordinary job of the runtime
(stored with the project's other jobs, so ``perstack log --job <id>`` shows it), working in
a throwaway copy of the project, never in the project itself. What it did is read back
from its stored events with the same view ``perstack log`` uses
(:func:`runtime.views.logview.select_log`), and from the files it left in the copy.
"""

from __future__ import annotations

import asyncio
import io
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runtime.create_expert.scenarios import RunRecord, Scenario
from runtime.errors import ConfigError, PerstackError

if TYPE_CHECKING:
    from runtime.config.models import PerstackConfig
    from runtime.providers.base import Provider
    from runtime.storage import Storage

__all__ = ["DraftRunner", "WorkspaceCopy", "snapshot", "changed_files"]

#: Never copied into the scratch workspace: version control, environments, caches.
IGNORED_NAMES = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        ".venv",
        "venv",
        "node_modules",
        "__pycache__",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".tox",
    }
)
#: Events worth showing the verifier (the rest are streamed deltas and bookkeeping).
LOG_TYPES = frozenset(
    {
        "startRun",
        "callTools",
        "resolveToolResults",
        "callDelegate",
        "callInteractiveTool",
        "completeRun",
        "stopRunByError",
        "stopRunByExceededMaxSteps",
        "retry",
    }
)
#: At most this many lines of the log go to the verifier.
LOG_LINES = 160
#: Files larger than this are not kept as outputs (their names still count as written).
MAX_OUTPUT_BYTES = 256 * 1024


def snapshot(root: Path, skip: Iterable[Path] = ()) -> dict[str, tuple[int, int]]:
    """``relative path -> (size, mtime_ns)`` of every file under ``root``."""
    skipped = {str(path) for path in skip}
    found: dict[str, tuple[int, int]] = {}
    for directory, dirs, files in os.walk(root):
        dirs[:] = [
            d for d in dirs if d not in IGNORED_NAMES and os.path.join(directory, d) not in skipped
        ]
        for name in files:
            path = os.path.join(directory, name)
            try:
                stat = os.stat(path)
            except OSError:
                continue
            found[os.path.relpath(path, root).replace(os.sep, "/")] = (
                stat.st_size,
                stat.st_mtime_ns,
            )
    return found


def changed_files(before: Mapping[str, tuple[int, int]], after: Mapping[str, tuple[int, int]]):
    """Paths created or changed between two snapshots, sorted."""
    return sorted(path for path, stat in after.items() if before.get(path) != stat)


@dataclass
class WorkspaceCopy:
    """A scratch copy of the project for one test run (removed by :meth:`remove`).

    Args:
        source: The project directory (``None``: start empty).
        skip: Directories of the project not to copy (the job storage).
    """

    source: Path | None
    skip: tuple[Path, ...] = ()
    root: Path = field(init=False)
    _parent: Path = field(init=False)

    def __post_init__(self) -> None:
        self._parent = Path(tempfile.mkdtemp(prefix="perstack-create-expert-"))
        self.root = self._parent / "workspace"
        skipped = {str(path.resolve()) for path in self.skip}

        def ignore(directory: str, names: list[str]) -> list[str]:
            return [
                name
                for name in names
                if name in IGNORED_NAMES or os.path.join(directory, name) in skipped
            ]

        if self.source is not None and self.source.is_dir():
            shutil.copytree(self.source.resolve(), self.root, ignore=ignore, symlinks=True)
        else:
            self.root.mkdir()

    def put(self, relative: str, text: str) -> Path:
        """Write a file inside the copy; paths that leave it are refused.

        Raises:
            PerstackError: an absolute path, or one climbing out with ``..``.
        """
        path = (self.root / relative).resolve()
        if Path(relative).is_absolute() or not path.is_relative_to(self.root.resolve()):
            raise PerstackError(f"{relative}: a scenario file must stay inside the workspace")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    def read(self, relative: str) -> str | None:
        """A file's text after the run, or ``None``."""
        path = self.root / relative.removeprefix("./")
        try:
            return path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None

    def keep(self, paths: Iterable[str], target: Path) -> None:
        """Copy ``paths`` (relative) to ``target``, skipping large files."""
        for relative in paths:
            source = self.root / relative
            try:
                if source.stat().st_size > MAX_OUTPUT_BYTES:
                    continue
                destination = target / relative
                destination.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, destination)
            except OSError:
                continue

    def remove(self) -> None:
        shutil.rmtree(self._parent, ignore_errors=True)


@dataclass
class DraftRunner:
    """Runs scenarios against draft ``perstack.toml`` texts.

    Args:
        storage: Where test jobs are stored (the project's job storage).
        env: The runs' environment (process env and ``.env`` files).
        project_dir: The project copied for each run (``None``: an empty workspace).
        config_name: Where the draft goes in the copy (relative to ``project_dir``).
        overrides: The command line's settings applied to every draft (provider, model).
        provider: One provider for every run (``None``: each builds its own).
        skip: Directories of the project never copied (the job storage).
        on_event: Called with each event of every test run.
    """

    storage: Storage
    env: Mapping[str, str]
    project_dir: Path | None
    config_name: str = "perstack.toml"
    overrides: Callable[[PerstackConfig], PerstackConfig] = lambda config: config
    provider: Provider | None = None
    skip: tuple[Path, ...] = ()
    on_event: Callable[[Any], None] | None = None

    async def run(
        self, draft_text: str, scenario: Scenario, outputs: Path
    ) -> tuple[RunRecord, dict[str, str | None]]:
        """Run ``scenario`` on the draft; return the record and the expected files' text."""
        workspace = WorkspaceCopy(self.project_dir, self.skip)
        try:
            return await self._run_in(workspace, draft_text, scenario, outputs)
        finally:
            workspace.remove()

    async def _run_in(
        self, workspace: WorkspaceCopy, draft_text: str, scenario: Scenario, outputs: Path
    ) -> tuple[RunRecord, dict[str, str | None]]:
        from runtime.config import parse_config_text, with_overrides
        from runtime.engine.api import run, settings_from_config

        started = time.perf_counter()
        config_path = workspace.put(self.config_name, draft_text)
        try:
            for relative, text in scenario.files.items():
                workspace.put(relative, text)
            config = self.overrides(parse_config_text(draft_text, config_path))
            config = with_overrides(config, max_steps=scenario.max_steps)
            setting = settings_from_config(
                config, scenario.expert, scenario.query, env=self.env, workspace=workspace.root
            )
        except ConfigError as error:
            return _not_started(started, "; ".join(error.problems)), {}
        except PerstackError as error:
            return _not_started(started, str(error)), {}
        before = snapshot(workspace.root, [config_path.parent / "perstack"])
        before.pop(self.config_name, None)
        status: str | None = None
        errors: list[str] = []
        try:
            final = await asyncio.wait_for(
                run(setting, self.on_event, storage=self.storage, provider=self.provider),
                timeout=scenario.timeout_seconds,
            )
        except TimeoutError:
            status = "timedOut"
            errors.append(f"stopped after the time limit of {scenario.timeout_seconds} s")
        except PerstackError as error:
            status = "failedToStart"
            errors.append(str(error))
        else:
            status = {"stoppedByExceededMaxSteps": "stoppedByMaxSteps"}.get(
                final.status, final.status
            )
        duration = round((time.perf_counter() - started) * 1000)
        after = snapshot(workspace.root, [config_path.parent / "perstack"])
        after.pop(self.config_name, None)
        written = changed_files(before, after)
        if written:
            workspace.keep(written, outputs / "files")
        wanted = {path.removeprefix("./") for path in [*scenario.expect.file_contains, *written]}
        texts = {path: workspace.read(path) for path in wanted}
        record = read_job(self.storage, setting.job_id, scenario.expert)
        record = replace_record(
            record,
            status=status if status in ("timedOut", "failedToStart") else record.status,
            duration_ms=duration,
            files_written=written,
            errors=[*errors, *record.errors],
            outputs=str(outputs / "files") if written else None,
        )
        return record, texts


def _not_started(started: float, reason: str) -> RunRecord:
    return RunRecord(
        status="failedToStart",
        duration_ms=round((time.perf_counter() - started) * 1000),
        errors=[reason],
    )


def replace_record(record: RunRecord, **changes: Any) -> RunRecord:
    """``record`` with ``changes`` (a copy)."""
    return record.model_copy(update=changes)


def read_job(storage: Storage, job_id: str, expert: str) -> RunRecord:
    """What a stored job did, from its events, read the way ``perstack log`` reads them."""
    from runtime.views.logview import LogQuery, read_events, select_log

    selection = select_log(storage, LogQuery(job=job_id, take=0), str(storage.root))
    if selection is None:
        return RunRecord(job_id=job_id, status="failedToStart", errors=["the job left no events"])
    job = selection.job
    tools: list[str] = []
    delegations: list[str] = []
    errors: list[str] = []
    final_text = ""
    interesting = [event for event in selection.events if event.ref.type in LOG_TYPES]
    for event in read_events(storage, interesting):
        kind = event.get("type")
        who = str(event.get("expertKey", ""))
        if kind == "callTools":
            tools += [f"{who}:{call.get('toolName')}" for call in event.get("toolCalls") or []]
        elif kind == "callInteractiveTool":
            tools.append(f"{who}:{(event.get('toolCall') or {}).get('toolName')}")
        elif kind == "startRun" and who != expert:
            delegations.append(who)
        elif kind == "stopRunByError":
            error = event.get("error") or {}
            errors.append(f"{who}: {error.get('name')}: {error.get('message')}")
        elif kind == "retry":
            errors.append(f"{who}: retried: {event.get('reason')}")
        elif kind == "completeRun" and who == expert:
            final_text = str(event.get("text", ""))
    status = {"stoppedByMaxSteps": "stoppedByMaxSteps"}.get(job.get("status"), job.get("status"))
    return RunRecord(
        job_id=job_id,
        status=str(status),
        steps=int(job.get("totalSteps") or 0),
        tools_called=tools,
        delegations=delegations,
        final_text=final_text,
        errors=errors,
        log=log_text(storage, replace(selection, events=interesting)),
    )


def log_text(storage: Storage, selection: Any) -> str:
    """The selection as ``perstack log --verbose`` prints it, cut to :data:`LOG_LINES`."""
    from runtime.views.logview_text import render_text

    out = io.StringIO()
    render_text(storage, selection, out, verbose=True)
    lines = [line for line in out.getvalue().splitlines() if line.strip()]
    if len(lines) > LOG_LINES:
        lines = [*lines[: LOG_LINES - 1], f"... ({len(lines) - LOG_LINES + 1} more lines)"]
    return "\n".join(lines)
