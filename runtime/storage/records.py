"""The small values storage deals in: file references, raw documents, names and paths.

Kept apart from :mod:`runtime.storage.base` (the interface) and free of pydantic, so
``perstack log`` can read jobs without importing the data model.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import orjson

from runtime.errors import PerstackError

if TYPE_CHECKING:
    from pydantic import ValidationError

__all__ = [
    "STORAGE_URL_ENV",
    "CheckpointFileRef",
    "EventFileRef",
    "RawJson",
    "STEP_END_TYPES",
    "StorageError",
    "WarningHandler",
    "WriteClock",
    "check_id",
    "default_storage_root",
    "event_type_rank",
    "now_ms",
    "parse_json_object",
    "parse_s3_url",
    "print_warning",
]

WarningHandler = Callable[[str], None]

#: The variable naming a store by URL (wins over ``PERSTACK_STORAGE_PATH``).
STORAGE_URL_ENV = "PERSTACK_STORAGE_URL"


class StorageError(PerstackError):
    """The store could not be reached or refused a request (after its retries)."""


def check_id(kind: str, value: str) -> str:
    """Reject ids that would not stay one path component inside the storage root.

    Raises:
        PerstackError: for an empty id, one with a path separator or NUL, or one starting
            with ``.``.
    """
    if (
        not value
        or len(value) > 255
        or value[0] == "."
        or "/" in value
        or "\\" in value
        or "\0" in value
    ):
        raise PerstackError(f"Invalid {kind} id: {value!r}")
    return value


def parse_s3_url(url: str) -> tuple[str, str]:
    """``(bucket, prefix)`` of ``s3://bucket/prefix``; the prefix has no leading or
    trailing ``/`` and may be empty.

    Raises:
        StorageError: not an ``s3://`` URL with a bucket.
    """
    scheme, _, rest = url.partition("://")
    bucket, _, prefix = rest.partition("/")
    if scheme != "s3" or not bucket:
        raise StorageError(f"{STORAGE_URL_ENV}={url!r}: expected s3://bucket/prefix")
    return bucket, prefix.strip("/")


def print_warning(message: str) -> None:
    """The default warning handler: one line on stderr."""
    print(message, file=sys.stderr, flush=True)


def default_storage_root(cwd: Path, env: Mapping[str, str]) -> Path:
    """Where jobs live: ``PERSTACK_STORAGE_PATH`` (relative to ``cwd``) or ``<cwd>/perstack``.

    Args:
        cwd: The working directory of the command.
        env: The process environment.
    """
    configured = env.get("PERSTACK_STORAGE_PATH", "")
    if configured:
        return cwd / Path(configured).expanduser()
    return cwd / "perstack"


# Where each event type happens within one step (spec §5). Only used to order events that
# share a millisecond, which our runtime never writes (it gives every event of a job a
# strictly increasing timestamp) but upstream's files can contain.
_TYPE_PHASE = {
    "startRun": 0,
    "resumeToolCalls": 1,
    "finishAllToolCalls": 1,
    "startGeneration": 2,
    "startStreamingReasoning": 3,
    "streamReasoning": 4,
    "completeStreamingReasoning": 5,
    "callTools": 6,
    "retry": 6,
    "callInteractiveTool": 7,
    "callDelegate": 7,
    "resolveToolResults": 7,
    "attemptCompletion": 7,
    "finishToolCall": 8,
    "startStreamingRunResult": 9,
    "streamRunResult": 10,
    "completeStreamingRunResult": 11,
    "continueToNextStep": 12,
    "stopRunByInteractiveTool": 12,
    "stopRunByDelegate": 12,
    "stopRunByExceededMaxSteps": 12,
    "stopRunByError": 12,
    "completeRun": 12,
}


#: Events that end a step: one per step, whatever the outcome. The checkpoint such an
#: event carries is the one a store keeps as a checkpoint file.
STEP_END_TYPES = frozenset(kind for kind, phase in _TYPE_PHASE.items() if phase == 12)


def event_type_rank(event_type: str) -> int:
    """The position of ``event_type`` within a step, for ordering same-millisecond events."""
    return _TYPE_PHASE.get(event_type, 6)


@dataclass(frozen=True, slots=True)
class EventFileRef:
    """One stored event, known from its file name without reading it.

    Attributes:
        job_id: The job the event belongs to.
        run_id: The run directory it was found in.
        timestamp: The timestamp in the file name. Equal to the event's own ``timestamp``
            unless ``store_event`` had to bump it to avoid overwriting an existing file.
        step: The step number in the file name.
        type: The event type in the file name.
        name: The file name (``event-<timestamp>-<step>-<type>.json``).
        directory: The run directory, or ``None`` for an in-memory event.
        seq: Write order within the store (in-memory events only; 0 for files).
    """

    job_id: str
    run_id: str
    timestamp: int
    step: int
    type: str
    name: str
    directory: str | None = None
    seq: int = 0

    @property
    def path(self) -> Path | None:
        """The file's path, or ``None`` when the event is kept in memory."""
        return None if self.directory is None else Path(self.directory, self.name)


@dataclass(frozen=True, slots=True)
class CheckpointFileRef:
    """One stored checkpoint, known from its name and first bytes.

    Attributes:
        job_id: The job it belongs to.
        checkpoint_id: Its id (the file name without ``.json``).
        step: Its ``stepNumber``.
        written_ns: When it was written (file modification time in ns, or write order in
            memory); orders checkpoints of the same step.
        directory: The checkpoints directory, or ``None`` when kept in memory.
    """

    job_id: str
    checkpoint_id: str
    step: int
    written_ns: int
    directory: str | None = field(default=None, compare=False)

    @property
    def path(self) -> Path | None:
        """The file's path, or ``None`` when the checkpoint is kept in memory."""
        if self.directory is None:
            return None
        return Path(self.directory, f"{self.checkpoint_id}.json")


class RawJson(NamedTuple):
    """A stored JSON document: its parsed value and the exact bytes it was read from."""

    data: dict[str, Any]
    raw: bytes


def now_ms() -> int:
    """Wall-clock milliseconds (as ``runtime.model.now_ms``, without importing pydantic)."""
    return time.time_ns() // 1_000_000


class WriteClock:
    """Strictly increasing write times (ns), finer than a filesystem's or an object
    store's clock, so "written last" is exact between the documents one store writes."""

    def __init__(self) -> None:
        self._last = 0

    def next(self) -> int:
        """A time later than every one given before."""
        self._last = max(time.time_ns(), self._last + 1)
        return self._last


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _first_error(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "(root)"
    return f"{where}: {first['msg']}"


def parse_json_object(raw: bytes) -> dict[str, Any]:
    """Parse ``raw`` as a JSON object.

    Raises:
        ValueError: with a one-line reason when it is not one.
    """
    if not raw:
        raise ValueError("empty file")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise ValueError(f"invalid JSON ({error})") from None
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")  # noqa: TRY004 - callers handle ValueError
    return data
