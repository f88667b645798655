"""The Anthropic provider: the real ``anthropic`` SDK against our fake Messages API."""

from __future__ import annotations

import base64
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fake_llm_server import (
    AnthropicReply,
    ErrorReply,
    FakeLLMServer,
    StallReply,
    StreamErrorReply,
    ToolCallSpec,
)

from runtime.errors import PerstackError
from runtime.model import (
    ExpertMessage,
    FileInlinePart,
    ImageInlinePart,
    ImageUrlPart,
    InstructionMessage,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    ToolMessage,
    ToolResultPart,
    UserMessage,
)
from runtime.providers.anthropic import AnthropicProvider, create
from runtime.providers.base import GenerationRequest, ProviderError, ToolDefinition
from runtime.providers.factory import create_provider

KEY = "sk-ant-test-key"
READ_FILE = ToolDefinition(
    "readFile", "Read a file", {"type": "object", "properties": {"path": {"type": "string"}}}
)


class RecordingSink:
    def __init__(self) -> None:
        self.deltas: list[tuple[str, str]] = []

    def reasoning_delta(self, delta: str) -> None:
        self.deltas.append(("reasoning", delta))

    def text_delta(self, delta: str) -> None:
        self.deltas.append(("text", delta))

    def joined(self, kind: str) -> str:
        return "".join(d for k, d in self.deltas if k == kind)


@pytest.fixture(params=["sdk", "direct"])
def transport(request: pytest.FixtureRequest) -> str:
    """Both ways to the API: through the SDK, and the cold-start path without it."""
    return request.param


def make(env: dict[str, str], transport: str, **setting: Any) -> AnthropicProvider:
    provider = create("anthropic", setting, env, Path("."))
    provider.transport = transport  # type: ignore[assignment]
    return provider


def provider_for(server: FakeLLMServer, transport: str, **setting: Any) -> AnthropicProvider:
    env = {"ANTHROPIC_API_KEY": KEY, "ANTHROPIC_BASE_URL": server.base_url}
    return make(env, transport, **setting)


def request(
    messages: list[Any] | None = None,
    *,
    tools: list[ToolDefinition] | None = None,
    budget: str | int = "none",
    timeout_ms: int = 10_000,
    model: str = "claude-sonnet-4-6",
) -> GenerationRequest:
    if messages is None:
        messages = [
            InstructionMessage(contents=[TextPart(text="You are Perstack.")], cache=True),
            UserMessage(contents=[TextPart(text="Say hello")]),
        ]
    return GenerationRequest(
        model=model,
        messages=messages,
        tools=tools or [],
        reasoning_budget=budget,
        timeout_ms=timeout_ms,
        expert_key="greeter",
        job_id="job",
        run_id="run",
        step_number=1,
    )


async def generate(
    server: FakeLLMServer, transport: str, req: GenerationRequest, sink: Any = None
) -> Any:
    provider = provider_for(server, transport)
    try:
        return await provider.generate(req, sink or RecordingSink())
    finally:
        await provider.aclose()


async def test_text_answer_streams_and_maps_usage(
    llm_server: FakeLLMServer, transport: str
) -> None:
    llm_server.enqueue(
        AnthropicReply(
            text="Hello, world!", input_tokens=12, output_tokens=7, cache_read_input_tokens=30
        )
    )
    sink = RecordingSink()
    result = await generate(llm_server, transport, request(), sink)

    assert result.text == "Hello, world!"
    assert result.tool_calls == [] and result.thinking == []
    assert result.finish_reason == "stop"
    assert sink.joined("text") == "Hello, world!" and len(sink.deltas) > 1
    usage = result.usage
    assert (usage.input_tokens, usage.output_tokens, usage.cached_input_tokens) == (12, 7, 30)
    assert (usage.total_tokens, usage.reasoning_tokens) == (19, 0)

    [sent] = llm_server.requests
    assert sent.method == "POST" and sent.path == "/v1/messages"
    auth = (sent.headers.get("x-api-key"), sent.headers.get("authorization"))
    assert KEY in auth or f"Bearer {KEY}" in auth
    assert "anthropic-version" in sent.headers
    if transport == "sdk":
        assert sent.headers["x-stainless-retry-count"] == "0"
    body = sent.body
    assert body["stream"] is True and body["model"] == "claude-sonnet-4-6"
    assert body["system"] == [
        {"type": "text", "text": "You are Perstack.", "cache_control": {"type": "ephemeral"}}
    ]
    assert body["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "Say hello"}]}
    ]
    assert "thinking" not in body and "tools" not in body and "tool_choice" not in body
    assert body["max_tokens"] > 0


async def test_tool_call_with_thinking_keeps_the_signature(
    llm_server: FakeLLMServer, transport: str
) -> None:
    llm_server.enqueue(
        AnthropicReply(
            thinking=[("I should read the file first.", "sig-abc")],
            text="Reading it.",
            tool_calls=[ToolCallSpec("toolu_1", "readFile", '{"path": "notes/a.txt"}')],
        )
    )
    sink = RecordingSink()
    result = await generate(llm_server, transport, request(tools=[READ_FILE], budget="low"), sink)

    assert result.finish_reason == "tool-calls"
    assert [(c.id, c.name, c.args) for c in result.tool_calls] == [
        ("toolu_1", "readFile", {"path": "notes/a.txt"})
    ]
    assert [(t.thinking, t.signature) for t in result.thinking] == [
        ("I should read the file first.", "sig-abc")
    ]
    assert result.text == "Reading it."
    # Reasoning streams before the text, as the model produced it.
    assert sink.joined("reasoning") == "I should read the file first."
    assert sink.deltas.index(("text", "Read")) > max(
        i for i, (k, _) in enumerate(sink.deltas) if k == "reasoning"
    )

    body = llm_server.requests[0].body
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    assert body["max_tokens"] > 2048
    assert body["tools"] == [
        {
            "name": "readFile",
            "description": "Read a file",
            "input_schema": {"type": "object", "properties": {"path": {"type": "string"}}},
        }
    ]
    assert body["tool_choice"] == {"type": "auto"}


async def test_several_tool_calls_in_one_response(
    llm_server: FakeLLMServer, transport: str
) -> None:
    llm_server.enqueue(
        AnthropicReply(
            tool_calls=[
                ToolCallSpec("toolu_1", "readFile", '{"path": "a"}'),
                ToolCallSpec("toolu_2", "readFile", '{"path": "b"}'),
                ToolCallSpec("toolu_3", "listDirectory", ""),
            ]
        )
    )
    result = await generate(llm_server, transport, request(tools=[READ_FILE]))
    assert [(c.id, c.name, c.args) for c in result.tool_calls] == [
        ("toolu_1", "readFile", {"path": "a"}),
        ("toolu_2", "readFile", {"path": "b"}),
        ("toolu_3", "listDirectory", {}),
    ]


@pytest.mark.parametrize(
    ("budget", "tokens"),
    [
        ("minimal", 1024),
        ("low", 2048),
        ("medium", 5000),
        ("high", 10000),
        (3000, 3000),
        (40000, 40000),
    ],
)
async def test_reasoning_budget_sets_thinking_below_max_tokens(
    llm_server: FakeLLMServer, transport: str, budget: str | int, tokens: int
) -> None:
    llm_server.enqueue(AnthropicReply(text="ok"))
    await generate(llm_server, transport, request(budget=budget))
    body = llm_server.requests[0].body
    assert body["thinking"] == {"type": "enabled", "budget_tokens": tokens}
    assert body["max_tokens"] > tokens


@pytest.mark.parametrize("budget", ["none", 0])
async def test_no_thinking_when_the_budget_is_none(
    llm_server: FakeLLMServer, transport: str, budget: Any
) -> None:
    llm_server.enqueue(AnthropicReply(text="ok"))
    await generate(llm_server, transport, request(budget=budget))
    assert "thinking" not in llm_server.requests[0].body


async def test_history_maps_to_the_messages_wire_format(
    llm_server: FakeLLMServer, transport: str
) -> None:
    png = base64.b64encode(b"\x89PNG fake").decode()
    pdf = base64.b64encode(b"%PDF-1.4 fake").decode()
    text_file = base64.b64encode("plain words".encode()).decode()
    messages = [
        InstructionMessage(contents=[TextPart(text="system prompt")], cache=True),
        UserMessage(
            contents=[
                TextPart(text="Look at these"),
                ImageInlinePart(encoded_data=png, mime_type="image/png"),
                ImageUrlPart(url="https://example.com/cat.jpg", mime_type="image/jpeg"),
                FileInlinePart(encoded_data=pdf, mime_type="application/pdf"),
                FileInlinePart(encoded_data=text_file, mime_type="text/plain"),
            ]
        ),
        ExpertMessage(
            contents=[
                ToolCallPart(tool_call_id="toolu_1", tool_name="readFile", args={"path": "a"}),
                TextPart(text="Let me look."),
                ThinkingPart(thinking="hmm", signature="sig-1"),
                ThinkingPart(thinking="unsigned, from elsewhere"),
            ]
        ),
        ToolMessage(
            contents=[
                ToolResultPart(
                    tool_call_id="toolu_1", tool_name="readFile", contents=[TextPart(text="A")]
                ),
                ToolResultPart(
                    tool_call_id="toolu_2",
                    tool_name="readImageFile",
                    contents=[
                        TextPart(text="the image"),
                        ImageInlinePart(encoded_data=png, mime_type="image/png"),
                    ],
                    is_error=False,
                ),
                ToolResultPart(
                    tool_call_id="toolu_3",
                    tool_name="exec",
                    contents=[TextPart(text="boom")],
                    is_error=True,
                ),
            ]
        ),
        UserMessage(contents=[TextPart(text='{"error":"retry"}')]),
    ]
    llm_server.enqueue(AnthropicReply(text="ok"))
    await generate(llm_server, transport, request(messages))
    body = llm_server.requests[0].body
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": png}}
    assert body["messages"] == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Look at these"},
                image,
                {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
                {
                    "type": "document",
                    "source": {"type": "base64", "media_type": "application/pdf", "data": pdf},
                },
                {
                    "type": "document",
                    "source": {"type": "text", "media_type": "text/plain", "data": "plain words"},
                },
            ],
        },
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "hmm", "signature": "sig-1"},
                {"type": "text", "text": "Let me look."},
                {"type": "tool_use", "id": "toolu_1", "name": "readFile", "input": {"path": "a"}},
            ],
        },
        {
            "role": "user",  # the tool results and the next user message share one turn
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "A"},
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_2",
                    "content": [{"type": "text", "text": "the image"}, image],
                },
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_3",
                    "content": "boom",
                    "is_error": True,
                },
                {"type": "text", "text": '{"error":"retry"}'},
            ],
        },
    ]


async def test_redacted_thinking_goes_back_as_it_came(
    llm_server: FakeLLMServer, transport: str
) -> None:
    llm_server.enqueue(AnthropicReply(redacted=["opaque-blob"], text="done"))
    result = await generate(llm_server, transport, request(budget="low"))
    [part] = result.thinking
    assert part.thinking == "" and part.to_json_dict()["redactedData"] == "opaque-blob"

    answer = ExpertMessage(contents=[*result.thinking, TextPart(text="done")])
    history = [*request().messages, answer, UserMessage(contents=[TextPart(text="more")])]
    llm_server.enqueue(AnthropicReply(text="ok"))
    await generate(llm_server, transport, request(history, budget="low"))
    assistant = llm_server.requests[1].body["messages"][1]
    assert assistant["content"][0] == {"type": "redacted_thinking", "data": "opaque-blob"}


@pytest.mark.parametrize(
    ("status", "name"),
    [
        (429, "RateLimitError"),
        (500, "InternalServerError"),
        (502, "InternalServerError"),
        (503, "ServiceUnavailableError"),
        (504, "GatewayTimeoutError"),
        (529, "OverloadedError"),
    ],
)
async def test_retryable_statuses_are_retryable_and_not_retried_by_the_sdk(
    llm_server: FakeLLMServer, transport: str, status: int, name: str
) -> None:
    llm_server.enqueue(ErrorReply(status, "try later"), AnthropicReply(text="unused"))
    with pytest.raises(ProviderError) as caught:
        await generate(llm_server, transport, request())
    error = caught.value
    assert (error.name, error.status_code, error.is_retryable) == (name, status, True)
    assert error.message == "try later"
    assert len(llm_server.requests) == 1  # the SDK's own retries are off


async def test_retry_after_is_honoured(llm_server: FakeLLMServer, transport: str) -> None:
    llm_server.enqueue(ErrorReply(429, "slow down", headers={"retry-after": "7"}))
    provider = provider_for(llm_server, transport)
    with pytest.raises(ProviderError) as caught:
        await provider.generate(request(), RecordingSink())
    await provider.aclose()
    assert caught.value.retry_after == 7.0
    assert provider.retry_delay(caught.value, attempt=1) == 7.0


async def test_retry_after_ms_wins_over_retry_after(
    llm_server: FakeLLMServer, transport: str
) -> None:
    headers = {"retry-after": "7", "retry-after-ms": "250"}
    llm_server.enqueue(ErrorReply(529, "Overloaded", headers=headers))
    with pytest.raises(ProviderError) as caught:
        await generate(llm_server, transport, request())
    assert caught.value.retry_after == 0.25


async def test_bad_request_stops_without_retry(llm_server: FakeLLMServer, transport: str) -> None:
    llm_server.enqueue(ErrorReply(400, "messages: field required"))
    with pytest.raises(ProviderError) as caught:
        await generate(llm_server, transport, request())
    error = caught.value
    assert (error.name, error.status_code, error.is_retryable) == ("BadRequestError", 400, False)
    assert error.message == "messages: field required"
    assert error.retry_after is None


async def test_error_event_inside_the_stream(llm_server: FakeLLMServer, transport: str) -> None:
    llm_server.enqueue(StreamErrorReply("overloaded_error", "Overloaded"))
    with pytest.raises(ProviderError) as caught:
        await generate(llm_server, transport, request())
    error = caught.value
    assert (error.name, error.status_code, error.is_retryable) == ("OverloadedError", 529, True)
    assert error.message == "Overloaded"


async def test_a_stalled_stream_hits_the_generation_timeout(
    llm_server: FakeLLMServer, transport: str
) -> None:
    stall = StallReply(AnthropicReply(text="never finishes"), events=3)
    llm_server.enqueue(stall)
    with pytest.raises(ProviderError) as caught:
        await generate(llm_server, transport, request(timeout_ms=300))
    error = caught.value
    assert (error.name, error.message) == ("TimeoutError", "Generation timeout after 300ms")
    assert error.is_retryable
    assert stall.released.wait(timeout=5)  # the server saw the client hang up


async def test_malformed_tool_json_is_a_retryable_error(
    llm_server: FakeLLMServer, transport: str
) -> None:
    llm_server.enqueue(
        AnthropicReply(tool_calls=[ToolCallSpec("toolu_1", "readFile", '{"path": "a.txt"')])
    )
    with pytest.raises(ProviderError) as caught:
        await generate(llm_server, transport, request(tools=[READ_FILE]))
    error = caught.value
    assert error.name == "InvalidToolArgumentsError" and error.is_retryable
    assert "readFile" in error.message and '{"path": "a.txt"' in error.message


async def test_refused_connection_is_retryable(transport: str) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {"ANTHROPIC_API_KEY": KEY, "ANTHROPIC_BASE_URL": f"http://127.0.0.1:{port}"}
    provider = make(env, transport)
    with pytest.raises(ProviderError) as caught:
        await provider.generate(request(), RecordingSink())
    await provider.aclose()
    assert caught.value.name == "APIConnectionError" and caught.value.is_retryable


async def test_one_client_reuses_its_connection(llm_server: FakeLLMServer, transport: str) -> None:
    llm_server.enqueue(AnthropicReply(text="one"), AnthropicReply(text="two"))
    provider = provider_for(llm_server, transport)
    first = await provider.generate(request(), RecordingSink())
    second = await provider.generate(request(), RecordingSink())
    await provider.aclose()
    assert (first.text, second.text) == ("one", "two")
    assert llm_server.requests[0].client_port == llm_server.requests[1].client_port


async def test_setting_headers_and_base_url(llm_server: FakeLLMServer, transport: str) -> None:
    llm_server.enqueue(AnthropicReply(text="ok"))
    provider = provider_for(llm_server, transport, headers={"X-Gateway-Tenant": "team-a"})
    await provider.generate(request(), RecordingSink())
    await provider.aclose()
    assert llm_server.requests[0].headers["x-gateway-tenant"] == "team-a"


async def test_proxy_url_routes_requests_through_the_proxy(
    llm_server: FakeLLMServer, transport: str
) -> None:
    llm_server.enqueue(AnthropicReply(text="via proxy"))
    env = {
        "ANTHROPIC_API_KEY": KEY,
        "ANTHROPIC_BASE_URL": "http://api.anthropic.invalid",
        "PERSTACK_PROXY_URL": llm_server.base_url,
    }
    provider = make(env, transport)
    result = await provider.generate(request(), RecordingSink())
    await provider.aclose()
    assert result.text == "via proxy"
    assert llm_server.requests[0].target == "http://api.anthropic.invalid/v1/messages"


def test_missing_key_fails_before_any_request() -> None:
    with pytest.raises(PerstackError, match=r"^ANTHROPIC_API_KEY is not set$"):
        create_provider("anthropic", {}, {}, Path("."))


def test_toml_base_url_must_be_https_but_env_may_be_http() -> None:
    env = {"ANTHROPIC_API_KEY": KEY}
    with pytest.raises(PerstackError, match="URL must use HTTPS"):
        create("anthropic", {"baseUrl": "http://gateway.example"}, env, Path("."))
    local = {**env, "ANTHROPIC_BASE_URL": "http://localhost:8080/"}
    from_env = create("anthropic", {}, local, Path("."))
    assert from_env.base_url == "http://localhost:8080"
    both = {**env, "ANTHROPIC_BASE_URL": "http://localhost:8080"}
    assert create("anthropic", {"baseUrl": "https://gw.example"}, both, Path(".")).base_url == (
        "https://gw.example"
    )


def test_bad_headers_setting_is_a_one_line_error() -> None:
    with pytest.raises(PerstackError, match="provider.setting.headers"):
        create("anthropic", {"headers": {"X-N": 1}}, {"ANTHROPIC_API_KEY": KEY}, Path("."))


def test_the_key_never_shows_in_the_provider_repr() -> None:
    provider = create("anthropic", {}, {"ANTHROPIC_API_KEY": KEY}, Path("."))
    assert KEY not in repr(provider)


def test_importing_the_provider_does_not_import_the_sdk() -> None:
    code = (
        "import sys, runtime.providers.anthropic, runtime.providers.openai;"
        "print('anthropic' in sys.modules, 'openai' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


AUTO_SCRIPT = """
import asyncio, sys
from pathlib import Path
from runtime.model import InstructionMessage, TextPart, UserMessage
from runtime.providers import prewarm
from runtime.providers.anthropic import create
from runtime.providers.base import GenerationRequest, NullSink

async def main(url, load_sdk_after_s):
    env = {"ANTHROPIC_API_KEY": "k", "ANTHROPIC_BASE_URL": url}
    provider = create("anthropic", {}, env, Path("."))
    provider.load_sdk_after_s = load_sdk_after_s
    messages = [InstructionMessage(contents=[TextPart(text="sys")]),
                UserMessage(contents=[TextPart(text="hi")])]
    request = GenerationRequest(model="claude-sonnet-4-6", messages=messages, tools=[],
        reasoning_budget="none", timeout_ms=60000, expert_key="e", job_id="j", run_id="r",
        step_number=1)
    first = await provider.generate(request, NullSink())
    started = "anthropic" in prewarm._threads
    print("sdk import started:", started)
    if started:
        await prewarm.ensure_imported("anthropic")
    second = await provider.generate(request, NullSink())
    await provider.aclose()
    print("texts:", first.text, second.text)
    print("sdk imported:", "anthropic" in sys.modules)

asyncio.run(main(sys.argv[1], float(sys.argv[2])))
"""


def run_auto_script(server: FakeLLMServer, load_sdk_after_s: float) -> str:
    return subprocess.run(
        [sys.executable, "-c", AUTO_SCRIPT, server.base_url, str(load_sdk_after_s)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def test_cold_start_goes_direct_then_hands_over_to_the_sdk(llm_server: FakeLLMServer) -> None:
    llm_server.enqueue(AnthropicReply(text="cold"), AnthropicReply(text="warm"))
    # 0 s: any request that has to wait for its answer at all starts the SDK's import.
    out = run_auto_script(llm_server, 0)
    assert "sdk import started: True" in out and "texts: cold warm" in out
    first, second = llm_server.requests
    assert "x-stainless-lang" not in first.headers  # sent before the SDK was imported
    assert second.headers["x-stainless-lang"] == "python"  # then through the SDK
    assert first.body == second.body  # the same wire request either way
    assert first.client_port == second.client_port  # over the same connection


def test_answers_faster_than_the_threshold_never_load_the_sdk(llm_server: FakeLLMServer) -> None:
    llm_server.enqueue(AnthropicReply(text="quick"), AnthropicReply(text="again"))
    out = run_auto_script(llm_server, 3600)
    assert "sdk import started: False" in out and "texts: quick again" in out
    assert "sdk imported: False" in out  # the timer was cancelled with each answer
    assert not any("x-stainless-lang" in r.headers for r in llm_server.requests)
