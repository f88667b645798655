"""The change a create-expert session proposes to the project's ``perstack.toml``.

The final draft's Experts are merged into the file as it is when the session ends (it may
have changed meanwhile), validated, and shown as a diff; writing it is
:func:`runtime.create_expert.loop.apply_proposal`'s job, after the user confirms.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from runtime.create_expert.drafts import (
    DraftError,
    experts_of,
    merge_definitions,
    unified_diff,
    validate_text,
)

if TYPE_CHECKING:
    from runtime.config.models import PerstackConfig

__all__ = ["Proposal", "new_file_header", "propose"]


@dataclass
class Proposal:
    """The change to the project's ``perstack.toml`` the session proposes.

    Attributes:
        path: The file.
        old_text: Its text now ('' when it does not exist).
        new_text: The proposed text (``None``: nothing to propose).
        diff: ``old_text`` -> ``new_text`` as a unified diff.
        problem: Why there is nothing to propose.
    """

    path: Path
    old_text: str
    new_text: str | None
    diff: str = ""
    problem: str | None = None

    @property
    def creates(self) -> bool:
        return not self.path.exists()


def propose(
    path: Path, final: str | None, touched: list[str], header: str, rejected: list[str]
) -> Proposal:
    """The Experts ``touched`` as ``final`` (the last draft) defines them, merged into
    ``path`` as it is now (or into ``header`` for a new file)."""
    current = path.read_text(encoding="utf-8") if path.is_file() else ""
    if final is None or not touched:
        problem = "no definition that loads was written"
        if rejected:
            problem += f" (rejected: {rejected[-1]})"
        return Proposal(path, current, None, problem=problem)
    try:
        new_text = merge_definitions(current or header, experts_of(final, touched))
        validate_text(new_text, path)
    except DraftError as error:
        return Proposal(path, current, None, problem=f"the result would not load: {error}")
    return Proposal(path, current, new_text, diff=unified_diff(current, new_text, path.name))


def new_file_header(config: PerstackConfig, description: str) -> str:
    """The top of a ``perstack.toml`` create-expert creates: the model and provider used."""
    import tomlkit

    document = tomlkit.document()
    document.add(tomlkit.comment(f"Created by perstack create-expert: {description}"))
    document["model"] = config.model
    provider = tomlkit.table()
    provider["providerName"] = config.provider.provider_name
    if config.provider.setting:
        provider["setting"] = dict(config.provider.setting)
    document["provider"] = provider
    return tomlkit.dumps(document)
