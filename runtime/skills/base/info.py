"""Informational tools: getFileInfo and healthCheck (spec §9)."""

from __future__ import annotations

import math
import mimetypes
import os
import stat
import sys
import time
from typing import Any

from runtime.skills.base.files import is_writable
from runtime.skills.base.paths import Workspace
from runtime.skills.base.results import ToolError, iso_time

__all__ = ["get_file_info", "health_check", "format_size"]

_SIZE_UNITS = ("B", "KB", "MB", "GB", "TB")


def format_size(size: int) -> str:
    """``0 B``, ``1.50 KB``...: two decimals in the largest unit that fits."""
    if size <= 0:
        return "0 B"
    unit = min(int(math.log(size) / math.log(1024)), len(_SIZE_UNITS) - 1)
    return f"{size / 1024**unit:.2f} {_SIZE_UNITS[unit]}"


def get_file_info(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    """Metadata of a file or directory."""
    given = args["path"]
    path = ws.resolve(given)
    if not os.path.exists(path):
        raise ToolError(f"File or directory {given} does not exist")
    info = os.stat(path)
    is_dir = stat.S_ISDIR(info.st_mode)
    mime_type = None if is_dir else mimetypes.guess_type(path)[0] or "application/octet-stream"
    # Linux's stat has no birth time; ctime is the nearest thing it offers.
    created = getattr(info, "st_birthtime", info.st_ctime)
    return {
        "exists": True,
        "path": path,
        "absolutePath": path,
        "name": os.path.basename(path),
        "directory": os.path.dirname(path),
        "extension": None if is_dir else os.path.splitext(path)[1],
        "type": "directory" if is_dir else "file",
        "mimeType": mime_type,
        "size": info.st_size,
        "sizeFormatted": format_size(info.st_size),
        "created": iso_time(created),
        "modified": iso_time(info.st_mtime),
        "accessed": iso_time(info.st_atime),
        "permissions": {
            "readable": True,
            "writable": is_writable(info.st_mode),
            "executable": bool(info.st_mode & stat.S_IXUSR),
        },
    }


def _memory_mb() -> tuple[int, int]:
    """Current and peak resident set size of this process, in MB."""
    try:
        import resource  # POSIX only
    except ImportError:
        return 0, 0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    peak_bytes = peak if sys.platform == "darwin" else peak * 1024  # Linux reports KiB
    current_bytes = peak_bytes
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            current_bytes = int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        pass  # not Linux: the peak is the best figure available without psutil
    return round(current_bytes / 1024 / 1024), round(peak_bytes / 1024 / 1024)


def health_check(ws: Workspace, started_at: float) -> dict[str, Any]:
    """Status, workspace, uptime and memory of the in-process skill.

    Upstream reports the Node heap; a Python process has no such split, so
    ``heapUsed`` is the current RSS and ``heapTotal`` the peak RSS.

    Args:
        ws: The run's workspace.
        started_at: ``time.monotonic()`` when the skill started.
    """
    used, total = _memory_mb()
    return {
        "status": "ok",
        "workspace": ws.root,
        "uptime": f"{int(time.monotonic() - started_at)}s",
        "memory": {"heapUsed": f"{used}MB", "heapTotal": f"{total}MB"},
        "pid": os.getpid(),
    }
