"""``perstack create-expert``: Experts from a description, tested for real, iterated, reported.

An Expert team of our own (``perstack.toml`` beside this module) designs the definitions,
writes scenarios, runs them through the runtime in scratch copies of the project, and
judges each run from its events and files; the loop (:mod:`.loop`) repeats rounds until
every scenario passes twice in a row or ``max_iterations`` is reached. See
``docs/create-expert.md``.

    >>> session = CreateExpertSession(CreateExpertOptions("A fitness assistant"), cwd=Path("."))
    >>> outcome = asyncio.run(session.run())
    >>> print(report_markdown(outcome))
    >>> apply_proposal(outcome)   # writes perstack.toml, keeping a backup
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runtime.create_expert.loop import (
        CreateExpertOptions,
        CreateExpertSession,
        Outcome,
        apply_proposal,
    )
    from runtime.create_expert.proposal import Proposal
    from runtime.create_expert.report import report_json, report_markdown

__all__ = [
    "CreateExpertOptions",
    "CreateExpertSession",
    "Outcome",
    "Proposal",
    "apply_proposal",
    "report_json",
    "report_markdown",
]

_LAZY = {
    "CreateExpertOptions": "runtime.create_expert.loop",
    "CreateExpertSession": "runtime.create_expert.loop",
    "Outcome": "runtime.create_expert.loop",
    "Proposal": "runtime.create_expert.proposal",
    "apply_proposal": "runtime.create_expert.loop",
    "report_json": "runtime.create_expert.report",
    "report_markdown": "runtime.create_expert.report",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'runtime.create_expert' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
