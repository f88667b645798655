"""What changed between two loads of ``perstack.toml``: the workbench's hot reload says so.

Pure data, no I/O: :func:`diff_experts` compares two :class:`PerstackConfig` and
:meth:`ExpertsDiff.summary` words the result for a one-line notice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runtime.config.models import PerstackConfig

__all__ = ["ExpertsDiff", "diff_experts"]

# Top-level settings every expert runs with; a change to one changes every run.
_RUN_SETTINGS = (
    "provider",
    "model",
    "reasoning_budget",
    "runtime",
    "max_steps",
    "max_retries",
    "timeout",
    "tool_timeout",
    "perstack_api_base_url",
    "perstack_base_skill_command",
    "env_path",
)


@dataclass(frozen=True)
class ExpertsDiff:
    """Experts added, removed and changed, by key, in file order (new file for added and
    changed, old file for removed), plus the top-level settings that changed.

    Attributes:
        added: Keys only in the new file.
        removed: Keys only in the old file.
        changed: Keys in both whose definition differs (any field, skills included).
        settings: File names (camelCase) of top-level settings that differ, e.g. ``model``.
    """

    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    settings: tuple[str, ...] = ()

    @property
    def experts_changed(self) -> bool:
        """Whether any expert was added, removed or changed."""
        return bool(self.added or self.removed or self.changed)

    def __bool__(self) -> bool:
        return self.experts_changed or bool(self.settings)

    def summary(self) -> str:
        """One line for a notice, e.g. ``added reviewer; changed writer; model changed``.

        ``no changes to the Experts`` when nothing differs.
        """
        parts = [
            f"{label} {', '.join(keys)}"
            for label, keys in (
                ("added", self.added),
                ("removed", self.removed),
                ("changed", self.changed),
            )
            if keys
        ]
        if self.settings:
            parts.append(f"{', '.join(self.settings)} changed")
        return "; ".join(parts) if parts else "no changes to the Experts"


def diff_experts(old: PerstackConfig, new: PerstackConfig) -> ExpertsDiff:
    """Compare two loaded configs.

    Args:
        old: The config the workbench had.
        new: The config just loaded.

    Returns:
        The difference; falsy when the two define the same experts and settings (a change
        to comments or formatting only).
    """
    old_experts, new_experts = old.experts, new.experts
    added = tuple(key for key in new_experts if key not in old_experts)
    removed = tuple(key for key in old_experts if key not in new_experts)
    changed = tuple(
        key
        for key, expert in new_experts.items()
        if key in old_experts and _dump(expert) != _dump(old_experts[key])
    )
    settings = tuple(
        _file_name(name)
        for name in _RUN_SETTINGS
        if _dump(getattr(old, name)) != _dump(getattr(new, name))
    )
    return ExpertsDiff(added, removed, changed, settings)


def _dump(value: Any) -> Any:
    # Models compare by their dumps: ``==`` on pydantic models also compares private
    # state and types, and a re-validated equal table must count as unchanged.
    return value.model_dump(mode="json") if hasattr(value, "model_dump") else value


def _file_name(attribute: str) -> str:
    head, *rest = attribute.split("_")
    return head + "".join(word.capitalize() for word in rest)
