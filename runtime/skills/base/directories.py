"""Directory tools: listDirectory, createDirectory, deleteDirectory (spec §9).

Blocking handlers, run by the skill in a worker thread; failures raise ``ToolError``.
"""

from __future__ import annotations

import os
import shutil
import stat
from typing import Any

from runtime.skills.base.files import is_writable
from runtime.skills.base.paths import Workspace
from runtime.skills.base.results import ToolError, iso_time

__all__ = ["list_directory", "create_directory", "delete_directory"]


def list_directory(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    """The entries of one directory, sorted by name, without the ``perstack`` store.

    An entry that is a symbolic link pointing outside the workspace is still listed
    (described by the link itself, not its target) rather than failing the whole
    listing as upstream does; reading it is refused as usual.
    """
    given = args["path"]
    path = ws.resolve(given)
    if not os.path.exists(path):
        raise ToolError(f"Directory {given} does not exist.")
    if not os.path.isdir(path):
        raise ToolError(f"Path {given} is not a directory.")
    items = []
    for name in sorted(os.listdir(path)):
        entry = os.path.join(path, name)
        try:
            ws.resolve(entry)
            info = os.stat(entry)
        except ToolError as error:
            if "perstack directory" in str(error):
                continue
            info = os.lstat(entry)
        except FileNotFoundError:  # a dangling link: describe the link itself
            info = os.lstat(entry)
        items.append(
            {
                "name": name,
                "path": name,
                "type": "directory" if stat.S_ISDIR(info.st_mode) else "file",
                "size": info.st_size,
                "modified": iso_time(info.st_mtime),
            }
        )
    return {"path": path, "items": items}


def create_directory(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    """Create a directory and any missing parents."""
    given = args["path"]
    path = ws.resolve(given)
    if os.path.lexists(path):
        raise ToolError(f"Directory {given} already exists")
    parent = os.path.dirname(path)
    if os.path.exists(parent) and not is_writable(os.stat(parent).st_mode):
        raise ToolError(f"Parent directory {parent} is not writable")
    os.makedirs(path)
    return {"path": path}


def delete_directory(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    """Delete a directory; a non-empty one only with ``recursive``.

    The workspace itself is refused: deleting it would also delete the ``perstack``
    store the run is not allowed to touch.
    """
    given = args["path"]
    path = ws.resolve(given)
    if not os.path.exists(path):
        raise ToolError(f"Directory {given} does not exist.")
    info = os.stat(path)
    if not stat.S_ISDIR(info.st_mode):
        raise ToolError(f"Path {given} is not a directory. Use deleteFile tool instead.")
    if path == ws.root:
        raise ToolError("Access denied - the workspace directory itself cannot be deleted")
    if not is_writable(info.st_mode):
        raise ToolError(f"Directory {given} is not writable")
    if args.get("recursive"):
        shutil.rmtree(path)
    else:
        os.rmdir(path)
    return {"path": path}
