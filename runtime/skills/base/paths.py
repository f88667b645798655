"""Workspace confinement: every path the base skill touches must resolve inside the run's
workspace, and never into its ``perstack`` storage directory (spec §9).

Rules, in order:

1. ``~`` / ``~/...`` expand to the home directory; a relative path is taken from the
   workspace; ``..`` is folded lexically (like Node's ``path.resolve``).
2. ``<workspace>/perstack`` and anything below it (compared case-insensitively, both as
   written and after resolving symlinks) is refused.
3. An existing path must resolve (symlinks followed) inside the workspace; the resolved
   path is what the tools operate on, so a link pointing inside just works.
4. A missing path (or a dangling symlink) is checked through its nearest existing
   ancestor, whose real path must be inside. Unlike upstream, any number of missing
   levels is allowed, so ``writeTextFile`` can create ``a/b/c.txt`` in one call.

Reads and writes additionally refuse to open a symbolic link (``O_NOFOLLOW``): this is
what stops a dangling link, or one swapped in after validation, from redirecting a
write outside the workspace.
"""

from __future__ import annotations

import os

from runtime.skills.base.results import ToolError

__all__ = ["Workspace", "SYMLINK_DENIED", "open_no_follow"]

SYMLINK_DENIED = "Operation denied: target is a symbolic link"

_PERSTACK_DENIED = "Access denied - perstack directory is not allowed"
_SYMLINK_OUTSIDE = "Access denied - symlink target outside allowed directories"
_PARENT_OUTSIDE = "Access denied - parent directory outside allowed directories"


class Workspace:
    """The directory a run is confined to.

    Args:
        root: The run's workspace; stored as its real path.
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = os.path.realpath(root)
        self._perstack_dir = os.path.join(self.root, "perstack").lower()

    def contains(self, absolute: str) -> bool:
        """Whether an absolute, normalised path is the workspace or below it."""
        prefix = self.root if self.root.endswith(os.sep) else self.root + os.sep
        return absolute == self.root or absolute.startswith(prefix)

    def resolve(self, requested: str) -> str:
        """Validate a path given to a tool and return the path to operate on.

        Args:
            requested: The path as the model wrote it.

        Returns:
            The real path for an existing target; for a missing one, its nearest
            existing ancestor's real path joined with the missing components.

        Raises:
            ToolError: The path escapes the workspace or points into ``perstack``.
        """
        absolute = self._absolute(requested)
        self._refuse_perstack(absolute)
        if os.path.exists(absolute):
            real = os.path.realpath(absolute)
            if not self.contains(real):
                raise ToolError(_SYMLINK_OUTSIDE)
            self._refuse_perstack(real)
            return real
        parent = os.path.dirname(absolute)
        if not os.path.lexists(parent) and not self.contains(absolute):
            raise ToolError(
                f"Access denied - path outside allowed directories: {absolute} not in {self.root}"
            )
        # Start from the parent: a dangling link as the last component is kept as a link
        # (the open refuses it), while dangling links above it are followed and checked.
        ancestor, missing = _nearest_existing(parent)
        real_ancestor = os.path.realpath(ancestor)
        if not self.contains(real_ancestor):
            raise ToolError(_PARENT_OUTSIDE)
        resolved = os.path.join(real_ancestor, *missing, os.path.basename(absolute))
        self._refuse_perstack(resolved)
        return resolved

    def _absolute(self, requested: str) -> str:
        if requested == "~" or requested.startswith("~/"):
            requested = os.path.expanduser("~") + requested[1:]
        return os.path.normpath(os.path.join(self.root, requested))

    def _refuse_perstack(self, absolute: str) -> None:
        lowered = absolute.lower()
        if lowered == self._perstack_dir or lowered.startswith(self._perstack_dir + os.sep):
            raise ToolError(_PERSTACK_DENIED)


def _nearest_existing(absolute: str) -> tuple[str, list[str]]:
    """Split a missing path into its deepest existing ancestor and the missing names.

    A dangling symlink counts as existing (``lexists``), so the caller's real-path check
    follows it and refuses it when it points outside.
    """
    missing: list[str] = []
    current = absolute
    while not os.path.lexists(current):
        head, name = os.path.split(current)
        if head == current:  # the filesystem root; it always exists, but be safe
            break
        missing.append(name)
        current = head
    missing.reverse()
    return current, missing


def open_no_follow(path: str, flags: int, mode: int = 0o644) -> int:
    """``os.open`` that refuses a symbolic link as the final component.

    Raises:
        ToolError: ``path`` is a symbolic link.
    """
    if os.path.islink(path):
        raise ToolError(SYMLINK_DENIED)
    try:
        return os.open(path, flags | getattr(os, "O_NOFOLLOW", 0), mode)
    except OSError as error:
        # ELOOP: a link was swapped in between the check above and the open.
        if os.path.islink(path):
            raise ToolError(SYMLINK_DENIED) from error
        raise
