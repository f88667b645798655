"""The offline scripted provider: rule matching, streaming, errors and script loading."""

from __future__ import annotations

import asyncio
import tomllib
from pathlib import Path
from typing import Any

import pytest

from runtime.errors import PerstackError
from runtime.model import (
    ExpertMessage,
    InstructionMessage,
    TextPart,
    ToolCallPart,
    ToolMessage,
    ToolResultPart,
    UserMessage,
)
from runtime.providers.base import GenerationRequest, NullSink, ProviderError, ToolDefinition
from runtime.providers.factory import create_provider
from runtime.providers.scripted import ScriptedProvider, create, script_from_rules


class RecordingSink:
    """Keeps every delta, tagged with its kind, in arrival order."""

    def __init__(self) -> None:
        self.deltas: list[tuple[str, str]] = []

    def reasoning_delta(self, delta: str) -> None:
        self.deltas.append(("reasoning", delta))

    def text_delta(self, delta: str) -> None:
        self.deltas.append(("text", delta))

    def joined(self, kind: str) -> str:
        return "".join(d for k, d in self.deltas if k == kind)


class FakeSleep:
    """Records the delays asked for instead of waiting."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def history(query: str = "hello there", expert_turns: int = 0, *extra_users: str) -> list[Any]:
    """instruction + user query + ``expert_turns`` (expert, tool) message pairs."""
    messages: list[Any] = [
        InstructionMessage(contents=[TextPart(text="You are Perstack.")]),
        UserMessage(contents=[TextPart(text=query)]),
    ]
    for n in range(expert_turns):
        call_id = f"call_{n}"
        messages.append(
            ExpertMessage(
                contents=[ToolCallPart(tool_call_id=call_id, tool_name="think", args={"n": n})]
            )
        )
        messages.append(
            ToolMessage(
                contents=[
                    ToolResultPart(
                        tool_call_id=call_id,
                        tool_name="think",
                        contents=[TextPart(text="ok")],
                    )
                ]
            )
        )
    for text in extra_users:
        messages.append(UserMessage(contents=[TextPart(text=text)]))
    return messages


def request(
    expert: str = "coordinator",
    *,
    turn: int = 1,
    purpose: str = "toolCall",
    query: str = "hello there",
    messages: list[Any] | None = None,
    timeout_ms: int = 300_000,
    tools: list[ToolDefinition] | None = None,
) -> GenerationRequest:
    return GenerationRequest(
        model="scripted-model",
        messages=messages if messages is not None else history(query, turn - 1),
        tools=tools or [],
        reasoning_budget="low",
        timeout_ms=timeout_ms,
        expert_key=expert,
        job_id="job1",
        run_id="run1",
        step_number=turn,
        purpose=purpose,  # type: ignore[arg-type]
    )


def provider(*rules: dict[str, Any], sleep: FakeSleep | None = None) -> ScriptedProvider:
    built = ScriptedProvider.from_rules(list(rules))
    if sleep is None:
        return built
    return ScriptedProvider(built.script, sleep=sleep)


async def answer(p: ScriptedProvider, req: GenerationRequest) -> str:
    """The text of the answer, or ``error:<name>`` when the provider raised."""
    try:
        result = await p.generate(req, NullSink())
    except ProviderError as exc:
        return f"error:{exc.name}"
    return result.text


# ------------------------------------------------------------------------ matching


async def test_expert_matches_exactly_or_by_glob() -> None:
    p = provider(
        {"expert": "coordinator", "text": "exact"},
        {"expert": "@acme/*", "text": "glob"},
    )
    assert await answer(p, request("coordinator")) == "exact"
    assert await answer(p, request("@acme/writer")) == "glob"
    assert await answer(p, request("coordinator-2")) == "error:ScriptExhausted"


async def test_turn_counts_expert_messages_in_the_history() -> None:
    p = provider(
        {"turn": 1, "text": "first"},
        {"turn": [2, 4], "text": "two-or-four"},
        {"turn": "5-6", "text": "five-to-six"},
        {"turn": ">=8", "text": "eight-plus"},
    )
    seen = [await answer(p, request(turn=n)) for n in range(1, 10)]
    assert seen == [
        "first",
        "two-or-four",
        "error:ScriptExhausted",
        "two-or-four",
        "five-to-six",
        "five-to-six",
        "error:ScriptExhausted",
        "eight-plus",
        "eight-plus",
    ]


async def test_turn_ignores_user_messages_added_by_retries() -> None:
    # A retry appends a user message but no expert message: the turn stays the same.
    p = provider({"turn": 2, "text": "still two"})
    messages = history("q", 1, '{"error":"RateLimitError","message":"slow down"}')
    assert await answer(p, request(messages=messages)) == "still two"


async def test_turn_bounds_below() -> None:
    p = provider({"turn": "<3", "text": "early"}, {"turn": "<=4", "text": "mid"})
    assert [await answer(p, request(turn=n)) for n in (1, 2, 3, 4, 5)] == [
        "early",
        "early",
        "mid",
        "mid",
        "error:ScriptExhausted",
    ]


async def test_purpose_selects_tool_call_or_run_result_generation() -> None:
    p = provider(
        {"purpose": "runResult", "text": "final answer"},
        {"purpose": "toolCall", "text": "working"},
    )
    assert await answer(p, request(purpose="toolCall")) == "working"
    assert await answer(p, request(purpose="runResult")) == "final answer"


async def test_query_contains_looks_at_the_first_user_message_only() -> None:
    p = provider({"queryContains": "weather", "text": "sunny"}, {"text": "fallback"})
    assert await answer(p, request(query="what is the weather?")) == "sunny"
    assert await answer(p, request(query="tell me a joke")) == "fallback"
    later = history("tell me a joke", 0, "and the weather?")
    assert await answer(p, request(messages=later)) == "fallback"


async def test_first_matching_rule_wins() -> None:
    p = provider(
        {"expert": "coordinator", "turn": 1, "text": "specific"},
        {"expert": "coordinator", "text": "general"},
        {"text": "catch-all"},
    )
    assert await answer(p, request("coordinator", turn=1)) == "specific"
    assert await answer(p, request("coordinator", turn=2)) == "general"
    assert await answer(p, request("helper", turn=1)) == "catch-all"


async def test_times_limits_a_rule_per_provider_instance() -> None:
    rules = [
        {"times": 2, "error": {"name": "RateLimitError", "message": "slow", "retryable": True}},
        {"text": "recovered"},
    ]
    p = provider(*rules)
    assert [await answer(p, request()) for _ in range(3)] == [
        "error:RateLimitError",
        "error:RateLimitError",
        "recovered",
    ]
    fresh = provider(*rules)
    assert await answer(fresh, request()) == "error:RateLimitError"


async def test_unmatched_request_raises_script_exhausted_naming_the_request() -> None:
    p = provider({"expert": "someone-else", "text": "x"})
    with pytest.raises(ProviderError) as caught:
        await p.generate(request("coordinator", turn=3, purpose="runResult"), NullSink())
    assert caught.value.name == "ScriptExhausted"
    assert not caught.value.is_retryable
    assert str(caught.value) == (
        "No scripted answer for expert coordinator, turn 3, purpose runResult in [provider.setting]"
    )


# ------------------------------------------------------------------------- answers


async def test_streams_reasoning_then_text_and_returns_the_whole_answer() -> None:
    p = provider(
        {"reasoning": "Let me think  about it", "signature": "sig", "text": "Hello, big world!"}
    )
    sink = RecordingSink()
    result = await p.generate(request(), sink)
    # Default chunks: each word with the whitespace after it, reasoning first.
    assert sink.deltas == [
        ("reasoning", "Let "),
        ("reasoning", "me "),
        ("reasoning", "think  "),
        ("reasoning", "about "),
        ("reasoning", "it"),
        ("text", "Hello, "),
        ("text", "big "),
        ("text", "world!"),
    ]
    assert result.text == "Hello, big world!"
    assert [(t.thinking, t.signature) for t in result.thinking] == [
        ("Let me think  about it", "sig")
    ]
    assert result.tool_calls == []
    assert result.finish_reason == "stop"


async def test_chunk_size_streams_fixed_size_deltas_keeping_all_whitespace() -> None:
    p = provider({"text": "  abc defg\n", "chunkSize": 3})
    sink = RecordingSink()
    await p.generate(request(), sink)
    assert sink.deltas == [("text", "  a"), ("text", "bc "), ("text", "def"), ("text", "g\n")]


async def test_leading_whitespace_survives_default_chunking() -> None:
    p = provider({"text": "\n  indented  text \n"})
    sink = RecordingSink()
    await p.generate(request(), sink)
    assert sink.joined("text") == "\n  indented  text \n"
    assert len(sink.deltas) == 2


async def test_tool_calls_with_given_and_fresh_ids() -> None:
    p = provider(
        {
            "toolCalls": [
                {"name": "readTextFile", "args": {"path": "notes.txt"}, "id": "call_1"},
                {"name": "listDirectory", "args": {"path": "."}},
            ]
        }
    )
    first = await p.generate(request(), NullSink())
    second = await p.generate(request(), NullSink())
    assert [(c.id, c.name, c.args) for c in first.tool_calls[:1]] == [
        ("call_1", "readTextFile", {"path": "notes.txt"})
    ]
    assert first.tool_calls[1].name == "listDirectory"
    assert first.tool_calls[1].args == {"path": "."}
    fresh_ids = {first.tool_calls[1].id, second.tool_calls[1].id}
    assert len(fresh_ids) == 2 and all(fresh_ids)
    assert first.finish_reason == "tool-calls"
    assert first.text == "" and first.thinking == []


async def test_args_are_copied_so_consumers_cannot_change_the_script() -> None:
    p = provider({"toolCalls": [{"name": "write", "args": {"lines": ["a"]}}]})
    first = await p.generate(request(), NullSink())
    first.tool_calls[0].args["lines"].append("b")
    second = await p.generate(request(), NullSink())
    assert second.tool_calls[0].args == {"lines": ["a"]}


async def test_finish_reason_override() -> None:
    p = provider({"toolCalls": [{"name": "x"}], "finishReason": "length"})
    result = await p.generate(request(), NullSink())
    assert result.finish_reason == "length"
    assert result.tool_calls[0].args == {}


async def test_rule_with_no_output_gives_an_empty_result() -> None:
    p = provider({"expert": "coordinator"})
    sink = RecordingSink()
    result = await p.generate(request(), sink)
    assert (result.text, result.thinking, result.tool_calls, result.finish_reason) == (
        "",
        [],
        [],
        "stop",
    )
    assert sink.deltas == []


async def test_explicit_usage_is_used_and_totalled() -> None:
    p = provider({"text": "hi", "usage": {"inputTokens": 10, "outputTokens": 5}})
    usage = (await p.generate(request(), NullSink())).usage
    assert (usage.input_tokens, usage.output_tokens, usage.total_tokens) == (10, 5, 15)


async def test_estimated_usage_grows_with_the_history_and_the_answer() -> None:
    tools = [ToolDefinition("readTextFile", "Read a file", {"type": "object"}, "@perstack/base")]
    p = provider({"text": "x" * 40, "reasoning": "y" * 8})
    short = (await p.generate(request(turn=1, tools=tools), NullSink())).usage
    long = (await p.generate(request(turn=6, tools=tools), NullSink())).usage
    assert short.output_tokens == 12  # (40 + 8) chars / 4
    assert short.reasoning_tokens == 2
    assert long.input_tokens > short.input_tokens > 0
    assert long.total_tokens == long.input_tokens + long.output_tokens
    without_tools = (await p.generate(request(turn=1), NullSink())).usage
    assert without_tools.input_tokens < short.input_tokens


async def test_usage_fields_left_out_are_estimated() -> None:
    p = provider({"text": "abcdefgh", "usage": {"inputTokens": 100}})
    usage = (await p.generate(request(), NullSink())).usage
    assert (usage.input_tokens, usage.output_tokens, usage.total_tokens) == (100, 2, 102)


# -------------------------------------------------------------------------- errors


async def test_error_rule_raises_a_provider_error_with_every_field() -> None:
    p = provider(
        {
            "error": {
                "name": "RateLimitError",
                "message": "Too many requests",
                "statusCode": 429,
                "retryable": True,
                "retryAfterMs": 1500,
            }
        }
    )
    with pytest.raises(ProviderError) as caught:
        await p.generate(request(), NullSink())
    error = caught.value
    assert (error.name, error.message, error.status_code, error.is_retryable) == (
        "RateLimitError",
        "Too many requests",
        429,
        True,
    )
    assert p.retry_delay(error, 1) == 1.5


async def test_retries_are_instant_without_retry_after() -> None:
    p = provider({"error": {"name": "APIError", "retryable": True}})
    with pytest.raises(ProviderError) as caught:
        await p.generate(request(), NullSink())
    assert caught.value.message == "Scripted error"
    assert caught.value.status_code is None
    assert [p.retry_delay(caught.value, n) for n in (1, 2, 5)] == [0.0, 0.0, 0.0]


async def test_error_after_streamed_text_models_a_dropped_stream() -> None:
    p = provider({"text": "partial answer", "error": {"name": "APIConnectionError"}})
    sink = RecordingSink()
    with pytest.raises(ProviderError):
        await p.generate(request(), sink)
    assert sink.joined("text") == "partial answer"


# --------------------------------------------------------------------------- delays


async def test_delay_is_awaited_before_answering() -> None:
    sleep = FakeSleep()
    p = provider({"delayMs": 1000, "text": "late"}, sleep=sleep)
    assert (await p.generate(request(), NullSink())).text == "late"
    assert sleep.calls == [1.0]


async def test_chunk_delay_is_awaited_after_each_delta() -> None:
    sleep = FakeSleep()
    p = provider({"reasoning": "a b", "text": "c", "chunkDelayMs": 20}, sleep=sleep)
    await p.generate(request(), NullSink())
    assert sleep.calls == [0.02, 0.02, 0.02]


async def test_delay_longer_than_the_timeout_fails_like_a_timeout() -> None:
    sleep = FakeSleep()
    p = provider({"delayMs": 5000, "text": "too late"}, sleep=sleep)
    with pytest.raises(ProviderError) as caught:
        await p.generate(request(timeout_ms=2000), NullSink())
    assert caught.value.name == "TimeoutError"
    assert caught.value.is_retryable
    assert "timed out" in caught.value.message
    assert sleep.calls == [2.0]


async def test_delay_is_cancellable() -> None:
    p = provider({"delayMs": 3_600_000, "text": "never"})
    sink = RecordingSink()
    task = asyncio.create_task(p.generate(request(timeout_ms=0), sink))
    while not p.requests:  # the request is recorded before the provider starts waiting
        await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert not task.done()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert sink.deltas == []


# ----------------------------------------------------------------------- recording


async def test_every_request_is_recorded_in_order() -> None:
    p = provider({"expert": "coordinator", "text": "ok"})
    first, second, unanswered = request(turn=1), request(turn=2), request("stranger")
    await p.generate(first, NullSink())
    await p.generate(second, NullSink())
    with pytest.raises(ProviderError):
        await p.generate(unanswered, NullSink())
    assert p.requests == [first, second, unanswered]
    assert p.requests[0] is first


# ------------------------------------------------------------ loading and settings


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


SCRIPT = """\
[[rules]]
expert = "coordinator"
turn = 1
[[rules.toolCalls]]
name = "readTextFile"
args = { path = "notes.txt" }

[[rules]]
purpose = "runResult"
text = "Done."
"""


async def test_create_loads_the_script_relative_to_the_config_directory(tmp_path: Path) -> None:
    write(tmp_path, "demo.toml", SCRIPT)
    p = create("scripted", {"script": "demo.toml"}, {}, tmp_path)
    first = await p.generate(request(turn=1), NullSink())
    assert [(c.name, c.args) for c in first.tool_calls] == [("readTextFile", {"path": "notes.txt"})]
    assert (await p.generate(request(turn=2, purpose="runResult"), NullSink())).text == "Done."


async def test_factory_builds_the_scripted_provider(tmp_path: Path) -> None:
    write(tmp_path, "demo.toml", SCRIPT)
    p = create_provider("scripted", {"script": "demo.toml"}, {}, tmp_path)
    assert isinstance(p, ScriptedProvider)
    assert p.name == "scripted"


async def test_json_scripts(tmp_path: Path) -> None:
    write(tmp_path, "demo.json", '{"rules": [{"turn": ">=1", "text": "from json"}]}')
    p = create("scripted", {"script": "demo.json"}, {}, tmp_path)
    assert (await p.generate(request(), NullSink())).text == "from json"


async def test_inline_rules(tmp_path: Path) -> None:
    p = create("scripted", {"rules": [{"expert": "coordinator", "text": "inline"}]}, {}, tmp_path)
    assert (await p.generate(request(), NullSink())).text == "inline"


async def test_inline_rules_from_tomlkit_values(tmp_path: Path) -> None:
    # The config loader may hand over tomlkit items (int/str/dict subclasses).
    import tomlkit

    setting = tomlkit.parse('rules = [{ turn = 1, text = "kit", times = 1 }]')
    p = create("scripted", dict(setting), {}, tmp_path)
    assert (await p.generate(request(), NullSink())).text == "kit"


def test_script_from_rules_round_trips(tmp_path: Path) -> None:
    rules = [
        {
            "expert": "coordinator",
            "turn": 1,
            "reasoning": "Read it first",
            "toolCalls": [{"name": "readTextFile", "args": {"path": "a.txt", "from": 1}}],
            "usage": {"inputTokens": 10, "outputTokens": 5},
        },
        {"turn": "2-3", "times": 1, "error": {"name": "RateLimitError", "retryable": True}},
        {"purpose": "runResult", "text": 'multi\nline "quoted"'},
    ]
    text = script_from_rules(rules)
    assert tomllib.loads(text) == {"rules": rules}
    assert "args = {" in text and "[rules.error]" in text
    loaded = ScriptedProvider.from_file(write(tmp_path, "made.toml", text))
    assert len(loaded.script.rules) == 3


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        ({}, 'needs [provider.setting] script = "<file>" or inline rules'),
        ({"script": "a.toml", "rules": []}, "either [provider.setting] script or rules"),
        ({"script": 3}, "script must be a file path"),
        ({"rules": {"text": "x"}}, "rules must be an array of rule tables"),
        ({"rules": []}, "[provider.setting]: rules: the script has no rules"),
    ],
)
def test_bad_settings(tmp_path: Path, setting: dict[str, Any], expected: str) -> None:
    with pytest.raises(PerstackError) as caught:
        create("scripted", setting, {}, tmp_path)
    assert expected in str(caught.value)


def load_error(tmp_path: Path, name: str, text: str | bytes) -> str:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    with pytest.raises(PerstackError) as caught:
        create("scripted", {"script": name}, {}, tmp_path)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_missing_script_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(PerstackError) as caught:
        create("scripted", {"script": "nowhere.toml"}, {}, tmp_path)
    path = tmp_path / "nowhere.toml"
    assert str(caught.value) == (
        f"Cannot read scripted provider script {path}: No such file or directory"
    )


def test_script_that_is_not_utf8(tmp_path: Path) -> None:
    message = load_error(tmp_path, "bin.toml", b"\xff\xfe text = 1")
    assert message == f"Scripted provider script {tmp_path / 'bin.toml'} is not UTF-8 text"


def test_bad_toml_names_file_and_line(tmp_path: Path) -> None:
    message = load_error(tmp_path, "bad.toml", '[[rules]]\ntext = "ok"\n\nturn = = 2\n')
    assert message.startswith(f"{tmp_path / 'bad.toml'}:4: invalid TOML")


def test_bad_json_names_file_and_line(tmp_path: Path) -> None:
    message = load_error(tmp_path, "bad.json", '{"rules": [\n  {"text": "x",}\n]}')
    assert message.startswith(f"{tmp_path / 'bad.json'}:2: invalid JSON")


def test_unknown_field_names_rule_index_field_and_line(tmp_path: Path) -> None:
    text = SCRIPT + '\n[[rules]]\nexpert = "helper"\nturnn = 3\n'
    message = load_error(tmp_path, "typo.toml", text)
    assert message.startswith(f"{tmp_path / 'typo.toml'}:14: rules[2].turnn: unknown field")
    assert "queryContains" in message  # the allowed fields are listed


def test_wrong_type_names_rule_index_field_and_line(tmp_path: Path) -> None:
    text = '[[rules]]\ntext = "a"\n\n[[rules]]\nexpert = "x"\ntimes = "2"\n'
    message = load_error(tmp_path, "types.toml", text)
    assert message == (
        f"{tmp_path / 'types.toml'}:6: rules[1].times: Input should be a valid integer"
    )


def test_bad_turn_spec(tmp_path: Path) -> None:
    message = load_error(tmp_path, "turn.toml", '[[rules]]\nturn = "soon"\n')
    assert message.startswith(f"{tmp_path / 'turn.toml'}:2: rules[0].turn: turn must be")


def test_misspelt_required_field_is_reported_as_unknown(tmp_path: Path) -> None:
    text = '[[rules]]\n[[rules.toolCalls]]\nnmae = "a"\n'
    message = load_error(tmp_path, "nmae.toml", text)
    assert message == (
        f"{tmp_path / 'nmae.toml'}:3: rules[0].toolCalls[0].nmae: unknown field \"nmae\" "
        "(expected one of: name, args, id)"
    )


def test_error_in_a_tool_call_points_at_its_table(tmp_path: Path) -> None:
    text = (
        "[[rules]]\n"
        "[[rules.toolCalls]]\n"
        'name = "a"\n'
        "[[rules.toolCalls]]\n"
        "args = { path = 1 }\n"
    )
    message = load_error(tmp_path, "calls.toml", text)
    assert message == (
        f"{tmp_path / 'calls.toml'}:4: rules[0].toolCalls[1].name: required field missing"
    )


def test_error_table_field_points_at_its_line(tmp_path: Path) -> None:
    text = '[[rules]]\ntext = "x"\n[rules.error]\nname = "E"\nstatusCode = "429"\n'
    message = load_error(tmp_path, "err.toml", text)
    assert message.startswith(f"{tmp_path / 'err.toml'}:5: rules[0].error.statusCode:")


def test_error_combined_with_tool_calls_is_refused(tmp_path: Path) -> None:
    text = '[[rules]]\n[[rules.toolCalls]]\nname = "a"\n[rules.error]\nname = "E"\n'
    message = load_error(tmp_path, "mix.toml", text)
    assert "rules[0].error: an error answer cannot also set toolCalls" in message


def test_unknown_top_level_key_catches_a_misspelt_rules_table(tmp_path: Path) -> None:
    message = load_error(tmp_path, "rule.toml", '[[rule]]\ntext = "x"\n')
    assert 'rule: unknown field "rule" (expected one of: rules)' in message


def test_json_schema_errors_name_the_rule(tmp_path: Path) -> None:
    message = load_error(tmp_path, "s.json", '{"rules": [{"text": "a"}, {"purpose": "final"}]}')
    assert message.startswith(f"{tmp_path / 's.json'}: rules[1].purpose: Input should be")
