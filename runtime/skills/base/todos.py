"""The todo list: todo, clearTodo and attemptCompletion's check (spec §5.2, §9).

Per run, not per process (decision D5): the list lives in the run's skill state
(``SkillContext.state["todos"]``), which the runtime stores with every checkpoint and
hands back on resume, so a resumed or replayed run sees the list it left off with.
Items are plain dicts ``{"id", "title", "completed"}`` so the state stays JSON.
"""

from __future__ import annotations

from typing import Any

__all__ = ["STATE_KEY", "todo", "clear_todo", "attempt_completion"]

#: The key of the todo list in the skill state.
STATE_KEY = "todos"


def _todos(state: dict[str, Any]) -> list[dict[str, Any]]:
    return list(state.get(STATE_KEY) or [])


def todo(state: dict[str, Any], args: dict[str, Any]) -> dict[str, Any]:
    """Add ``newTodos`` and mark ``completedTodos`` (by id) done; completion is sticky.

    Ids count up from 0 and are never reused until the list is cleared.
    """
    todos = _todos(state)
    next_id = max((item["id"] for item in todos), default=-1) + 1
    for offset, title in enumerate(args.get("newTodos") or []):
        todos.append({"id": next_id + offset, "title": title, "completed": False})
    done = set(args.get("completedTodos") or [])
    todos = [{**item, "completed": item["completed"] or item["id"] in done} for item in todos]
    state[STATE_KEY] = todos
    return {"todos": todos}


def clear_todo(state: dict[str, Any]) -> dict[str, Any]:
    """Empty the list; the next todo gets id 0 again."""
    state[STATE_KEY] = []
    return {"todos": []}


def attempt_completion(state: dict[str, Any]) -> dict[str, Any]:
    """``{}`` when every todo is done, else ``{"remainingTodos": [...]}``."""
    remaining = [item for item in _todos(state) if not item["completed"]]
    return {"remainingTodos": remaining} if remaining else {}
