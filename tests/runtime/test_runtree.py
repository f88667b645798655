"""The delegation tree derived from real event streams (runtime/views/runtree.py)."""

from __future__ import annotations

from pathlib import Path

from runtime.views.runtree import ROOT, RunTree, generation_tokens
from tests.runtime.activity_helpers import PARALLEL_RULES, call, job_events


def build(events) -> RunTree:
    tree = RunTree()
    for event in events:
        tree.feed(event)
    return tree


async def test_parallel_children_are_siblings_with_rolled_up_totals(tmp_path: Path) -> None:
    events, final, _ = await job_events(tmp_path, PARALLEL_RULES)
    tree = build(events)
    assert tree.root_ids == [ROOT]
    root = tree.nodes[ROOT]
    assert root.expert_key == "lead" and root.depth == 0 and root.status == "completed"
    children = [tree.nodes[child] for child in root.children]
    assert [(c.expert_key, c.query, c.depth, c.status) for c in children] == [
        ("alpha", "Do A", 1, "completed"),
        ("beta", "Do B", 1, "completed"),
    ]
    # Own figures: alpha ran two steps (todo, then its answer), beta one.
    assert [c.steps for c in children] == [2, 1]
    assert [c.tokens for c in children] == [22 + 33, 44]
    # The root adds its children's figures to its own.
    assert root.total_tokens == root.tokens + sum(c.total_tokens for c in children)
    assert root.total_tokens == final.usage.total_tokens
    assert root.total_steps == root.steps + 3
    # Resumed segments of the coordinator are the same node.
    assert len(root.run_ids) == 2
    assert tree.node_of_run(root.run_ids[1]) is root
    assert tree.ancestors(children[0].id) == [ROOT]


async def test_elapsed_counts_active_time_only(tmp_path: Path) -> None:
    events, _, _ = await job_events(tmp_path, PARALLEL_RULES)
    tree = build(events)
    root = tree.nodes[ROOT]
    first, last = events[0].timestamp, events[-1].timestamp
    assert root.busy_since is None  # completed: the clock has stopped
    assert 0 < root.elapsed_ms(now_ms=last + 10_000) <= last - first
    for child_id in root.children:
        child = tree.nodes[child_id]
        assert child.elapsed_ms(now_ms=last + 10_000) <= root.elapsed_ms(now_ms=last)


async def test_feed_reports_changed_nodes_and_stop_marks_active_ones(tmp_path: Path) -> None:
    events, _, _ = await job_events(tmp_path, PARALLEL_RULES)
    tree = RunTree()
    cut = next(i for i, e in enumerate(events) if e.type == "completeRun")  # alpha or beta
    for event in events[:cut]:
        changed = tree.feed(event)
        node = tree.node_of_run(event.run_id)
        if node is not None and hasattr(event, "step_number"):
            assert node.id in changed
            # Every ancestor whose totals moved is reported too.
            if generation_tokens(event):
                assert set(tree.ancestors(node.id)) <= changed
    active = {node.id for node in tree.nodes.values() if node.active}
    assert ROOT in active  # the coordinator waits for its delegates
    stopped = tree.mark_stopped(at_ms=events[cut].timestamp)
    assert stopped == active
    assert all(tree.nodes[node_id].status == "stopped" for node_id in stopped)
    assert all(not node.active for node in tree.nodes.values())


async def test_waiting_for_an_answer_and_errors(tmp_path: Path) -> None:
    rules = [{"expert": "asker", "turn": 1, "toolCalls": [call("askUser", question="?")]}]
    events, _, _ = await job_events(tmp_path, rules, expert="asker")
    tree = build(events)
    assert tree.nodes[ROOT].status == "waiting" and not tree.nodes[ROOT].active

    rules = [
        {"expert": "lead", "turn": 1, "toolCalls": [call("alpha", query="Do A")]},
        {"expert": "alpha", "error": {"name": "BadRequest", "message": "no"}},
        {"expert": "lead", "turn": 2, "text": "ok"},
    ]
    events, _, _ = await job_events(tmp_path, rules)
    tree = build(events)
    (child_id,) = tree.nodes[ROOT].children
    assert tree.nodes[child_id].status == "error"
    assert tree.nodes[ROOT].status == "completed"


def test_runtime_events_of_unknown_runs_are_ignored() -> None:
    from runtime.events import SkillConnected

    tree = RunTree()
    assert tree.feed(SkillConnected(job_id="j", run_id="r", skill_name="s")) == set()
    assert tree.nodes == {}
