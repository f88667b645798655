"""Compact histories in storage and streams (runtime/storage/compact.py,
runtime/views/checkpoints.py): each message written once, every checkpoint rebuilt."""

from __future__ import annotations

import orjson
import pytest

from runtime.engine.event_format import EventEncoder
from runtime.events import ContinueToNextStep, StartGeneration
from runtime.model import Checkpoint, ExpertRef, Step, TextPart, UserMessage
from runtime.storage import MemoryStorage
from runtime.storage.compact import BASE_FIELD, StoredHistories, UnresolvedBase
from runtime.views.checkpoints import StreamRebuilder, rebuild_events

EXPERT = ExpertRef(key="writer", name="writer", version="1.0.0")


def message(text: str) -> UserMessage:
    return UserMessage(contents=[TextPart(text=text)])


def checkpoint(checkpoint_id: str, messages: list, *, run_id: str = "run1", step: int = 1):
    return Checkpoint(
        id=checkpoint_id,
        job_id="job1",
        run_id=run_id,
        status="proceeding",
        step_number=step,
        messages=messages,
        expert=EXPERT,
    )


def growing_checkpoints(steps: int, *, run_id: str = "run1") -> list[Checkpoint]:
    history: list = []
    checkpoints = []
    for step in range(1, steps + 1):
        history = [*history, message(f"step {step}")]
        checkpoints.append(checkpoint(f"cp{step}", history, run_id=run_id, step=step))
    return checkpoints


def stored_document(storage: MemoryStorage, checkpoint_id: str) -> dict:
    ref = storage.checkpoint_file("job1", checkpoint_id)
    assert ref is not None
    document = storage._get_checkpoint(ref)
    assert document is not None
    return document.data


def test_a_store_writes_each_message_once_and_reads_full_checkpoints_back() -> None:
    storage = MemoryStorage()
    checkpoints = growing_checkpoints(5)
    for each in checkpoints:
        storage.store_checkpoint(each)
    assert BASE_FIELD not in stored_document(storage, "cp1")
    for step in range(2, 6):
        document = stored_document(storage, f"cp{step}")
        assert document[BASE_FIELD] == {"checkpointId": f"cp{step - 1}", "count": step - 1}
        assert len(document["messages"]) == 1
    assert storage.list_checkpoints("job1") == checkpoints


def test_a_checkpoint_written_again_keeps_its_base_and_is_never_its_own() -> None:
    storage = MemoryStorage()
    first, second = growing_checkpoints(2)
    storage.store_checkpoint(first)
    storage.store_checkpoint(second)
    longer = second.model_copy(update={"messages": [*second.messages, message("more")]})
    storage.store_checkpoint(longer)  # the same step, further on
    document = stored_document(storage, "cp2")
    assert document[BASE_FIELD] == {"checkpointId": "cp1", "count": 1}
    assert storage.retrieve_checkpoint("job1", "cp2") == longer


def test_a_history_that_is_not_a_continuation_is_written_whole() -> None:
    storage = MemoryStorage()
    storage.store_checkpoint(checkpoint("cp1", [message("a"), message("b")]))
    storage.store_checkpoint(checkpoint("cp2", [message("a"), message("other")], step=2))
    assert BASE_FIELD not in stored_document(storage, "cp2")
    assert len(storage.retrieve_checkpoint("job1", "cp2").messages) == 2


def test_a_missing_base_is_one_warning_and_nothing_made_up() -> None:
    warnings: list[str] = []
    storage = MemoryStorage(on_warning=warnings.append)
    for each in growing_checkpoints(3):
        storage.store_checkpoint(each)
    del storage._checkpoints["job1"]["cp1"]
    assert storage.retrieve_checkpoint("job1", "cp3") is None
    assert storage.retrieve_checkpoint("job1", "cp3") is None
    assert len(warnings) == 1
    assert "cp3" in warnings[0] and "base checkpoint cp1 is not stored" in warnings[0]


def test_a_chain_of_thousands_of_checkpoints_rebuilds_without_recursion() -> None:
    documents = {"cp0": {"id": "cp0", "messages": [{"id": "m0"}]}}
    for step in range(1, 3000):
        documents[f"cp{step}"] = {
            "id": f"cp{step}",
            "messages": [{"id": f"m{step}"}],
            BASE_FIELD: {"checkpointId": f"cp{step - 1}", "count": step},
        }
    reads: list[str] = []

    def read(checkpoint_id: str) -> dict | None:
        reads.append(checkpoint_id)
        return documents.get(checkpoint_id)

    histories = StoredHistories(read)
    messages = histories.messages("cp2999")
    assert [m["id"] for m in messages] == [f"m{i}" for i in range(3000)]
    assert len(reads) == 3000
    histories.messages("cp2999")  # cached: read once
    assert len(reads) == 3000


def test_bases_that_go_round_in_a_circle_are_refused() -> None:
    documents = {
        "a": {"id": "a", "messages": [], BASE_FIELD: {"checkpointId": "b", "count": 0}},
        "b": {"id": "b", "messages": [], BASE_FIELD: {"checkpointId": "a", "count": 0}},
    }
    with pytest.raises(UnresolvedBase, match="circle"):
        StoredHistories(documents.get).messages("a")


def stream_events(steps: int, encoder: EventEncoder) -> list[dict]:
    events = []
    history: list = []
    step_checkpoint = checkpoint("cp1", history)
    for step in range(1, steps + 1):
        generation = StartGeneration.make(
            job_id="job1", run_id="run1", expert_key="writer", step_number=step,
            messages=list(history), id=f"g{step}", timestamp=step,
        )  # fmt: skip
        history = [*history, message(f"answer {step}")]
        done = step_checkpoint.model_copy(update={"messages": history})
        step_checkpoint = done.model_copy(update={"id": f"cp{step + 1}", "step_number": step + 1})
        transition = ContinueToNextStep.make(
            job_id="job1", run_id="run1", expert_key="writer", step_number=step,
            checkpoint=done, next_checkpoint=step_checkpoint,
            step=Step(step_number=step, started_at=step), id=f"c{step}", timestamp=step,
        )  # fmt: skip
        for event in (generation, transition):
            events.append(orjson.loads(encoder.encode(event)))
    return events


def test_a_compact_stream_rebuilds_to_the_upstream_stream() -> None:
    compact = stream_events(30, EventEncoder("compact"))
    upstream = stream_events(30, EventEncoder("upstream"))
    assert sum(len(orjson.dumps(e)) for e in compact) < sum(len(orjson.dumps(e)) for e in upstream) / 4
    assert all(len(e["checkpoint"]["messages"]) <= 1 for e in compact if "checkpoint" in e)
    # Messages differ in ids between the two builds: compare the texts.
    assert [_texts(e) for e in rebuild_events(compact)] == [_texts(e) for e in upstream]


def _texts(event: dict) -> list:
    lists = [event.get("messages")] + [
        event[k]["messages"] for k in ("checkpoint", "nextCheckpoint") if k in event
    ]
    return [[m["contents"][0]["text"] for m in items] for items in lists if items is not None]


def test_a_stream_cut_at_its_start_says_what_is_missing() -> None:
    compact = stream_events(5, EventEncoder("compact"))
    rebuilder = StreamRebuilder()
    with pytest.raises(UnresolvedBase, match="base checkpoint cp.* is missing"):
        for event in compact[4:]:
            rebuilder.feed(event)


def test_full_events_pass_through_the_rebuilder_unchanged() -> None:
    upstream = stream_events(3, EventEncoder("upstream"))
    assert list(rebuild_events(upstream)) == upstream
