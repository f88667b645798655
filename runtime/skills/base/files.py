"""Text-file tools: readTextFile, writeTextFile, appendTextFile, editTextFile, moveFile,
deleteFile (spec §9).

Each handler takes the workspace and the validated arguments and returns the JSON
result, raising ``ToolError`` with upstream's message on failure. They do blocking I/O,
so the skill runs them in a worker thread.

No size limits: upstream's docs cap writeTextFile at 10,000 characters and
append/edit at 2,000, but its code does not enforce them, and a cap only forces the
model to split one edit into many. Length is left to the model's own output limit.
"""

from __future__ import annotations

import os
import stat
from typing import Any

from runtime.skills.base.paths import Workspace, open_no_follow
from runtime.skills.base.results import ToolError

__all__ = [
    "read_text_file",
    "write_text_file",
    "append_text_file",
    "edit_text_file",
    "move_file",
    "delete_file",
    "is_writable",
    "read_bytes",
]


def is_writable(mode: int) -> bool:
    """The owner-write bit, as upstream checks it."""
    return bool(mode & stat.S_IWUSR)


def read_bytes(path: str) -> bytes:
    """The whole file, refusing a symbolic link."""
    fd = open_no_follow(path, os.O_RDONLY)
    with os.fdopen(fd, "rb") as file:
        return file.read()


def _write_bytes(path: str, data: bytes, flags: int) -> None:
    fd = open_no_follow(path, os.O_WRONLY | flags)
    with os.fdopen(fd, "wb") as file:
        file.write(data)


def _decode(data: bytes) -> str:
    # Node decodes invalid UTF-8 as U+FFFD rather than failing; so do we.
    return data.decode("utf-8", errors="replace")


def read_text_file(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    """Read a UTF-8 file, optionally a 0-based line range with ``to`` exclusive."""
    given = args["path"]
    path = ws.resolve(given)
    if not os.path.exists(path):
        raise ToolError(f"File {given} does not exist.")
    lines = _decode(read_bytes(path)).split("\n")
    start = int(args["from"]) if args.get("from") is not None else 0
    end = int(args["to"]) if args.get("to") is not None else len(lines)
    return {"path": given, "content": "\n".join(lines[start:end]), "from": start, "to": end}


def write_text_file(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    """Create or overwrite a file, creating any missing parent directories."""
    given, text = args["path"], args["text"]
    path = ws.resolve(given)
    if os.path.exists(path) and not is_writable(os.stat(path).st_mode):
        raise ToolError(f"File {given} is not writable")
    # Every missing level lies inside the workspace: resolve() checked the nearest
    # existing ancestor, so creating all of them cannot escape it.
    os.makedirs(os.path.dirname(path), exist_ok=True)
    _write_bytes(path, text.encode("utf-8"), os.O_CREAT | os.O_TRUNC)
    return {"path": path, "text": text}


def append_text_file(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    """Append text to an existing file, adding no newline."""
    given, text = args["path"], args["text"]
    path = ws.resolve(given)
    if not os.path.lexists(path):
        raise ToolError(f"File {given} does not exist.")
    if os.path.exists(path) and not is_writable(os.stat(path).st_mode):
        raise ToolError(f"File {given} is not writable")
    _write_bytes(path, text.encode("utf-8"), os.O_APPEND)
    return {"path": path, "text": text}


def edit_text_file(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    """Replace the first occurrence of ``oldText`` (line endings normalised to LF)."""
    given, new_text, old_text = args["path"], args["newText"], args["oldText"]
    path = ws.resolve(given)
    if not os.path.exists(path):
        raise ToolError(f"File {given} does not exist.")
    if not is_writable(os.stat(path).st_mode):
        raise ToolError(f"File {given} is not writable")
    content = _decode(read_bytes(path)).replace("\r\n", "\n")
    old, new = old_text.replace("\r\n", "\n"), new_text.replace("\r\n", "\n")
    if old not in content:
        raise ToolError(f"Could not find exact match for oldText in file {path}")
    edited = content.replace(old, new, 1)
    _write_bytes(path, edited.encode("utf-8"), os.O_TRUNC)
    return {"path": path, "newText": new_text, "oldText": old_text}


def move_file(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    """Move or rename a file or directory to a destination that does not exist yet."""
    source_given, destination_given = args["source"], args["destination"]
    source = ws.resolve(source_given)
    destination = ws.resolve(destination_given)
    if not os.path.exists(source):
        raise ToolError(f"Source file {source_given} does not exist.")
    if not is_writable(os.stat(source).st_mode):
        raise ToolError(f"Source file {source_given} is not writable")
    if os.path.lexists(destination):
        raise ToolError(f"Destination {destination_given} already exists.")
    os.makedirs(os.path.dirname(destination), exist_ok=True)
    os.rename(source, destination)
    return {"source": source, "destination": destination}


def delete_file(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    """Delete one file (never a directory)."""
    given = args["path"]
    path = ws.resolve(given)
    if not os.path.exists(path):
        raise ToolError(f"File {given} does not exist.")
    info = os.stat(path)
    if stat.S_ISDIR(info.st_mode):
        raise ToolError(f"Path {given} is a directory. Use delete directory tool instead.")
    if not is_writable(info.st_mode):
        raise ToolError(f"File {given} is not writable")
    os.unlink(path)
    return {"path": path}
