"""Saving a user's file so that no reader ever sees half of it.

The editor saves ``perstack.toml`` with this while a hot reload may read it at any moment;
``workbench.toml`` is saved the same way.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path

__all__ = ["write_text_atomic"]


def write_text_atomic(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` (UTF-8, newlines exactly as given) in one rename.

    The text goes to a temporary file beside the target, which then replaces it with
    :func:`os.replace`. An existing file keeps its permission bits, and a symbolic link
    keeps pointing where it did (the file it points to is replaced).

    Raises:
        OSError: The file cannot be written; the old one is left as it was.
    """
    target = Path(os.path.realpath(path))
    try:
        mode = stat.S_IMODE(target.stat().st_mode)
    except FileNotFoundError:
        mode = 0o666 & ~_umask()  # what open() would have given a new file
    fd, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        os.chmod(temp, mode)  # mkstemp makes it private (0600)
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise


def _umask() -> int:
    # os.umask can only be read by setting it, which would race with other threads
    # creating files; Linux shows it in /proc.
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return 0o022
