"""The Execution API: the routes of ``perstack serve`` (FastAPI; OpenAPI at /openapi.json).

Every route but ``/health`` needs ``Authorization: Bearer <key>``; a key sees only its
own application's jobs (another application's job is a 404, as if it did not exist).
Errors are ``{"error": {"type", "message", "details"?}}`` with the status that fits, and
never a traceback.
"""

from __future__ import annotations

import functools
from contextlib import asynccontextmanager
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator
from starlette.exceptions import HTTPException as StarletteHTTPException

from runtime.errors import PerstackError
from runtime.server.executor_base import (
    ExecutorBase,
    JobConflict,
    ServiceUnavailable,
    UnknownExpert,
)
from runtime.server.records import JOB_STATUSES, ApiJob, ServerRecords
from runtime.server.settings import Application, ServeSettings
from runtime.server.sse import job_stream

__all__ = ["ApiError", "create_app"]


class ApiError(Exception):
    """An error the client gets as JSON with ``status``."""

    def __init__(self, status: int, type_: str, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.status, self.type, self.message, self.details = status, type_, message, details


def _error(status: int, type_: str, message: str, details: Any = None) -> JSONResponse:
    body: dict[str, Any] = {"type": type_, "message": message}
    if details is not None:
        body["details"] = details
    return JSONResponse({"error": body}, status_code=status)


# --- request bodies -------------------------------------------------------------------


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StartJob(_Body):
    applicationId: str = Field(min_length=1)  # noqa: N815 - the wire's names
    expertKey: str = Field(min_length=1)  # noqa: N815
    query: str = Field(min_length=1)
    provider: str | None = None
    model: str | None = None


class InteractiveAnswer(_Body):
    toolCallId: str  # noqa: N815
    toolName: str  # noqa: N815
    skillName: str  # noqa: N815
    text: str
    isError: bool | None = None  # noqa: N815


class ContinueJob(_Body):
    query: str | None = Field(default=None, min_length=1)
    interactiveToolCallResult: InteractiveAnswer | None = None  # noqa: N815

    @model_validator(mode="after")
    def _one_of(self) -> ContinueJob:
        if (self.query is None) == (self.interactiveToolCallResult is None):
            raise ValueError("give either query or interactiveToolCallResult")
        return self


def current_application(
    request: Request, authorization: Annotated[str | None, Header()] = None
) -> Application:
    """The application of the request's API key (401 without a valid one)."""
    scheme, _, key = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise ApiError(401, "unauthorized", "Authorization: Bearer <key> is required")
    found = request.app.state.settings.application_for_key(key.strip())
    if found is None:
        raise ApiError(401, "unauthorized", "the API key is not valid")
    return found


AppOfKey = Annotated[Application, Depends(current_application)]


def create_app(settings: ServeSettings) -> FastAPI:
    """The ASGI app serving ``settings``' applications, with the embedded executor or
    (``settings.temporal``) Temporal's workers."""
    records = ServerRecords(settings.storage_root / "server")
    executor = _executor(settings, records)

    @asynccontextmanager
    async def lifespan(app: FastAPI):  # noqa: ANN202
        await executor.start()
        yield
        await executor.shutdown()

    app = FastAPI(title="Perstack Execution API", version="1", lifespan=lifespan)
    app.state.executor = executor
    app.state.settings = settings
    _install_errors(app, settings)

    @functools.cache
    def reader() -> Any:
        """A quiet reader of the job store, opened once (a remote store keeps its client)."""
        return settings.open_storage(lambda message: None)

    def own_job(job_id: str, app_: Application) -> ApiJob:
        job = records.load(job_id) if _safe_id(job_id) else None
        if job is None or job.applicationId != app_.name:
            raise ApiError(404, "not_found", f"job {job_id} not found")
        return job

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/api/v1/application")
    async def application(app_: AppOfKey) -> dict[str, Any]:
        """The key's application: its id and the Experts it can start."""
        return {"data": {"application": _describe(app_)}}

    @app.post("/api/v1/jobs", status_code=201)
    async def start_job(body: StartJob, app_: AppOfKey) -> dict[str, Any]:
        if body.applicationId != app_.name:
            raise ApiError(404, "not_found", f"application {body.applicationId} not found")
        try:
            job = await executor.start_job(
                app_, body.expertKey, body.query, body.provider, body.model
            )
        except UnknownExpert as exc:
            raise ApiError(404, "not_found", str(exc)) from None
        except ServiceUnavailable as exc:
            raise ApiError(503, "unavailable", str(exc)) from None
        except JobConflict as exc:  # a job id Temporal still runs
            raise ApiError(409, "conflict", str(exc)) from None
        except PerstackError as exc:
            raise ApiError(400, "bad_request", str(exc)) from None
        return {"data": {"job": job.to_json()}}

    @app.get("/api/v1/jobs")
    async def list_jobs(
        app_: AppOfKey,
        applicationId: str | None = None,  # noqa: N803
        status: Literal[JOB_STATUSES] | None = None,  # type: ignore[valid-type]
        take: Annotated[int, Query(ge=1, le=1000)] = 20,
        skip: Annotated[int, Query(ge=0)] = 0,
    ) -> dict[str, Any]:
        if applicationId is not None and applicationId != app_.name:
            raise ApiError(404, "not_found", f"application {applicationId} not found")
        jobs = [j for j in records.all_jobs() if j.applicationId == app_.name]
        if status is not None:
            jobs = [j for j in jobs if j.status == status]
        page = jobs[skip : skip + take]
        return {
            "data": {"jobs": [j.to_json() for j in page]},
            "meta": {"total": len(jobs), "take": take, "skip": skip},
        }

    @app.get("/api/v1/jobs/{job_id}")
    async def get_job(job_id: str, app_: AppOfKey) -> dict[str, Any]:
        return {"data": {"job": own_job(job_id, app_).to_json()}}

    @app.post("/api/v1/jobs/{job_id}/continue", status_code=202)
    async def continue_job(job_id: str, body: ContinueJob, app_: AppOfKey) -> dict[str, Any]:
        job = own_job(job_id, app_)
        answer = None
        if body.interactiveToolCallResult is not None:
            from runtime.model import InteractiveToolCallResult

            answer = InteractiveToolCallResult.model_validate(
                body.interactiveToolCallResult.model_dump(exclude_none=True)
            )
        try:
            job = await executor.continue_job(job, app_, query=body.query, answer=answer)
        except JobConflict as exc:
            raise ApiError(409, "conflict", str(exc)) from None
        except ServiceUnavailable as exc:
            raise ApiError(503, "unavailable", str(exc)) from None
        except PerstackError as exc:
            raise ApiError(400, "bad_request", str(exc)) from None
        return {"data": {"job": job.to_json()}}

    @app.post("/api/v1/jobs/{job_id}/cancel")
    async def cancel_job(job_id: str, app_: AppOfKey) -> dict[str, Any]:
        job = own_job(job_id, app_)
        if executor.is_running(job.id):
            await executor.cancel(job)
            await executor.channels[job.id].wait_stopped()
            job = own_job(job_id, app_)
        return {"data": {"job": job.to_json()}}

    @app.get("/api/v1/jobs/{job_id}/stream")
    async def stream(
        job_id: str,
        app_: AppOfKey,
        last_event_id: Annotated[str | None, Header()] = None,
    ) -> StreamingResponse:
        job = own_job(job_id, app_)
        after = int(last_event_id) if (last_event_id or "").isdigit() else 0
        return StreamingResponse(
            job_stream(executor, records, job, after, settings.keep_alive),
            media_type="text/event-stream",
            # A stream ends its connection: a client never reuses one whose stream ended.
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no", "Connection": "close"},
        )

    # Storage is synchronous: these routes run on FastAPI's thread pool, off the event loop.
    @app.get("/api/v1/jobs/{job_id}/checkpoints")
    def checkpoints(job_id: str, app_: AppOfKey) -> dict[str, Any]:
        own_job(job_id, app_)
        storage = reader()
        found = [c.to_json_dict() for c in storage.list_checkpoints(job_id)]
        return {"data": {"checkpoints": found}}

    @app.get("/api/v1/jobs/{job_id}/checkpoints/{checkpoint_id}")
    def checkpoint(job_id: str, checkpoint_id: str, app_: AppOfKey) -> dict[str, Any]:
        own_job(job_id, app_)
        found = reader().retrieve_checkpoint(job_id, checkpoint_id)
        if found is None:
            raise ApiError(404, "not_found", f"checkpoint {checkpoint_id} not found")
        return {"data": {"checkpoint": found.to_json_dict()}}

    @functools.cache
    def files_of() -> Any:
        """Where workspaces are read: the server's folder, or the bucket the workers use."""
        from runtime.server.files import workspace_files

        return workspace_files(settings, records, reader())

    # Off the event loop too: a bucket's workspace is a request or two away.
    @app.get("/api/v1/jobs/{job_id}/files")
    def files(job_id: str, app_: AppOfKey) -> dict[str, Any]:
        own_job(job_id, app_)
        return {"data": {"files": files_of().list(job_id)}}

    @app.get("/api/v1/jobs/{job_id}/files/{path:path}")
    def file(job_id: str, path: str, app_: AppOfKey) -> Response:
        own_job(job_id, app_)
        found = files_of().read(job_id, path)
        if found is None:
            raise ApiError(404, "not_found", f"file {path} not found")
        data, media_type = found
        return Response(data, media_type=media_type)

    return app


def _executor(settings: ServeSettings, records: ServerRecords) -> ExecutorBase:
    if settings.temporal is not None:
        from runtime.server.temporal import TemporalExecutor

        return TemporalExecutor(settings, records)
    from runtime.server.executor import EmbeddedExecutor

    return EmbeddedExecutor(settings, records)


def _describe(application: Application) -> dict[str, Any]:
    from runtime.config import load_config
    from runtime.errors import ConfigError

    try:
        config = load_config(application.config_path)
    except ConfigError as exc:
        problems = list(exc.problems)
        raise ApiError(500, "config_error", problems[0], {"problems": problems}) from None
    except PerstackError as exc:
        raise ApiError(500, "config_error", str(exc)) from None
    experts = [
        {"key": key, "description": expert.description or ""}
        for key, expert in config.experts.items()
    ]
    return {"id": application.name, "experts": experts}


def _safe_id(value: str) -> bool:
    return 0 < len(value) <= 64 and value.replace("-", "").replace("_", "").isalnum()


def _install_errors(app: FastAPI, settings: ServeSettings) -> None:
    @app.middleware("http")
    async def limit_body(request: Request, call_next: Any) -> Response:
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > settings.max_body:
            return _error(413, "payload_too_large", f"the body is over {settings.max_body} bytes")
        if request.method == "POST":
            # Every body is JSON: read it as such whatever the Content-Type says (`curl -d`
            # sends a form type unless told otherwise).
            headers = [(k, v) for k, v in request.scope["headers"] if k != b"content-type"]
            request.scope["headers"] = [*headers, (b"content-type", b"application/json")]
        return await call_next(request)

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return _error(exc.status, exc.type, exc.message, exc.details)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        if any(error.get("type") == "json_invalid" for error in errors):
            return _error(400, "bad_request", "the body is not valid JSON")
        details = [
            {
                "field": ".".join(str(p) for p in error.get("loc", ()) if p != "body"),
                "message": error.get("msg", ""),
            }
            for error in errors
        ]
        first = details[0] if details else {"field": "", "message": "invalid"}
        message = f"{first['field'] or 'body'}: {first['message']}"
        return _error(422, "validation", message, details)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        kinds = {404: "not_found", 405: "method_not_allowed"}
        return _error(exc.status_code, kinds.get(exc.status_code, "http"), str(exc.detail))

    @app.exception_handler(Exception)
    async def internal(request: Request, exc: Exception) -> JSONResponse:
        return _error(500, "internal", "internal server error")
