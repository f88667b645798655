"""What each run of create-expert's coordinator is told: the round, and the evidence so far.

Each round is a fresh run with a short history, so its message carries what the team
needs from the rounds before: which scenarios failed and why, or that every one passed
and the definitions stay, or that no definition loaded.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from runtime.create_expert.lab import Lab

__all__ = ["first_round_message", "next_round_message", "report_message"]


def first_round_message(
    description: str, expert: str | None, max_rounds: int, config_path: Path | None
) -> str:
    """Round 1: what to create or improve, and where the project's file is."""
    head = f"Round 1 of at most {max_rounds}."
    if expert:
        task = (
            f'Improve the Expert "{expert}" and its delegates in the project\'s '
            f"perstack.toml as this description says: {description}"
        )
    else:
        task = f"Create new Experts for this description: {description}"
    where = (
        f"The project's perstack.toml is {config_path}."
        if config_path is not None
        else "The project has no perstack.toml yet; it will be created."
    )
    return f"{head}\n{task}\n{where}"


def next_round_message(lab: Lab, number: int, max_rounds: int) -> str:
    """Round 2 on: the previous round's evidence and what to do about it."""
    head = f"Round {number} of at most {max_rounds}."
    previous = lab.state.rounds[-2]
    names = [s.name for s in lab.state.scenarios]
    if lab.draft_text(previous.number) is None:
        problems = " | ".join(previous.rejected) or "the designer wrote none"
        return (
            f"{head}\nNo definitions loaded in round {previous.number}: {problems}\n"
            "Have the designer write them again, correcting that; then test and judge."
        )
    if previous.passed(names):
        return (
            f"{head}\nEvery scenario passed in round {previous.number}. The definitions "
            "stay as they are: skip the designer. Have the tester run every scenario "
            "again and the verifier judge them, to confirm the behaviour is stable."
        )
    failures = []
    for name in names:
        result = previous.results.get(name)
        if result is None:
            failures.append(f"- {name}: not run")
        elif not result.passed:
            failures.append(f"- {name}: {'; '.join(result.failures)}")
    return (
        f"{head}\nFailures in round {previous.number}:\n"
        + "\n".join(failures)
        + "\nHave the designer fix them, then the tester run every scenario and the "
        "verifier judge them."
    )


def report_message(stop_reason: str) -> str:
    """The last run: the report."""
    return (
        f"Testing is over: {stop_reason}. Ask the reporter for the report: the capabilities "
        "and limitations found."
    )
