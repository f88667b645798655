"""The client against ``httpx2.MockTransport``: requests sent, results read, every error."""

from __future__ import annotations

import asyncio
import json
import logging

import httpx2
import pytest

from runtime.client import (
    ClientError,
    Job,
    PerstackClient,
    PerstackClientError,
    Result,
    SyncPerstackClient,
)
from runtime.client._sse import SSEDecoder

KEY = "sk-unit-secret-42"
BASE = "http://perstack.test"


def job_json(job_id: str = "job-1", **fields) -> dict:
    return {
        "id": job_id, "applicationId": "default", "expertKey": "writer", "status": "running",
        "createdAt": 1, "updatedAt": 2, "totalSteps": 0,
        "usage": {"inputTokens": 1, "outputTokens": 2, "reasoningTokens": 3, "totalTokens": 6,
                  "cachedInputTokens": 0},
        **fields,
    }  # fmt: skip


class Recorder:
    """A MockTransport handler answering from a function, remembering each request."""

    def __init__(self, answer) -> None:
        self.answer = answer
        self.requests: list[httpx2.Request] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        return self.answer(request)


def client_for(answer, **kwargs) -> tuple[PerstackClient, Recorder]:
    recorder = Recorder(answer)
    kwargs.setdefault("stream_backoff", 0)
    client = PerstackClient(BASE, api_key=KEY, transport=httpx2.MockTransport(recorder), **kwargs)
    return client, recorder


def ok(body, status: int = 200) -> httpx2.Response:
    return httpx2.Response(status, json=body)


# --- requests ------------------------------------------------------------------------


async def test_start_sends_the_documented_request_and_reads_the_job() -> None:
    client, recorder = client_for(lambda r: ok({"data": {"job": job_json(extra=1)}}, 201))
    async with client:
        result = await client.jobs.start(
            application_id="default", expert_key="writer", query="hi", model="m1"
        )
    assert result.ok and result.error is None
    job = result.data
    assert isinstance(job, Job)
    assert (job.id, job.application_id, job.expert_key, job.status) == (
        "job-1", "default", "writer", "running",
    )  # fmt: skip
    assert (job.created_at, job.updated_at, job.total_steps) == (1, 2, 0)
    assert job.usage.reasoning_tokens == 3 and job.usage.total_tokens == 6
    assert job.raw["extra"] == 1
    (request,) = recorder.requests
    assert request.method == "POST" and request.url == f"{BASE}/api/v1/jobs"
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.headers["content-type"] == "application/json"
    assert json.loads(request.content) == {
        "applicationId": "default", "expertKey": "writer", "query": "hi", "model": "m1",
    }  # fmt: skip


async def test_list_sends_only_given_filters_and_reads_the_page() -> None:
    body = {"data": {"jobs": [job_json("b"), job_json("a")]}, "meta": {"total": 7, "take": 2, "skip": 4}}
    client, recorder = client_for(lambda r: ok(body))
    result = await client.jobs.list(status="completed", take=2, skip=4)
    assert [j.id for j in result.data.jobs] == ["b", "a"]
    assert (result.data.total, result.data.take, result.data.skip) == (7, 2, 4)
    assert dict(recorder.requests[0].url.params) == {"status": "completed", "take": "2", "skip": "4"}


async def test_ids_and_file_paths_are_percent_encoded() -> None:
    client, recorder = client_for(lambda r: httpx2.Response(200, content=b"\x00bytes"))
    result = await client.jobs.file("a/b c", "notes/my file.md")
    assert result.data == b"\x00bytes"
    assert recorder.requests[0].url.raw_path == b"/api/v1/jobs/a%2Fb%20c/files/notes/my%20file.md"
    with pytest.raises(ValueError):
        await client.jobs.file("job", "../secret")
    with pytest.raises(ValueError):
        await client.jobs.get("")


async def test_continue_takes_exactly_one_of_query_and_tool_result() -> None:
    client, recorder = client_for(lambda r: ok({"data": {"job": job_json()}}, 202))
    tool = {"toolCallId": "t1", "toolName": "ask", "skillName": "base", "text": "yes"}
    assert (await client.jobs.continue_("job-1", interactive_tool_call_result=tool)).ok
    assert json.loads(recorder.requests[0].content) == {"interactiveToolCallResult": tool}
    assert recorder.requests[0].url.path == "/api/v1/jobs/job-1/continue"
    with pytest.raises(ValueError):
        await client.jobs.continue_("job-1")
    with pytest.raises(ValueError):
        await client.jobs.continue_("job-1", query="q", interactive_tool_call_result=tool)
    with pytest.raises(ValueError, match="text"):
        await client.jobs.continue_("job-1", interactive_tool_call_result={"toolCallId": "t"})


def test_a_base_url_with_the_api_prefix_is_not_doubled() -> None:
    assert PerstackClient(f"{BASE}/api/v1/").base_url == BASE


# --- errors --------------------------------------------------------------------------


@pytest.mark.parametrize("status,code", [(400, "badRequest"), (401, "unauthorized"),
                                         (404, "notFound"), (409, "conflict"),
                                         (413, "payloadTooLarge"), (422, "validation")])  # fmt: skip
async def test_a_non_2xx_answer_is_an_http_error_with_the_servers_fields(status, code) -> None:
    body = {"error": {"type": code, "message": f"it is {code}", "details": {"field": "query"}}}
    client, _ = client_for(lambda r: ok(body, status))
    result = await client.jobs.get("job-1")
    assert not result.ok and result.data is None
    assert result.error == ClientError(
        type="http", message=f"it is {code}", status=status, code=code,
        details={"field": "query"},
    )  # fmt: skip


async def test_an_error_body_that_is_not_json_still_gives_the_status() -> None:
    client, _ = client_for(lambda r: httpx2.Response(502, text="<html>bad gateway</html>"))
    error = (await client.jobs.get("job-1")).error
    assert (error.type, error.status, error.code) == ("http", 502, None)
    assert "502" in error.message


@pytest.mark.parametrize(
    "body,field",
    [
        ({"data": {"job": {**job_json(), "id": None}}}, "data.job.id"),
        ({"data": {"job": {k: v for k, v in job_json().items() if k != "usage"}}}, "data.job.usage"),
        ({"data": {"job": job_json(status="exploded")}}, "data.job.status"),
        ({"data": {"job": job_json(createdAt=True)}}, "data.job.createdAt"),
        ({"data": {}}, "data.job"),
        ({"job": job_json()}, "body.data"),
        ([1, 2], "body"),
    ],
)
async def test_a_body_that_breaks_the_schema_is_a_validation_error(body, field) -> None:
    client, _ = client_for(lambda r: ok(body))
    result = await client.jobs.get("job-1")
    assert result.error.type == "validation"
    assert result.error.details == {"field": field}
    assert field in result.error.message


async def test_a_success_body_that_is_not_json_is_a_validation_error() -> None:
    client, _ = client_for(lambda r: httpx2.Response(200, text="not json"))
    assert (await client.jobs.files("job-1")).error.type == "validation"


@pytest.mark.parametrize(
    "exc,type_",
    [
        (httpx2.ConnectError("refused"), "network"),
        (httpx2.ReadError("reset"), "network"),
        (httpx2.RemoteProtocolError("bad"), "network"),
        (httpx2.ConnectTimeout("slow"), "timeout"),
        (httpx2.ReadTimeout("slow"), "timeout"),
    ],
)
async def test_transport_failures_are_network_or_timeout_errors(exc, type_) -> None:
    def fail(request):
        raise exc

    client, _ = client_for(fail)
    result = await client.jobs.cancel("job-1")
    assert result.error.type == type_ and result.error.status is None


async def test_other_exceptions_are_not_swallowed() -> None:
    def fail(request):
        raise RuntimeError("a bug")

    client, _ = client_for(fail)
    with pytest.raises(RuntimeError, match="a bug"):
        await client.jobs.get("job-1")


async def test_the_api_key_never_shows_in_reprs_errors_or_logs(caplog) -> None:
    def echo(request):
        if request.url.path.endswith("/net"):
            raise httpx2.ConnectError(f"cannot reach with {request.headers['authorization']}")
        return ok({"error": {"type": "x", "message": f"bad key {KEY}"}}, 401)

    caplog.set_level(logging.DEBUG)
    client, _ = client_for(echo)
    assert KEY not in repr(client) and KEY not in repr(client.jobs._config)
    http = await client.jobs.get("job-1")
    network = await client.jobs.get("net")
    for result in (http, network):
        assert KEY not in result.error.message and KEY not in repr(result)
        assert KEY not in str(PerstackClientError(result.error))
    assert "***" in http.error.message and "***" in network.error.message
    assert KEY not in caplog.text


# --- abort ---------------------------------------------------------------------------


async def test_setting_the_signal_aborts_a_pending_call() -> None:
    arrived, signal = asyncio.Event(), asyncio.Event()

    async def hang(request):
        arrived.set()
        await asyncio.Event().wait()  # never answers

    client = PerstackClient(BASE, api_key=KEY, transport=httpx2.MockTransport(hang))
    call = asyncio.ensure_future(client.jobs.get("job-1", signal=signal))
    await arrived.wait()
    signal.set()
    result = await call
    assert result.error.type == "abort"
    already = await client.jobs.get("job-1", signal=signal)  # set before: not even sent
    assert already.error.type == "abort"


async def test_cancelling_the_callers_task_propagates_cancelled_error() -> None:
    arrived = asyncio.Event()

    async def hang(request):
        arrived.set()
        await asyncio.Event().wait()

    client = PerstackClient(BASE, transport=httpx2.MockTransport(hang))
    for signal in (None, asyncio.Event()):
        arrived.clear()
        task = asyncio.ensure_future(client.jobs.get("job-1", signal=signal))
        await arrived.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


# --- results and sse -----------------------------------------------------------------


def test_unwrap_gives_the_data_or_raises_with_the_error() -> None:
    assert Result.success(3).unwrap() == 3
    error = ClientError(type="timeout", message="slow")
    with pytest.raises(PerstackClientError) as info:
        Result.failure(error).unwrap()
    assert info.value.error is error


def test_the_sse_decoder_follows_the_event_stream_rules() -> None:
    decoder = SSEDecoder()
    lines = [": keep-alive", "", "event: message", "id: 7", "data: {\"a\":", "data:1}", "",
             "data: plain", "retry: 10", "", "event: complete", "data:x\r", "", "data: cut"]  # fmt: skip
    frames = [f for f in (decoder.feed(line) for line in lines) if f is not None]
    assert [(f.event, f.data, f.id) for f in frames] == [
        ("message", '{"a":\n1}', "7"), ("message", "plain", None), ("complete", "x", None),
    ]  # fmt: skip


# --- the sync twin -------------------------------------------------------------------


def test_the_sync_client_reads_the_same_results_and_errors() -> None:
    def answer(request):
        if request.url.path == "/api/v1/jobs/gone":
            return ok({"error": {"type": "notFound", "message": "no such job"}}, 404)
        if request.url.path == "/api/v1/jobs/down":
            raise httpx2.ConnectError("refused")
        if request.url.path == "/api/v1/jobs/slow":
            raise httpx2.ReadTimeout("slow")
        if request.url.path == "/api/v1/jobs/bad":
            return ok({"data": {"job": {"id": 1}}})
        return ok({"data": {"job": job_json()}})

    import threading

    with SyncPerstackClient(BASE, api_key=KEY, transport=httpx2.MockTransport(answer)) as client:
        assert client.jobs.get("job-1").data.id == "job-1"
        assert (client.jobs.get("gone").error.status, client.jobs.get("gone").error.code) == (
            404, "notFound",
        )  # fmt: skip
        assert client.jobs.get("down").error.type == "network"
        assert client.jobs.get("slow").error.type == "timeout"
        assert client.jobs.get("bad").error.details == {"field": "data.job.id"}
        signal = threading.Event()
        signal.set()
        assert client.jobs.get("job-1", signal=signal).error.type == "abort"
        assert KEY not in repr(client)
