"""Names, descriptions and JSON Schemas of the base skill's 17 tools (spec §9).

The schemas are what the model sees and what each call's arguments are validated
against before a tool runs.
"""

from __future__ import annotations

from typing import Any

__all__ = ["TOOL_SPECS", "TOOL_NAMES"]

_STRING = {"type": "string"}
_PATH = {"type": "string", "description": "File path, relative to the workspace or absolute."}


def _schema(properties: dict[str, Any] | None = None, required: tuple[str, ...] = ()) -> dict:
    schema: dict[str, Any] = {"type": "object", "properties": properties or {}}
    if required:
        schema["required"] = list(required)
    return schema


_PATH_ONLY = _schema({"path": _PATH}, ("path",))

#: ``name -> (description, input schema)``, in the order the tools are offered.
TOOL_SPECS: dict[str, tuple[str, dict[str, Any]]] = {
    "attemptCompletion": (
        "Signal that the task is done. If todos remain open they are returned and the run "
        "continues; otherwise an empty object is returned and you will be asked for the "
        "final answer. Call it alone, without text, once the work is complete.",
        _schema(),
    ),
    "todo": (
        "Manage the todo list of this run. Add tasks with newTodos (each gets a numeric "
        "id, counting from 0) and mark tasks done with completedTodos (their ids). Returns "
        "the whole list after every call.",
        _schema(
            {
                "newTodos": {
                    "type": "array",
                    "items": _STRING,
                    "description": "Titles of new todos to add.",
                },
                "completedTodos": {
                    "type": "array",
                    "items": {"type": "integer"},
                    "description": "Ids of todos that are now completed.",
                },
            }
        ),
    ),
    "clearTodo": (
        "Empty the todo list; ids start again from 0.",
        _schema(),
    ),
    "healthCheck": (
        "Report the runtime's status: workspace, uptime, memory use and process id. "
        "Useful for diagnostics; it touches no files.",
        _schema(),
    ),
    "exec": (
        "Run a program directly (no shell: no pipes, globbing or variable expansion) and "
        "return what it printed. stdout/stderr choose which streams are returned. The "
        "child sees only a minimal environment plus env. Do not start long-running "
        "foreground processes (e.g. servers, tail -f): the call fails after timeout ms.",
        _schema(
            {
                "command": {"type": "string", "description": "Program to run, e.g. python."},
                "args": {"type": "array", "items": _STRING, "description": "Its arguments."},
                "env": {
                    "type": "object",
                    "additionalProperties": _STRING,
                    "description": "Extra environment variables for the program.",
                },
                "cwd": {"type": "string", "description": "Working directory (in the workspace)."},
                "stdout": {"type": "boolean", "description": "Return standard output."},
                "stderr": {"type": "boolean", "description": "Return standard error."},
                "timeout": {
                    "type": "number",
                    "minimum": 0,
                    "description": "Timeout in milliseconds (default 60000; 0 = none).",
                },
            },
            ("command", "args", "env", "cwd", "stdout", "stderr"),
        ),
    ),
    "readTextFile": (
        "Read a UTF-8 text file, optionally only lines from..to (0-based, to exclusive). "
        "Not for binary files; use readImageFile or readPdfFile for those.",
        _schema(
            {
                "path": _PATH,
                "from": {"type": "integer", "description": "First line to read (0-based)."},
                "to": {"type": "integer", "description": "Line to stop before (exclusive)."},
            },
            ("path",),
        ),
    ),
    "readImageFile": (
        "Look at an image file (PNG, JPEG, GIF or WebP, at most 15 MB): its content is "
        "returned as an image.",
        _PATH_ONLY,
    ),
    "readPdfFile": (
        "Read a PDF document (at most 30 MB): its content is returned as a file.",
        _PATH_ONLY,
    ),
    "writeTextFile": (
        "Create a text file, or OVERWRITE it if it exists, with the given UTF-8 text. "
        "Missing parent directories are created.",
        _schema({"path": _PATH, "text": {"type": "string"}}, ("path", "text")),
    ),
    "appendTextFile": (
        "Append text to the end of an existing file. No newline is added for you.",
        _schema({"path": _PATH, "text": {"type": "string"}}, ("path", "text")),
    ),
    "editTextFile": (
        "Replace the first exact occurrence of oldText with newText in a text file "
        "(line endings are normalised to LF). To add at the end, use appendTextFile.",
        _schema(
            {
                "path": _PATH,
                "newText": {"type": "string", "description": "Replacement text."},
                "oldText": {
                    "type": "string",
                    "minLength": 1,
                    "description": "Exact text to find.",
                },
            },
            ("path", "newText", "oldText"),
        ),
    ),
    "moveFile": (
        "Move or rename a file or directory. The destination must not exist; its parent "
        "directories are created.",
        _schema({"source": _STRING, "destination": _STRING}, ("source", "destination")),
    ),
    "deleteFile": (
        "Delete a file. For directories use deleteDirectory.",
        _PATH_ONLY,
    ),
    "getFileInfo": (
        "Get metadata of a file or directory: type, size, MIME type, timestamps and permissions.",
        _PATH_ONLY,
    ),
    "listDirectory": (
        "List the entries of a directory (name, type, size, modification time), sorted "
        "by name. Not recursive.",
        _PATH_ONLY,
    ),
    "createDirectory": (
        "Create a directory, including missing parent directories.",
        _PATH_ONLY,
    ),
    "deleteDirectory": (
        "Delete a directory. A non-empty directory needs recursive: true.",
        _schema(
            {
                "path": _PATH,
                "recursive": {
                    "type": "boolean",
                    "description": "Also delete its contents (needed when not empty).",
                },
            },
            ("path",),
        ),
    ),
}

TOOL_NAMES: tuple[str, ...] = tuple(TOOL_SPECS)
