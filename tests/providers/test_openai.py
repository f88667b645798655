"""OpenAI, Azure OpenAI, DeepSeek and Ollama: the real ``openai`` SDK against our fake server."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from fake_llm_server import (
    ErrorReply,
    FakeLLMServer,
    OpenAIReply,
    StallReply,
    StreamErrorReply,
    ToolCallSpec,
)

from runtime.errors import PerstackError
from runtime.model import (
    ExpertMessage,
    FileInlinePart,
    ImageInlinePart,
    InstructionMessage,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    ToolMessage,
    ToolResultPart,
    UserMessage,
)
from runtime.providers.base import GenerationRequest, ProviderError, ToolDefinition
from runtime.providers.factory import create_provider
from runtime.providers.openai import OpenAIProvider, create

KEY = "sk-openai-test-key"
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


def openai_provider(
    server: FakeLLMServer, setting: dict[str, Any] | None = None, **env: str
) -> OpenAIProvider:
    env = {"OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": f"{server.base_url}/v1", **env}
    return create("openai", setting or {}, env, Path("."))


def request(
    messages: list[Any] | None = None,
    *,
    tools: list[ToolDefinition] | None = None,
    budget: str | int = "none",
    timeout_ms: int = 10_000,
    model: str = "gpt-4.1",
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


async def run(provider: OpenAIProvider, req: GenerationRequest, sink: Any = None) -> Any:
    try:
        return await provider.generate(req, sink or RecordingSink())
    finally:
        await provider.aclose()


async def test_text_answer_streams_with_usage(llm_server: FakeLLMServer) -> None:
    llm_server.enqueue(
        OpenAIReply(
            text="Hello, world!",
            prompt_tokens=40,
            completion_tokens=9,
            cached_tokens=32,
            reasoning_tokens=3,
        )
    )
    sink = RecordingSink()
    result = await run(openai_provider(llm_server), request(budget="high"), sink)

    assert (result.text, result.finish_reason, result.tool_calls) == ("Hello, world!", "stop", [])
    assert sink.joined("text") == "Hello, world!" and len(sink.deltas) > 1
    usage = result.usage
    assert (usage.input_tokens, usage.output_tokens, usage.total_tokens) == (40, 9, 49)
    assert (usage.cached_input_tokens, usage.reasoning_tokens) == (32, 3)

    [sent] = llm_server.requests
    assert sent.path == "/v1/chat/completions"
    assert sent.headers["authorization"] == f"Bearer {KEY}"
    assert sent.headers["x-stainless-retry-count"] == "0"
    body = sent.body
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert body["messages"] == [
        {"role": "system", "content": "You are Perstack."},
        {"role": "user", "content": "Say hello"},
    ]
    # gpt-4.1 is not a reasoning model: no reasoning_effort whatever the budget.
    assert "reasoning_effort" not in body and "tools" not in body


async def test_several_tool_calls_in_one_response(llm_server: FakeLLMServer) -> None:
    llm_server.enqueue(
        OpenAIReply(
            text="Reading both.",
            tool_calls=[
                ToolCallSpec("call_a", "readFile", '{"path": "a.txt"}'),
                ToolCallSpec("call_b", "readFile", '{"path": "b.txt"}'),
                ToolCallSpec("call_c", "listDirectory", ""),
            ],
            chunk=3,
        )
    )
    result = await run(openai_provider(llm_server), request(tools=[READ_FILE]))
    assert result.finish_reason == "tool-calls" and result.text == "Reading both."
    assert [(c.id, c.name, c.args) for c in result.tool_calls] == [
        ("call_a", "readFile", {"path": "a.txt"}),
        ("call_b", "readFile", {"path": "b.txt"}),
        ("call_c", "listDirectory", {}),
    ]
    body = llm_server.requests[0].body
    assert body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "readFile",
                "parameters": {"type": "object", "properties": {"path": {"type": "string"}}},
                "description": "Read a file",
            },
        }
    ]
    assert body["tool_choice"] == "auto"


@pytest.mark.parametrize(
    ("model", "budget", "effort"),
    [
        ("o4-mini", "minimal", "low"),
        ("o3", "low", "low"),
        ("gpt-5", "medium", "medium"),
        ("gpt-5-mini", "high", "high"),
        ("gpt-5", 2048, "low"),
        ("gpt-5", 5000, "medium"),
        ("gpt-5", 9000, "high"),
        ("gpt-5", "none", None),
        ("gpt-5-chat-latest", "high", None),
    ],
)
async def test_reasoning_effort_only_for_reasoning_models(
    llm_server: FakeLLMServer, model: str, budget: str | int, effort: str | None
) -> None:
    llm_server.enqueue(OpenAIReply(text="ok"))
    await run(openai_provider(llm_server), request(model=model, budget=budget))
    body = llm_server.requests[0].body
    assert body.get("reasoning_effort") == effort
    reasoning_model = model != "gpt-5-chat-latest"
    assert body["messages"][0]["role"] == ("developer" if reasoning_model else "system")


async def test_history_maps_to_chat_messages(llm_server: FakeLLMServer) -> None:
    png = base64.b64encode(b"\x89PNG fake").decode()
    pdf = base64.b64encode(b"%PDF-1.4").decode()
    messages = [
        InstructionMessage(contents=[TextPart(text="sys")], cache=True),
        UserMessage(
            contents=[
                TextPart(text="Look"),
                ImageInlinePart(encoded_data=png, mime_type="image/png"),
                FileInlinePart(encoded_data=pdf, mime_type="application/pdf"),
            ]
        ),
        ExpertMessage(
            contents=[
                ThinkingPart(thinking="private", signature="sig"),
                TextPart(text="Calling."),
                ToolCallPart(tool_call_id="call_1", tool_name="readFile", args={"path": "a"}),
                ToolCallPart(
                    tool_call_id="call_2", tool_name="readImageFile", args={"path": "i.png"}
                ),
            ]
        ),
        ToolMessage(
            contents=[
                ToolResultPart(
                    tool_call_id="call_1", tool_name="readFile", contents=[TextPart(text="A")]
                ),
                ToolResultPart(
                    tool_call_id="call_2",
                    tool_name="readImageFile",
                    contents=[ImageInlinePart(encoded_data=png, mime_type="image/png")],
                ),
            ]
        ),
    ]
    llm_server.enqueue(OpenAIReply(text="ok"))
    await run(openai_provider(llm_server), request(messages))
    image = {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{png}"}}
    assert llm_server.requests[0].body["messages"] == [
        {"role": "system", "content": "sys"},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Look"},
                image,
                {
                    "type": "file",
                    "file": {
                        "filename": "document.pdf",
                        "file_data": f"data:application/pdf;base64,{pdf}",
                    },
                },
            ],
        },
        {
            "role": "assistant",
            "content": "Calling.",
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "readFile", "arguments": '{"path":"a"}'},
                },
                {
                    "id": "call_2",
                    "type": "function",
                    "function": {"name": "readImageFile", "arguments": '{"path":"i.png"}'},
                },
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "A"},
        {"role": "tool", "tool_call_id": "call_2", "content": "(attached below)"},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Attachments of tool result call_2 (readImageFile):"},
                image,
            ],
        },
    ]


async def test_organization_and_project_headers(llm_server: FakeLLMServer) -> None:
    llm_server.enqueue(OpenAIReply(text="ok"))
    provider = openai_provider(
        llm_server,
        {"organization": "org-from-toml", "headers": {"X-Team": "a"}},
        OPENAI_ORGANIZATION="org-from-env",
        OPENAI_PROJECT="proj-env",
    )
    await run(provider, request())
    headers = llm_server.requests[0].headers
    assert headers["openai-organization"] == "org-from-toml"  # setting beats env
    assert headers["openai-project"] == "proj-env"
    assert headers["x-team"] == "a"


async def test_deepseek_streams_reasoning_content(llm_server: FakeLLMServer) -> None:
    llm_server.enqueue(OpenAIReply(reasoning="Think, then answer.", text="42"))
    env = {"DEEPSEEK_API_KEY": "ds-key", "DEEPSEEK_BASE_URL": f"{llm_server.base_url}/v1"}
    provider = create("deepseek", {}, env, Path("."))
    sink = RecordingSink()
    result = await run(provider, request(model="deepseek-reasoner", budget="high"), sink)
    assert sink.joined("reasoning") == "Think, then answer." and result.text == "42"
    assert [(t.thinking, t.signature) for t in result.thinking] == [("Think, then answer.", None)]
    sent = llm_server.requests[0]
    assert sent.headers["authorization"] == "Bearer ds-key"
    assert "reasoning_effort" not in sent.body and "think" not in sent.body


async def test_ollama_needs_no_key_and_asks_for_thinking(llm_server: FakeLLMServer) -> None:
    llm_server.enqueue(OpenAIReply(text="local"))
    provider = create("ollama", {}, {"OLLAMA_BASE_URL": llm_server.base_url}, Path("."))
    assert provider.connection.base_url == f"{llm_server.base_url}/v1"
    result = await run(provider, request(model="gpt-oss:20b", budget="low"))
    assert result.text == "local"
    sent = llm_server.requests[0]
    assert sent.path == "/v1/chat/completions" and sent.body["think"] is True


def test_ollama_base_urls() -> None:
    assert create("ollama", {}, {}, Path(".")).connection.base_url == "http://localhost:11434/v1"
    native = create("ollama", {"baseUrl": "http://gpu-box:11434/api"}, {}, Path("."))
    assert native.connection.base_url == "http://gpu-box:11434/v1"  # TOML may say http here
    custom = create("ollama", {}, {"OLLAMA_BASE_URL": "http://proxy/ollama/v1"}, Path("."))
    assert custom.connection.base_url == "http://proxy/ollama/v1"


async def test_azure_deployment_urls(llm_server: FakeLLMServer) -> None:
    llm_server.enqueue(OpenAIReply(text="from azure"))
    env = {"AZURE_API_KEY": "az-key", "AZURE_BASE_URL": f"{llm_server.base_url}/openai"}
    provider = create_provider("azure-openai", {"useDeploymentBasedUrls": True}, env, Path("."))
    result = await run(provider, request(model="my-gpt-deployment", budget="high"))
    assert result.text == "from azure"
    sent = llm_server.requests[0]
    assert sent.path == "/openai/deployments/my-gpt-deployment/chat/completions"
    assert sent.query == "api-version=2024-10-21"
    assert sent.headers["api-key"] == "az-key"
    assert "reasoning_effort" not in sent.body


async def test_azure_v1_api_by_default(llm_server: FakeLLMServer) -> None:
    llm_server.enqueue(OpenAIReply(text="v1"))
    env = {
        "AZURE_API_KEY": "az-key",
        "AZURE_BASE_URL": f"{llm_server.base_url}/openai",
        "AZURE_API_VERSION": "preview",
    }
    await run(create("azure-openai", {}, env, Path(".")), request())
    sent = llm_server.requests[0]
    assert (sent.path, sent.query) == ("/openai/v1/chat/completions", "api-version=preview")
    assert sent.headers["authorization"] == "Bearer az-key"


def test_azure_resource_name_and_missing_settings() -> None:
    env = {"AZURE_API_KEY": "k"}
    by_resource = create("azure-openai", {"resourceName": "acme"}, env, Path("."))
    assert by_resource.connection.base_url == "https://acme.openai.azure.com/openai/v1"
    with pytest.raises(PerstackError, match=r"^AZURE_RESOURCE_NAME or baseUrl is not set$"):
        create("azure-openai", {}, env, Path("."))
    with pytest.raises(PerstackError, match=r"^AZURE_API_KEY is not set$"):
        create("azure-openai", {"resourceName": "acme"}, {}, Path("."))


@pytest.mark.parametrize(
    ("provider_name", "variable"),
    [
        ("openai", "OPENAI_API_KEY"),
        ("deepseek", "DEEPSEEK_API_KEY"),
        ("azure-openai", "AZURE_API_KEY"),
    ],
)
def test_missing_key_is_a_one_line_error(provider_name: str, variable: str) -> None:
    with pytest.raises(PerstackError, match=rf"^{variable} is not set$"):
        create_provider(provider_name, {}, {}, Path("."))


def test_toml_base_url_must_be_https() -> None:
    with pytest.raises(PerstackError, match="URL must use HTTPS"):
        create("openai", {"baseUrl": "http://gw"}, {"OPENAI_API_KEY": KEY}, Path("."))


@pytest.mark.parametrize(
    ("status", "name"),
    [
        (429, "RateLimitError"),
        (500, "InternalServerError"),
        (502, "InternalServerError"),
        (503, "InternalServerError"),
        (504, "InternalServerError"),
        (529, "InternalServerError"),
    ],
)
async def test_retryable_statuses(llm_server: FakeLLMServer, status: int, name: str) -> None:
    busy = ErrorReply(status, "busy", headers={"retry-after": "2"})
    llm_server.enqueue(busy, OpenAIReply(text="x"))
    with pytest.raises(ProviderError) as caught:
        await run(openai_provider(llm_server), request())
    error = caught.value
    assert (error.name, error.status_code, error.is_retryable, error.message) == (
        name,
        status,
        True,
        "busy",
    )
    assert error.retry_after == 2.0
    assert len(llm_server.requests) == 1  # the SDK's own retries are off


async def test_bad_request_is_not_retryable(llm_server: FakeLLMServer) -> None:
    llm_server.enqueue(ErrorReply(400, "Invalid 'messages'"))
    with pytest.raises(ProviderError) as caught:
        await run(openai_provider(llm_server), request())
    error = caught.value
    assert (error.name, error.status_code, error.is_retryable) == ("BadRequestError", 400, False)
    assert error.message == "Invalid 'messages'"


async def test_error_inside_the_stream(llm_server: FakeLLMServer) -> None:
    llm_server.enqueue(StreamErrorReply("server_error", "The server had an error"))
    with pytest.raises(ProviderError) as caught:
        await run(openai_provider(llm_server), request())
    assert caught.value.is_retryable and caught.value.message == "The server had an error"


async def test_a_stalled_stream_hits_the_generation_timeout(llm_server: FakeLLMServer) -> None:
    stall = StallReply(OpenAIReply(text="never ends"), events=2)
    llm_server.enqueue(stall)
    with pytest.raises(ProviderError) as caught:
        await run(openai_provider(llm_server), request(timeout_ms=300))
    error = caught.value
    assert (error.name, error.message) == ("TimeoutError", "Generation timeout after 300ms")
    assert caught.value.is_retryable
    assert stall.released.wait(timeout=5)


async def test_malformed_tool_json_is_a_retryable_error(llm_server: FakeLLMServer) -> None:
    llm_server.enqueue(OpenAIReply(tool_calls=[ToolCallSpec("call_1", "readFile", "{'path': 1}")]))
    with pytest.raises(ProviderError) as caught:
        await run(openai_provider(llm_server), request(tools=[READ_FILE]))
    assert caught.value.name == "InvalidToolArgumentsError" and caught.value.is_retryable


async def test_one_client_reuses_its_connection(llm_server: FakeLLMServer) -> None:
    llm_server.enqueue(OpenAIReply(text="one"), OpenAIReply(text="two"))
    provider = openai_provider(llm_server)
    texts = [(await provider.generate(request(), RecordingSink())).text for _ in range(2)]
    await provider.aclose()
    assert texts == ["one", "two"]
    assert llm_server.requests[0].client_port == llm_server.requests[1].client_port
