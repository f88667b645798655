"""The server's own records, beside the runtime's job storage.

Under ``<storage root>/server/``:

* ``jobs/<jobId>.json``: the API's job record (application, Expert, status, times,
  usage), replaced atomically at every change;
* ``streams/<jobId>.jsonl``: the job's event stream, one event per line exactly as
  ``perstack run`` prints it (compact histories), appended as events happen. Its line
  numbers are the SSE event ids, so they stay the same across restarts. A crash can only
  leave a partial *last* line, which readers ignore;
* ``workspaces/<jobId>/``: the folder the job works in, kept across its continues.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from runtime.storage.atomic import write_replace

__all__ = ["ApiJob", "ServerRecords", "JOB_STATUSES"]

#: The statuses an API job can have.
JOB_STATUSES = (
    "running",
    "completed",
    "stoppedByInteractiveTool",
    "stoppedByMaxSteps",
    "stoppedByError",
    "cancelled",
)
#: A job's usage before its first step.
ZERO_USAGE = {
    "inputTokens": 0, "outputTokens": 0, "reasoningTokens": 0, "totalTokens": 0,
    "cachedInputTokens": 0,
}  # fmt: skip
_CHECKPOINT_STATUS = {
    "completed": "completed",
    "stoppedByInteractiveTool": "stoppedByInteractiveTool",
    "stoppedByExceededMaxSteps": "stoppedByMaxSteps",
    "stoppedByError": "stoppedByError",
}


def job_status_of(checkpoint_status: str) -> str:
    """The API status of a job whose last run stopped with ``checkpoint_status``."""
    return _CHECKPOINT_STATUS.get(checkpoint_status, "running")


@dataclass
class ApiJob:
    """The API's view of a job (its JSON is the ``job`` object of every response)."""

    id: str
    applicationId: str  # noqa: N815 - the wire's names
    expertKey: str  # noqa: N815
    status: str
    createdAt: int  # noqa: N815
    updatedAt: int  # noqa: N815
    totalSteps: int = 0  # noqa: N815
    usage: dict[str, int] = field(default_factory=lambda: dict(ZERO_USAGE))
    provider: str | None = None
    model: str | None = None
    query: str | None = None
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The job object of the API (``None`` fields left out)."""
        return {key: value for key, value in asdict(self).items() if value is not None}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ApiJob:
        names = cls.__dataclass_fields__
        return cls(**{key: value for key, value in data.items() if key in names})


class ServerRecords:
    """Reads and writes the server's records.

    Args:
        root: ``<storage root>/server``.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self._jobs = root / "jobs"
        self._streams = root / "streams"
        self._workspaces = root / "workspaces"
        for directory in (self._jobs, self._streams, self._workspaces):
            directory.mkdir(parents=True, exist_ok=True)

    # --- job records --------------------------------------------------------------------

    def save(self, job: ApiJob) -> None:
        """Replace the job's record atomically."""
        write_replace(str(self._jobs), f"{job.id}.json", orjson.dumps(job.to_json()))

    def load(self, job_id: str) -> ApiJob | None:
        """The job's record, or ``None`` (unknown, or an unreadable file)."""
        try:
            return ApiJob.from_json(orjson.loads((self._jobs / f"{job_id}.json").read_bytes()))
        except (OSError, orjson.JSONDecodeError, TypeError):
            return None

    def all_jobs(self) -> list[ApiJob]:
        """Every job record, newest first."""
        jobs = []
        for path in self._jobs.glob("*.json"):
            job = self.load(path.stem)
            if job is not None:
                jobs.append(job)
        jobs.sort(key=lambda job: (job.createdAt, job.id), reverse=True)
        return jobs

    # --- workspaces ---------------------------------------------------------------------

    def workspace(self, job_id: str) -> Path:
        """The job's own folder (created on first use)."""
        path = self._workspaces / job_id
        path.mkdir(parents=True, exist_ok=True)
        return path

    # --- event streams ------------------------------------------------------------------

    def stream_path(self, job_id: str) -> Path:
        """The job's stream file."""
        return self._streams / f"{job_id}.jsonl"

    def open_stream(self, job_id: str) -> BinaryIO:
        """The job's stream, open for appending (one run writes it; close when it stops).

        Unbuffered: each event is one ``write`` of a whole line, so a reader (or a crash)
        sees whole lines, and at worst a partial last one.
        """
        return open(self._streams / f"{job_id}.jsonl", "ab", buffering=0)

    def read_events(self, job_id: str) -> list[bytes]:
        """The job's stream, one item per whole line (a partial last line is left out)."""
        try:
            with open(self._streams / f"{job_id}.jsonl", "rb") as stream:
                content = stream.read()
        except FileNotFoundError:
            return []
        lines = content.split(b"\n")
        return lines[:-1]  # after the last newline: nothing, or a partial line

    def repair_stream(self, job_id: str) -> None:
        """Cut a partial last line left by a crash, so appends start on a new line."""
        path = self._streams / f"{job_id}.jsonl"
        try:
            with open(path, "rb+") as stream:
                content = stream.read()
                end = content.rfind(b"\n") + 1
                if end != len(content):
                    stream.truncate(end)
                    os.fsync(stream.fileno())
        except FileNotFoundError:
            pass
