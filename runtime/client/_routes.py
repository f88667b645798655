"""The Execution API's routes under ``/api/v1``, as :class:`Call` descriptions."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from runtime.client import _models as m
from runtime.client._transport import API_PREFIX, Call, segment

__all__ = [
    "cancel_job",
    "get_application",
    "continue_job",
    "get_checkpoint",
    "get_file",
    "get_job",
    "list_checkpoints",
    "list_files",
    "list_jobs",
    "start_job",
    "stream_path",
]

_JOBS = f"{API_PREFIX}/jobs"


def _job(job_id: str) -> str:
    return f"{_JOBS}/{segment(job_id)}"


def get_application() -> Call:
    return Call("GET", f"{API_PREFIX}/application", m.read_application)


def start_job(
    application_id: str, expert_key: str, query: str, provider: str | None, model: str | None
) -> Call:
    body: dict[str, Any] = {
        "applicationId": application_id,
        "expertKey": expert_key,
        "query": query,
    }
    if provider is not None:
        body["provider"] = provider
    if model is not None:
        body["model"] = model
    return Call("POST", _JOBS, m.read_job_body, json=body)


def get_job(job_id: str) -> Call:
    return Call("GET", _job(job_id), m.read_job_body)


def list_jobs(
    application_id: str | None, status: str | None, take: int | None, skip: int | None
) -> Call:
    params = {"applicationId": application_id, "status": status, "take": take, "skip": skip}
    return Call("GET", _JOBS, m.read_job_page, params=params)


def continue_job(
    job_id: str, query: str | None, interactive_tool_call_result: dict[str, Any] | None
) -> Call:
    if (query is None) == (interactive_tool_call_result is None):
        raise ValueError("give exactly one of query and interactive_tool_call_result")
    if query is not None:
        body: dict[str, Any] = {"query": query}
    else:
        result = dict(interactive_tool_call_result or {})
        missing = {"toolCallId", "toolName", "skillName", "text"} - result.keys()
        if missing:
            raise ValueError(f"interactive_tool_call_result lacks {', '.join(sorted(missing))}")
        body = {"interactiveToolCallResult": result}
    return Call("POST", f"{_job(job_id)}/continue", m.read_job_body, json=body)


def cancel_job(job_id: str) -> Call:
    return Call("POST", f"{_job(job_id)}/cancel", m.read_job_body)


def list_checkpoints(job_id: str) -> Call:
    return Call("GET", f"{_job(job_id)}/checkpoints", m.read_checkpoints)


def get_checkpoint(job_id: str, checkpoint_id: str) -> Call:
    return Call("GET", f"{_job(job_id)}/checkpoints/{segment(checkpoint_id)}", m.read_checkpoint)


def list_files(job_id: str) -> Call:
    return Call("GET", f"{_job(job_id)}/files", m.read_files)


def get_file(job_id: str, path: str) -> Call:
    parts = [part for part in str(path).split("/") if part]
    if not parts or any(part in (".", "..") for part in parts):
        raise ValueError(f"not a relative file path: {path!r}")
    encoded = "/".join(quote(part, safe="") for part in parts)
    return Call("GET", f"{_job(job_id)}/files/{encoded}", bytes, raw=True)


def stream_path(job_id: str) -> str:
    return f"{_job(job_id)}/stream"
