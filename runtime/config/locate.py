"""Line numbers for TOML paths, which ``tomllib`` does not report.

:class:`TomlLocator` scans the text once and records the line of every table header and
every key assignment (dotted keys, keys inside inline tables, elements of arrays) under
its full path, e.g. ``("experts", "writer", "skills", "fs", "type")``. A problem is then
placed on the line of the longest recorded prefix of its path, so a missing required
field lands on the line of the table that should hold it.

The scanner assumes the text is valid TOML (``tomllib`` has parsed it already); it never
raises, and whatever it could not scan simply resolves to a shorter prefix.
"""

from __future__ import annotations

import bisect
import re
import tomllib
from collections.abc import Sequence

__all__ = ["TomlLocator", "TomlPath"]

#: A path into the parsed document: table keys and array indices.
TomlPath = tuple[str | int, ...]

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_SCALAR_END = frozenset(",]}\n#")


class TomlLocator:
    """Maps document paths to 1-based line numbers of a TOML text."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._newlines = [i for i, char in enumerate(text) if char == "\n"]
        self._lines: dict[TomlPath, int] = {}
        self._pos = 0
        try:
            self._scan_document()
        except (IndexError, ValueError, tomllib.TOMLDecodeError):
            # Only reachable on text tomllib rejected; keep what was recorded so far.
            pass

    @property
    def last_line(self) -> int:
        """The number of the last line of the text (at least 1)."""
        return max(1, len(self._newlines) + (0 if self._text.endswith("\n") else 1))

    def line_of(self, path: Sequence[str | int]) -> int:
        """The line of ``path``, or of its longest recorded prefix (line 1 if none)."""
        path = tuple(path)
        for end in range(len(path), 0, -1):
            line = self._lines.get(path[:end])
            if line is not None:
                return line
        return 1

    def line_at(self, offset: int) -> int:
        """The 1-based line holding character ``offset``."""
        return bisect.bisect_left(self._newlines, offset) + 1

    # -- scanning -------------------------------------------------------------------

    def _record(self, path: TomlPath, offset: int) -> None:
        # The first mention wins: a table's header line beats later sub-table headers.
        self._lines.setdefault(path, self.line_at(offset))

    def _peek(self, count: int = 1) -> str:
        return self._text[self._pos : self._pos + count]

    def _skip_blank(self, newlines: bool) -> None:
        """Skip spaces, tabs, comments and (when ``newlines``) line breaks."""
        text = self._text
        while self._pos < len(text):
            char = text[self._pos]
            if char in " \t\r" or (newlines and char == "\n"):
                self._pos += 1
            elif char == "#":
                end = text.find("\n", self._pos)
                self._pos = len(text) if end < 0 else end
            else:
                return

    def _scan_document(self) -> None:
        table: TomlPath = ()
        array_tables: dict[TomlPath, int] = {}
        while True:
            self._skip_blank(newlines=True)
            if self._pos >= len(self._text):
                return
            start = self._pos
            if self._peek(2) == "[[":
                self._pos += 2
                keys = self._scan_key()
                self._pos = self._text.index("]]", self._pos) + 2
                table = self._resolve_header(keys, array_tables, start, is_array=True)
            elif self._peek() == "[":
                self._pos += 1
                keys = self._scan_key()
                self._pos = self._text.index("]", self._pos) + 1
                table = self._resolve_header(keys, array_tables, start, is_array=False)
            else:
                self._scan_key_value(table)

    def _resolve_header(
        self, keys: list[str], array_tables: dict[TomlPath, int], offset: int, is_array: bool
    ) -> TomlPath:
        """The full path a header names; ``[[a]]`` elements get their index appended."""
        path: TomlPath = ()
        for position, key in enumerate(keys):
            path += (key,)
            is_last = position == len(keys) - 1
            if is_last and is_array:
                index = array_tables.get(path, -1) + 1
                array_tables[path] = index
                self._record(path, offset)
                path += (index,)
            elif path in array_tables:
                # ``[a.b]`` after ``[[a]]`` refers to the last element of ``a``.
                path += (array_tables[path],)
            self._record(path, offset)
        return path

    def _scan_key(self) -> list[str]:
        """A (possibly dotted, possibly quoted) key; leaves the position after it."""
        keys: list[str] = []
        while True:
            self._skip_blank(newlines=False)
            char = self._peek()
            if char == '"' or char == "'":
                start = self._pos
                self._skip_string()
                raw = self._text[start : self._pos]
                keys.append(tomllib.loads(f"k = {raw}")["k"] if char == '"' else raw[1:-1])
            else:
                match = _BARE_KEY.match(self._text, self._pos)
                if match is None:
                    raise ValueError("not a key")
                keys.append(match.group())
                self._pos = match.end()
            self._skip_blank(newlines=False)
            if self._peek() != ".":
                return keys
            self._pos += 1

    def _scan_key_value(self, table: TomlPath) -> None:
        start = self._pos
        keys = self._scan_key()
        path = table
        for key in keys:
            path += (key,)
            self._record(path, start)
        self._skip_blank(newlines=False)
        if self._peek() != "=":
            raise ValueError("expected '='")
        self._pos += 1
        self._skip_blank(newlines=False)
        self._scan_value(path)

    def _scan_value(self, path: TomlPath) -> None:
        char = self._peek()
        if not char or char in _SCALAR_END:
            raise ValueError("expected a value")  # only in text tomllib rejected
        if char == '"' or char == "'":
            self._skip_string()
        elif char == "[":
            self._scan_array(path)
        elif char == "{":
            self._scan_inline_table(path)
        else:
            text = self._text
            while self._pos < len(text) and text[self._pos] not in _SCALAR_END:
                self._pos += 1

    def _scan_array(self, path: TomlPath) -> None:
        self._pos += 1  # "["
        index = 0
        while True:
            self._skip_blank(newlines=True)
            if self._peek() == "]":
                self._pos += 1
                return
            self._record(path + (index,), self._pos)
            self._scan_value(path + (index,))
            self._skip_blank(newlines=True)
            if self._peek() == ",":
                self._pos += 1
            elif self._peek() != "]":
                raise ValueError("expected ',' or ']'")
            index += 1

    def _scan_inline_table(self, path: TomlPath) -> None:
        self._pos += 1  # "{"
        while True:
            # Newlines are not valid TOML 1.0 here, but skipping them costs nothing.
            self._skip_blank(newlines=True)
            if self._peek() == "}":
                self._pos += 1
                return
            self._scan_key_value(path)
            self._skip_blank(newlines=True)
            if self._peek() == ",":
                self._pos += 1
            elif self._peek() != "}":
                raise ValueError("expected ',' or '}'")

    def _skip_string(self) -> None:
        """Move past a basic, literal or multi-line string starting at the position."""
        text = self._text
        quote = text[self._pos]
        if text.startswith(quote * 3, self._pos):
            delimiter = quote * 3
            self._pos += 3
        else:
            delimiter = quote
            self._pos += 1
        escapes = quote == '"'
        while True:
            char = text[self._pos]
            if escapes and char == "\\":
                self._pos += 2
            elif text.startswith(delimiter, self._pos):
                self._pos += len(delimiter)
                if len(delimiter) == 3:
                    # Up to two quotes right before the closing ones belong to the string.
                    extra = 0
                    while extra < 2 and self._peek() == quote:
                        self._pos += 1
                        extra += 1
                return
            else:
                self._pos += 1
