"""The system prompt (the run's instructionMessage), spec §10."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from runtime.model import InstructionMessage, TextPart

__all__ = ["build_instruction_message"]

_META_RULES = """\
You are Perstack, an expert that solves the user's task by using the tools you are given.

How you work:
1. Infer the task from the user's first message.
2. Work in a loop: form a hypothesis, call a tool to act or verify, read the result, repeat.
   Call one tool per iteration unless several independent calls clearly help.
3. Keep calling tools until the task is done: a reply without any tool call ends the loop.
4. When the task is done, call `attemptCompletion` alone, with no text. A separate response
   for the final result will then be requested from you.
5. Call `attemptCompletion` at once when the task is done, when it is outside your expertise,
   or when the request is unintelligible. For a request outside your expertise, say in the
   final result which area you cover."""


def build_instruction_message(
    *,
    instruction: str,
    started_at_ms: int,
    workspace: Path | str,
    skill_rules: list[tuple[str, str]],
    delegates: list[tuple[str, str | None]],
) -> InstructionMessage:
    """Build the instruction message for the Expert being run.

    Args:
        instruction: The Expert's ``instruction``, included verbatim.
        started_at_ms: The run's start time (shown to the model as the current time).
        workspace: The working directory.
        skill_rules: ``(skill name, rule)`` for every skill that has a rule.
        delegates: ``(delegate name, description)`` for every delegate.
    """
    now = datetime.fromtimestamp(started_at_ms / 1000, tz=timezone.utc)
    sections = [
        _META_RULES,
        f"Environment:\n- Current time: {now.isoformat().replace('+00:00', 'Z')}\n"
        f"- Working directory: {workspace}",
        f"Instruction:\n{instruction}",
    ]
    for skill_name, rule in skill_rules:
        sections.append(f'"{skill_name}" skill rules:\n{rule}')
    if delegates:
        lines = [
            "You can delegate work to other Experts; each one is offered to you as a tool "
            "that takes a `query`."
        ]
        for name, description in delegates:
            lines.append(f'About "{name}":\n{description or "(no description)"}')
        sections.append("\n\n".join(lines))
    text = "\n\n".join(sections)
    return InstructionMessage(contents=[TextPart(text=text)], cache=True)
