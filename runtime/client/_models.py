"""The data the Execution API returns, read strictly from its JSON.

Each ``read_*`` function raises :class:`SchemaError` (naming the offending field) when the
JSON does not have the protocol's shape; the transport turns that into a ``validation``
error result.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "FileInfo",
    "Job",
    "JobPage",
    "JobStatus",
    "SchemaError",
    "StreamCompletion",
    "StreamErrorFrame",
    "Usage",
]

JobStatus = Literal[
    "running",
    "completed",
    "stoppedByInteractiveTool",
    "stoppedByMaxSteps",
    "stoppedByError",
    "cancelled",
]
JOB_STATUSES: frozenset[str] = frozenset(JobStatus.__args__)  # type: ignore[attr-defined]


class SchemaError(ValueError):
    """The server's JSON does not have the expected shape at ``field``."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass(frozen=True, slots=True)
class Usage:
    """Token usage of a job (the sum over its runs)."""

    input_tokens: int
    output_tokens: int
    reasoning_tokens: int
    total_tokens: int
    cached_input_tokens: int


@dataclass(frozen=True, slots=True)
class Job:
    """A job as the server describes it. ``raw`` is the JSON object (with any extra fields).

    Times are integer milliseconds since the epoch.
    """

    id: str
    application_id: str
    expert_key: str
    status: JobStatus
    created_at: int
    updated_at: int
    total_steps: int
    usage: Usage
    raw: dict[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class ExpertInfo:
    """An Expert the application can start: its ``key`` and ``description``."""

    key: str
    description: str


@dataclass(frozen=True, slots=True)
class ApplicationInfo:
    """The application a key belongs to: its ``id`` and its Experts, in file order."""

    id: str
    experts: list[ExpertInfo]


@dataclass(frozen=True, slots=True)
class JobPage:
    """One page of :meth:`jobs.list`: ``jobs`` (newest first) and the paging ``meta``."""

    jobs: list[Job]
    total: int
    take: int
    skip: int


@dataclass(frozen=True, slots=True)
class FileInfo:
    """A file of a job's workspace: its relative ``path``, ``size`` in bytes, and
    ``modified_at`` (ms)."""

    path: str
    size: int
    modified_at: int


@dataclass(frozen=True, slots=True)
class StreamCompletion:
    """The ``complete`` frame that ends a job's event stream."""

    status: str
    job_id: str


@dataclass(frozen=True, slots=True)
class StreamErrorFrame:
    """An ``error`` frame of a job's event stream (the stream goes on after it)."""

    type: str
    job_id: str
    message: str


# --- readers -------------------------------------------------------------------------


def _obj(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise SchemaError(where, "expected an object")
    return value


def _get(obj: dict[str, Any], key: str, where: str) -> Any:
    if key not in obj:
        raise SchemaError(f"{where}.{key}", "missing")
    return obj[key]


def _str(obj: dict[str, Any], key: str, where: str) -> str:
    value = _get(obj, key, where)
    if not isinstance(value, str):
        raise SchemaError(f"{where}.{key}", "expected a string")
    return value


def _int(obj: dict[str, Any], key: str, where: str) -> int:
    value = _get(obj, key, where)
    if isinstance(value, bool) or not isinstance(value, int):
        raise SchemaError(f"{where}.{key}", "expected an integer")
    return value


def _list(obj: dict[str, Any], key: str, where: str) -> list[Any]:
    value = _get(obj, key, where)
    if not isinstance(value, list):
        raise SchemaError(f"{where}.{key}", "expected an array")
    return value


def data_of(body: Any) -> dict[str, Any]:
    """The ``data`` object of a success body."""
    return _obj(_get(_obj(body, "body"), "data", "body"), "data")


def read_usage(value: Any, where: str) -> Usage:
    obj = _obj(value, where)
    return Usage(
        input_tokens=_int(obj, "inputTokens", where),
        output_tokens=_int(obj, "outputTokens", where),
        reasoning_tokens=_int(obj, "reasoningTokens", where),
        total_tokens=_int(obj, "totalTokens", where),
        cached_input_tokens=_int(obj, "cachedInputTokens", where),
    )


def read_job(value: Any, where: str = "data.job") -> Job:
    obj = _obj(value, where)
    job_id = _str(obj, "id", where)
    application_id = _str(obj, "applicationId", where)
    expert_key = _str(obj, "expertKey", where)
    status = _str(obj, "status", where)
    if status not in JOB_STATUSES:
        raise SchemaError(f"{where}.status", f"unknown status {status!r}")
    return Job(
        id=job_id,
        application_id=application_id,
        expert_key=expert_key,
        status=status,  # type: ignore[arg-type]
        created_at=_int(obj, "createdAt", where),
        updated_at=_int(obj, "updatedAt", where),
        total_steps=_int(obj, "totalSteps", where),
        usage=read_usage(_get(obj, "usage", where), f"{where}.usage"),
        raw=obj,
    )


def read_job_body(body: Any) -> Job:
    return read_job(_get(data_of(body), "job", "data"))


def read_application(body: Any) -> ApplicationInfo:
    where = "data.application"
    obj = _obj(_get(data_of(body), "application", "data"), where)
    experts = []
    for i, item in enumerate(_list(obj, "experts", where)):
        at = f"{where}.experts[{i}]"
        expert = _obj(item, at)
        description = expert.get("description") or ""
        experts.append(ExpertInfo(key=_str(expert, "key", at), description=str(description)))
    return ApplicationInfo(id=_str(obj, "id", where), experts=experts)


def read_job_page(body: Any) -> JobPage:
    jobs = _list(data_of(body), "jobs", "data")
    meta = _obj(_get(_obj(body, "body"), "meta", "body"), "meta")
    return JobPage(
        jobs=[read_job(job, f"data.jobs[{i}]") for i, job in enumerate(jobs)],
        total=_int(meta, "total", "meta"),
        take=_int(meta, "take", "meta"),
        skip=_int(meta, "skip", "meta"),
    )


def read_checkpoints(body: Any) -> list[dict[str, Any]]:
    items = _list(data_of(body), "checkpoints", "data")
    return [_obj(item, f"data.checkpoints[{i}]") for i, item in enumerate(items)]


def read_checkpoint(body: Any) -> dict[str, Any]:
    return _obj(_get(data_of(body), "checkpoint", "data"), "data.checkpoint")


def read_files(body: Any) -> list[FileInfo]:
    items = _list(data_of(body), "files", "data")
    files = []
    for i, item in enumerate(items):
        where = f"data.files[{i}]"
        obj = _obj(item, where)
        files.append(
            FileInfo(
                path=_str(obj, "path", where),
                size=_int(obj, "size", where),
                modified_at=_int(obj, "modifiedAt", where),
            )
        )
    return files


def read_completion(value: Any) -> StreamCompletion:
    obj = _obj(value, "complete")
    return StreamCompletion(
        status=_str(obj, "status", "complete"), job_id=_str(obj, "jobId", "complete")
    )


def read_error_frame(value: Any) -> StreamErrorFrame:
    obj = _obj(value, "error")
    return StreamErrorFrame(
        type=_str(obj, "type", "error"),
        job_id=_str(obj, "jobId", "error"),
        message=_str(obj, "message", "error"),
    )
