"""The timeline rows derived from real event streams (runtime/views/activity.py)."""

from __future__ import annotations

from pathlib import Path

from runtime.cli.run import interactive_answer
from runtime.views.activity import ActivityLog, EventRef, short_args, slim_event
from runtime.views.runtree import ROOT
from tests.runtime.activity_helpers import PARALLEL_RULES, call, job_events, usage


def feed_all(events) -> ActivityLog:
    log = ActivityLog()
    for event in events:
        log.feed(event)
    return log


def summary(log: ActivityLog) -> list[tuple[str, int, str, str]]:
    return [(row.kind, row.depth, row.expert_key, row.status) for row in log.rows]


async def test_a_tool_step_then_completion(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello notes")
    rules = [
        {
            "expert": "lead",
            "turn": 1,
            "reasoning": "Read the notes first.",
            "usage": usage(100, 10),
            "toolCalls": [call("readTextFile", path="notes.txt")],
        },
        {"expert": "lead", "turn": 2, "usage": usage(150, 5), "toolCalls": [call("attemptCompletion")]},
        {"expert": "lead", "purpose": "runResult", "text": "The notes say hello.", "usage": usage(160, 8)},
    ]
    events, final, _ = await job_events(tmp_path, rules, query="Summarise my notes")
    log = feed_all(events)

    assert summary(log) == [
        ("query", 0, "lead", "done"),
        ("reasoning", 0, "lead", "done"),
        ("tool", 0, "lead", "done"),
        ("tool", 0, "lead", "done"),
        ("completion", 0, "lead", "done"),
    ]
    query, reasoning, read, attempt, completion = log.rows
    assert query.label == "Summarise my notes" and query.step == 1
    assert reasoning.text == "Read the notes first."
    assert read.label == "readTextFile path=notes.txt"
    assert read.tool_name == "readTextFile" and read.skill_name == "@perstack/base"
    assert "hello notes" in (read.result or "")
    assert read.finished_ms is not None and read.finished_ms >= read.started_ms
    assert attempt.label == "attemptCompletion" and attempt.step == 2
    assert completion.text == "The notes say hello." and completion.step == 2
    # Every generation's tokens are counted once, on the first row it produced.
    assert [row.tokens for row in log.rows] == [None, None, 110, 155, 168]
    assert sum(row.tokens or 0 for row in log.rows) == final.usage.total_tokens
    # The messages sent for the tool rows are the step's startGeneration.
    assert read.generation is not None and read.generation.type == "startGeneration"
    assert read.generation.step == 1 and attempt.generation.step == 2


async def test_parallel_delegation_rows_and_answers(tmp_path: Path) -> None:
    events, final, _ = await job_events(tmp_path, PARALLEL_RULES)
    log = feed_all(events)
    delegates = [row for row in log.rows if row.kind == "delegate"]
    assert [row.label for row in delegates] == ["alpha: Do A", "beta: Do B"]
    assert [row.status for row in delegates] == ["done", "done"]
    assert [row.result for row in delegates] == ["A is done", "B is done"]
    # The children's rows are indented one level and belong to their delegation's node.
    children = [row for row in log.rows if row.expert_key in ("alpha", "beta")]
    assert {row.depth for row in children} == {1}
    assert {row.node_id for row in children} == {row.tool_call_id for row in delegates}
    assert {row.node_id for row in log.rows if row.expert_key == "lead"} == {ROOT}
    # Each child starts with its query; the parent's resumption asks nothing new.
    assert [row.label for row in log.rows if row.kind == "query"] == ["Go", "Do A", "Do B"]
    assert log.rows[-1].kind == "completion" and log.rows[-1].text == "All done."
    assert sum(row.tokens or 0 for row in log.rows) == final.usage.total_tokens


async def test_the_final_answer_is_the_coordinators_and_a_follow_up_replaces_it(
    tmp_path: Path,
) -> None:
    events, final, storage = await job_events(tmp_path, PARALLEL_RULES)
    log = ActivityLog()
    answers_seen = []
    for event in events:
        log.feed(event)
        answers_seen.append(log.final_answer)
    # The delegates' answers are not the job's: it has none until the lead completes.
    done = next(i for i, e in enumerate(events) if e.type == "completeRun" and e.expert_key == "lead")
    assert sum(e.type == "completeRun" for e in events[:done]) == 2  # alpha's and beta's
    assert answers_seen[:done] == [None] * done
    assert log.final_answer is log.rows[-1]
    assert log.final_answer.text == "All done." and log.final_answer.expert_key == "lead"

    # A follow-up query: no answer while it runs, then the new one.
    rules = [{"expert": "lead", "text": "Still done."}]
    more, _, _ = await job_events(
        tmp_path, rules, storage=storage, checkpoint=final, query="And now?"
    )
    first_query = next(i for i, e in enumerate(more) if log.feed(e) and log.final_answer is None)
    assert more[first_query].type == "startRun"
    for event in more[first_query + 1 :]:
        log.feed(event)
    assert log.final_answer is not None and log.final_answer.text == "Still done."


async def test_a_failing_delegate_marks_its_delegation_failed(tmp_path: Path) -> None:
    rules = [
        {"expert": "lead", "turn": 1, "toolCalls": [call("alpha", query="Do A")]},
        {"expert": "alpha", "error": {"name": "AuthenticationError", "message": "bad key"}},
        {"expert": "lead", "turn": 2, "text": "Alpha failed, sorry."},
    ]
    events, final, _ = await job_events(tmp_path, rules)
    log = feed_all(events)
    error = next(row for row in log.rows if row.kind == "error")
    assert error.label == "AuthenticationError: bad key" and error.depth == 1
    delegate = next(row for row in log.rows if row.kind == "delegate")
    assert delegate.status == "error"
    assert delegate.result == "Delegation failed: bad key"
    assert final.status == "completed"


async def test_retries_and_the_step_limit(tmp_path: Path) -> None:
    rules = [
        {
            "expert": "lead",
            "times": 1,
            "error": {"name": "RateLimitError", "message": "Too many requests", "retryable": True},
        },
        {"expert": "lead", "toolCalls": [call("todo", newTodos=["x"])]},
    ]
    events, final, _ = await job_events(tmp_path, rules, max_steps=3)
    log = feed_all(events)
    kinds = [row.kind for row in log.rows]
    assert kinds == ["query", "retry", "tool", "tool", "stop"]
    assert log.rows[1].label == "RateLimitError: Too many requests"
    assert log.rows[1].status == "error"
    assert log.rows[-1].label == "stopped: the job reached its step limit at step 3"
    assert final.status == "stoppedByExceededMaxSteps"


async def test_interactive_call_waits_then_takes_the_answer(tmp_path: Path) -> None:
    rules = [
        {"expert": "asker", "turn": 1, "toolCalls": [call("askUser", question="Which colour?")]},
        {"expert": "asker", "turn": 2, "text": "Blue it is."},
    ]
    first, stopped, storage = await job_events(tmp_path, rules, expert="asker")
    log = feed_all(first)
    asked = next(row for row in log.rows if row.kind == "interactive")
    assert asked.status == "waiting" and asked.label == "askUser question=Which colour?"
    assert stopped.status == "stoppedByInteractiveTool"

    answer = interactive_answer(stopped, "blue")
    second, final, _ = await job_events(
        tmp_path, rules, expert="asker", storage=storage, checkpoint=stopped, answer=answer
    )
    for event in second:
        log.feed(event)
    assert asked.status == "done" and asked.result == "blue"
    assert log.rows[-1].kind == "completion" and final.status == "completed"


async def test_streams_grow_row_by_row_and_stop_cleanly(tmp_path: Path) -> None:
    rules = [
        {"expert": "lead", "turn": 1, "reasoning": "one two three", "toolCalls": [call("attemptCompletion")]},
        {"expert": "lead", "purpose": "runResult", "text": "alpha beta gamma"},
    ]
    events, _, _ = await job_events(tmp_path, rules)
    log = ActivityLog()
    texts = []
    for event in events:
        changed = log.feed(event)
        if event.type == "streamReasoning":
            assert [row.kind for row in changed] == ["reasoning"]
            assert changed[0].status == "streaming"
            texts.append(changed[0].text)
        if event.type == "streamRunResult":
            assert changed[0].kind == "completion" and changed[0].status == "streaming"
            texts.append(changed[0].text)
            break  # cut the job off mid-answer, as a cancelled run would be
    assert texts == ["one ", "one two ", "one two three", "alpha "]
    stopped = log.mark_stopped(at_ms=events[-1].timestamp)
    assert [row.kind for row in stopped] == ["completion"]
    assert log.rows[-1].status == "stopped"


async def test_feed_reports_each_changed_row_once_and_skips_runtime_events(tmp_path: Path) -> None:
    events, _, _ = await job_events(tmp_path, PARALLEL_RULES)
    log = ActivityLog()
    for event in events:
        changed = log.feed(event)
        assert len({row.index for row in changed}) == len(changed)
        if not hasattr(event, "step_number"):
            assert changed == []
        for row in changed:
            assert log.rows[row.index] is row


async def test_slim_events_drop_histories_only(tmp_path: Path) -> None:
    events, _, _ = await job_events(tmp_path, PARALLEL_RULES)
    generation = next(e for e in events if e.type == "startGeneration")
    complete = next(e for e in events if e.type == "completeRun")
    assert generation.messages and complete.checkpoint.messages
    slim_generation, slim_complete = slim_event(generation), slim_event(complete)
    assert slim_generation.messages == [] and slim_complete.checkpoint.messages == []
    assert slim_complete.checkpoint.status == "completed" and slim_complete.text == complete.text
    # The originals are untouched; small events are passed through as they are.
    assert generation.messages and complete.checkpoint.messages
    call_tools = next(e for e in events if e.type == "callTools")
    assert slim_event(call_tools) is call_tools
    ref = EventRef.of(complete)
    assert (ref.type, ref.run_id, ref.step, ref.id) == (
        "completeRun", complete.run_id, complete.step_number, complete.id
    )


def test_short_args_keep_one_line() -> None:
    assert short_args({"path": "a.txt", "limit": 3}) == "path=a.txt, limit=3"
    assert short_args({"text": "line one\nline two"}) == "text=line one line two"
    assert short_args({"items": [1, 2]}) == "items=[2 items]"
    long = short_args({"q": "x" * 100}, value_width=10)
    assert long == "q=" + "x" * 9 + "…"
    assert short_args({}) == "" and short_args(None) == ""
