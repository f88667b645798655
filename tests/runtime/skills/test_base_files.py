"""File and directory tools of the base skill: result shapes and §9's error messages."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from runtime.skills.base import BaseSkill
from runtime.skills.base.info import format_size
from runtime.skills.manager import SkillContext

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


@pytest.fixture
async def skill(tmp_path: Path) -> BaseSkill:
    base = BaseSkill()
    await base.start(SkillContext(workspace=tmp_path, env={}))
    return base


@pytest.fixture
def ws(skill: BaseSkill) -> Path:
    return Path(skill.workspace)


async def call(skill: BaseSkill, tool: str, **args: object) -> dict:
    parts = await skill.call(tool, args)
    assert len(parts) == 1
    return json.loads(parts[0].text)


def error(message: str) -> dict:
    return {"error": "Error", "message": message}


def read_only(path: Path) -> None:
    path.chmod(0o444)


# readTextFile


async def test_read_text_file_returns_the_path_as_given(skill, ws):
    (ws / "a.txt").write_text("one\ntwo\nthree")
    assert await call(skill, "readTextFile", path="a.txt") == {
        "path": "a.txt",
        "content": "one\ntwo\nthree",
        "from": 0,
        "to": 3,
    }


async def test_read_text_file_line_range_is_zero_based_and_exclusive(skill, ws):
    (ws / "a.txt").write_text("one\ntwo\nthree\nfour")
    result = await call(skill, "readTextFile", path="a.txt", **{"from": 1, "to": 3})
    assert result == {"path": "a.txt", "content": "two\nthree", "from": 1, "to": 3}


async def test_read_text_file_missing(skill):
    assert await call(skill, "readTextFile", path="nope.txt") == error(
        "File nope.txt does not exist."
    )


async def test_read_text_file_replaces_invalid_utf8(skill, ws):
    (ws / "bin.txt").write_bytes(b"ok\xff")
    assert (await call(skill, "readTextFile", path="bin.txt"))["content"] == "ok\ufffd"


# writeTextFile


async def test_write_text_file_creates_all_missing_parents(skill, ws):
    result = await call(skill, "writeTextFile", path="a/b/c/d.txt", text="héllo\r\n")
    assert result == {"path": str(ws / "a" / "b" / "c" / "d.txt"), "text": "héllo\r\n"}
    assert (ws / "a/b/c/d.txt").read_bytes() == "héllo\r\n".encode()


async def test_write_text_file_overwrites(skill, ws):
    (ws / "a.txt").write_text("a much longer original text")
    await call(skill, "writeTextFile", path="a.txt", text="short")
    assert (ws / "a.txt").read_text() == "short"


async def test_write_text_file_has_no_size_limit(skill, ws):
    text = "x" * 50_000
    await call(skill, "writeTextFile", path="big.txt", text=text)
    assert (ws / "big.txt").read_text() == text


async def test_write_text_file_not_writable(skill, ws):
    (ws / "ro.txt").write_text("keep")
    read_only(ws / "ro.txt")
    assert await call(skill, "writeTextFile", path="ro.txt", text="x") == error(
        "File ro.txt is not writable"
    )
    assert (ws / "ro.txt").read_text() == "keep"


# appendTextFile


async def test_append_text_file_adds_no_newline(skill, ws):
    (ws / "log.txt").write_text("a")
    assert await call(skill, "appendTextFile", path="log.txt", text="b") == {
        "path": str(ws / "log.txt"),
        "text": "b",
    }
    assert (ws / "log.txt").read_text() == "ab"


async def test_append_text_file_errors(skill, ws):
    assert await call(skill, "appendTextFile", path="no.txt", text="x") == error(
        "File no.txt does not exist."
    )
    (ws / "ro.txt").write_text("")
    read_only(ws / "ro.txt")
    assert await call(skill, "appendTextFile", path="ro.txt", text="x") == error(
        "File ro.txt is not writable"
    )


# editTextFile


async def test_edit_text_file_replaces_the_first_occurrence_only(skill, ws):
    (ws / "a.txt").write_text("cat cat cat")
    result = await call(skill, "editTextFile", path="a.txt", oldText="cat", newText="dog")
    assert result == {"path": str(ws / "a.txt"), "newText": "dog", "oldText": "cat"}
    assert (ws / "a.txt").read_text() == "dog cat cat"


async def test_edit_text_file_normalises_crlf(skill, ws):
    (ws / "a.txt").write_bytes(b"one\r\ntwo\r\nthree\r\n")
    await call(skill, "editTextFile", path="a.txt", oldText="one\ntwo", newText="1\r\n2")
    assert (ws / "a.txt").read_bytes() == b"1\n2\nthree\n"


async def test_edit_text_file_errors(skill, ws):
    (ws / "a.txt").write_text("abc")
    assert await call(skill, "editTextFile", path="a.txt", oldText="zzz", newText="y") == error(
        f"Could not find exact match for oldText in file {ws / 'a.txt'}"
    )
    assert await call(skill, "editTextFile", path="b.txt", oldText="a", newText="b") == error(
        "File b.txt does not exist."
    )
    read_only(ws / "a.txt")
    assert await call(skill, "editTextFile", path="a.txt", oldText="a", newText="b") == error(
        "File a.txt is not writable"
    )


# moveFile


async def test_move_file_creates_destination_parents(skill, ws):
    (ws / "a.txt").write_text("moved")
    result = await call(skill, "moveFile", source="a.txt", destination="x/y/b.txt")
    assert result == {"source": str(ws / "a.txt"), "destination": str(ws / "x/y/b.txt")}
    assert (ws / "x/y/b.txt").read_text() == "moved"
    assert not (ws / "a.txt").exists()


async def test_move_file_errors(skill, ws):
    assert await call(skill, "moveFile", source="no.txt", destination="b.txt") == error(
        "Source file no.txt does not exist."
    )
    (ws / "a.txt").write_text("a")
    (ws / "b.txt").write_text("b")
    assert await call(skill, "moveFile", source="a.txt", destination="b.txt") == error(
        "Destination b.txt already exists."
    )
    read_only(ws / "a.txt")
    assert await call(skill, "moveFile", source="a.txt", destination="c.txt") == error(
        "Source file a.txt is not writable"
    )
    assert (ws / "b.txt").read_text() == "b"


# deleteFile


async def test_delete_file(skill, ws):
    (ws / "a.txt").write_text("a")
    assert await call(skill, "deleteFile", path="a.txt") == {"path": str(ws / "a.txt")}
    assert not (ws / "a.txt").exists()


async def test_delete_file_errors(skill, ws):
    assert await call(skill, "deleteFile", path="no.txt") == error("File no.txt does not exist.")
    (ws / "d").mkdir()
    assert await call(skill, "deleteFile", path="d") == error(
        "Path d is a directory. Use delete directory tool instead."
    )
    (ws / "ro.txt").write_text("")
    read_only(ws / "ro.txt")
    assert await call(skill, "deleteFile", path="ro.txt") == error("File ro.txt is not writable")
    assert (ws / "ro.txt").exists()


# getFileInfo


async def test_get_file_info_of_a_file(skill, ws):
    (ws / "data.json").write_bytes(b"x" * 1536)
    info = await call(skill, "getFileInfo", path="data.json")
    timestamps = {key: info.pop(key) for key in ("created", "modified", "accessed")}
    assert all(ISO.match(value) for value in timestamps.values())
    assert info == {
        "exists": True,
        "path": str(ws / "data.json"),
        "absolutePath": str(ws / "data.json"),
        "name": "data.json",
        "directory": str(ws),
        "extension": ".json",
        "type": "file",
        "mimeType": "application/json",
        "size": 1536,
        "sizeFormatted": "1.50 KB",
        "permissions": {"readable": True, "writable": True, "executable": False},
    }


async def test_get_file_info_of_a_directory_and_unknown_types(skill, ws):
    (ws / "d").mkdir()
    info = await call(skill, "getFileInfo", path="d")
    assert (info["type"], info["extension"], info["mimeType"]) == ("directory", None, None)
    (ws / "blob.zzz-unknown").write_bytes(b"")
    (ws / "blob.zzz-unknown").chmod(0o755)
    info = await call(skill, "getFileInfo", path="blob.zzz-unknown")
    assert info["mimeType"] == "application/octet-stream"
    assert info["sizeFormatted"] == "0 B"
    assert info["permissions"]["executable"] is True


async def test_get_file_info_missing(skill):
    assert await call(skill, "getFileInfo", path="nope") == error(
        "File or directory nope does not exist"
    )


@pytest.mark.parametrize(
    ("size", "text"),
    [(0, "0 B"), (1, "1.00 B"), (1023, "1023.00 B"), (1024, "1.00 KB"), (5 * 1024**3, "5.00 GB")],
)
def test_format_size(size, text):
    assert format_size(size) == text


# listDirectory


async def test_list_directory_items_are_sorted_with_details(skill, ws):
    (ws / "b.txt").write_text("12345")
    (ws / "a").mkdir()
    (ws / ".env").write_text("")
    result = await call(skill, "listDirectory", path=".")
    assert result["path"] == str(ws)
    assert [(i["name"], i["path"], i["type"]) for i in result["items"]] == [
        (".env", ".env", "file"),
        ("a", "a", "directory"),
        ("b.txt", "b.txt", "file"),
    ]
    assert result["items"][2]["size"] == 5
    assert all(ISO.match(item["modified"]) for item in result["items"])


async def test_list_directory_errors(skill, ws):
    assert await call(skill, "listDirectory", path="nope") == error(
        "Directory nope does not exist."
    )
    (ws / "f.txt").write_text("")
    assert await call(skill, "listDirectory", path="f.txt") == error(
        "Path f.txt is not a directory."
    )


# createDirectory / deleteDirectory


async def test_create_directory_with_parents(skill, ws):
    assert await call(skill, "createDirectory", path="a/b/c") == {"path": str(ws / "a/b/c")}
    assert (ws / "a/b/c").is_dir()
    assert await call(skill, "createDirectory", path="a/b") == error(
        "Directory a/b already exists"
    )


async def test_delete_directory(skill, ws):
    (ws / "empty").mkdir()
    assert await call(skill, "deleteDirectory", path="empty") == {"path": str(ws / "empty")}
    assert not (ws / "empty").exists()


async def test_delete_directory_non_empty_needs_recursive(skill, ws):
    (ws / "full" / "sub").mkdir(parents=True)
    (ws / "full" / "sub" / "f.txt").write_text("x")
    result = await call(skill, "deleteDirectory", path="full")
    assert result["error"] == "OSError"
    assert "Directory not empty" in result["message"]
    assert (ws / "full" / "sub" / "f.txt").exists()
    await call(skill, "deleteDirectory", path="full", recursive=True)
    assert not (ws / "full").exists()


async def test_delete_directory_errors(skill, ws):
    assert await call(skill, "deleteDirectory", path="nope") == error(
        "Directory nope does not exist."
    )
    (ws / "f.txt").write_text("")
    assert await call(skill, "deleteDirectory", path="f.txt") == error(
        "Path f.txt is not a directory. Use deleteFile tool instead."
    )
    result = await call(skill, "deleteDirectory", path=".", recursive=True)
    assert result["error"] == "Error"
    assert "workspace" in result["message"]
    assert (ws / "f.txt").exists()
    (ws / "ro").mkdir()
    (ws / "ro").chmod(0o555)
    try:
        assert await call(skill, "deleteDirectory", path="ro") == error(
            "Directory ro is not writable"
        )
    finally:
        (ws / "ro").chmod(0o755)
    assert os.path.isdir(ws / "ro")
