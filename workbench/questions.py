"""An MCP server's questions (elicitation) in the workbench: asked live, or answered later.

* **Live**: while a run of the workbench goes on, the runtime asks through the bridge
  (:class:`~workbench.bridge.RunBridge.Question`); the form opens at once and the tool
  call waits for it (its row shows ``?``). The answer goes straight back to the server.
* **Later**: a job stopped on a question headless (``perstack run``) and opened here
  shows the same form; the answer continues the job as ``--continue -i`` does.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from runtime.skills.calls import ElicitationAnswer, ElicitationRequest

if TYPE_CHECKING:
    from runtime.model import Checkpoint, ToolCall
    from workbench.bridge import RunBridge
    from workbench.host import WorkbenchHost

__all__ = ["ask_live", "ask_pending", "pending_question"]

_PENDING_KEY = "elicitation"  # runtime.engine.skill_services.PENDING_KEY (not imported: heavy)


def _asker(expert_key: str, tool_name: str, step: int | None = None) -> str:
    where = f", step {step}" if step is not None else ""
    return f"{expert_key} · {tool_name}{where}"


def ask_live(app: WorkbenchHost, message: RunBridge.Question) -> None:
    """Open the form of a question the running job asks; send the answer back."""
    from workbench.screens.elicitation import ElicitationScreen

    question = message.question
    screen = ElicitationScreen(question.request, _asker(question.expert_key, question.tool_name))

    def answered(answer: ElicitationAnswer | None) -> None:
        message.reply(answer or ElicitationAnswer(action="cancel"))

    app.push_screen(screen, answered)


def pending_question(checkpoint: Checkpoint | None, call: ToolCall) -> ElicitationRequest | None:
    """The server question a stopped job waits on for ``call``, if that is what it waits on."""
    pending = ((checkpoint.metadata if checkpoint else None) or {}).get(_PENDING_KEY)
    if not isinstance(pending, dict) or pending.get("toolCallId") != call.id:
        return None
    return ElicitationRequest.from_json(pending.get("request") or {})


def ask_pending(
    app: WorkbenchHost,
    expert_key: str,
    call: ToolCall,
    request: ElicitationRequest,
    answer: Callable[[str], None],
    later: Callable[[], Any],
) -> None:
    """Open the form of the question a stopped job waits on; ``answer`` continues the
    job with the answer's ``-i`` text, ``later`` leaves it pending (Escape)."""
    from workbench.screens.elicitation import ElicitationScreen

    def answered(reply: ElicitationAnswer | None) -> None:
        if reply is None:
            later()
        else:
            answer(json.dumps(reply.to_json()))

    app.push_screen(ElicitationScreen(request, _asker(expert_key, call.tool_name)), answered)
