"""Workspace confinement of the base skill: traversal, symlinks, ``~`` and ``perstack``."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from runtime.skills.base import BaseSkill
from runtime.skills.base.files import read_bytes
from runtime.skills.base.paths import SYMLINK_DENIED, Workspace
from runtime.skills.base.results import ToolError
from runtime.skills.manager import SkillContext

PERSTACK_DENIED = "Access denied - perstack directory is not allowed"
SYMLINK_OUTSIDE = "Access denied - symlink target outside allowed directories"
PARENT_OUTSIDE = "Access denied - parent directory outside allowed directories"


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    ws.mkdir()
    return ws


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    other = tmp_path / "outside"
    other.mkdir()
    (other / "secret.txt").write_text("top secret")
    return other


@pytest.fixture
async def skill(workspace: Path) -> BaseSkill:
    base = BaseSkill()
    await base.start(SkillContext(workspace=workspace, env={}))
    return base


async def call(skill: BaseSkill, tool: str, **args: object) -> dict:
    parts = await skill.call(tool, args)
    assert len(parts) == 1
    return json.loads(parts[0].text)


def denied(message: str) -> dict:
    return {"error": "Error", "message": message}


async def test_relative_paths_resolve_against_the_workspace(skill, workspace):
    result = await call(skill, "writeTextFile", path="notes/a.txt", text="x")
    assert result["path"] == os.path.join(os.path.realpath(workspace), "notes", "a.txt")
    assert (workspace / "notes" / "a.txt").read_text() == "x"


async def test_dotdot_into_an_existing_outside_directory_is_refused(skill, workspace):
    assert await call(skill, "writeTextFile", path="../escaped.txt", text="x") == denied(
        PARENT_OUTSIDE
    )
    assert not (workspace.parent / "escaped.txt").exists()


async def test_dotdot_into_a_missing_outside_directory_names_both_paths(skill, workspace):
    result = await call(skill, "writeTextFile", path="../nowhere/escaped.txt", text="x")
    real = os.path.realpath(workspace)
    expected = os.path.join(os.path.dirname(real), "nowhere", "escaped.txt")
    assert result == denied(
        f"Access denied - path outside allowed directories: {expected} not in {real}"
    )
    assert not (workspace.parent / "nowhere").exists()


async def test_dotdot_that_comes_back_inside_is_allowed(skill, workspace):
    (workspace / "a.txt").write_text("hello")
    result = await call(skill, "readTextFile", path=f"../{workspace.name}/a.txt")
    assert result["content"] == "hello"


async def test_absolute_paths_outside_are_refused(skill, outside):
    secret = str(outside / "secret.txt")
    assert await call(skill, "readTextFile", path=secret) == denied(SYMLINK_OUTSIDE)
    assert await call(skill, "deleteFile", path=secret) == denied(SYMLINK_OUTSIDE)
    assert await call(skill, "writeTextFile", path=str(outside / "new.txt"), text="x") == (
        denied(PARENT_OUTSIDE)
    )
    assert (outside / "secret.txt").read_text() == "top secret"
    assert not (outside / "new.txt").exists()


async def test_a_symlink_pointing_out_is_refused_for_reads_and_writes(skill, workspace, outside):
    (workspace / "link.txt").symlink_to(outside / "secret.txt")
    assert await call(skill, "readTextFile", path="link.txt") == denied(SYMLINK_OUTSIDE)
    assert await call(skill, "writeTextFile", path="link.txt", text="pwned") == denied(
        SYMLINK_OUTSIDE
    )
    assert await call(skill, "readImageFile", path="link.txt") == denied(SYMLINK_OUTSIDE)
    assert (outside / "secret.txt").read_text() == "top secret"


async def test_new_files_below_a_directory_link_pointing_out_are_refused(
    skill, workspace, outside
):
    (workspace / "out").symlink_to(outside, target_is_directory=True)
    assert await call(skill, "writeTextFile", path="out/new.txt", text="x") == denied(
        PARENT_OUTSIDE
    )
    assert await call(skill, "writeTextFile", path="out/deep/new.txt", text="x") == denied(
        PARENT_OUTSIDE
    )
    assert await call(skill, "createDirectory", path="out/made") == denied(PARENT_OUTSIDE)
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]


async def test_a_dangling_symlink_is_never_written_through(skill, workspace, outside):
    target = outside / "created-by-link.txt"
    (workspace / "dangling.txt").symlink_to(target)
    assert await call(skill, "writeTextFile", path="dangling.txt", text="x") == denied(
        SYMLINK_DENIED
    )
    assert await call(skill, "appendTextFile", path="dangling.txt", text="x") == denied(
        SYMLINK_DENIED
    )
    assert not target.exists()


async def test_a_dangling_directory_link_pointing_out_is_refused(skill, workspace, outside):
    (workspace / "gone").symlink_to(outside / "missing-dir", target_is_directory=True)
    assert await call(skill, "writeTextFile", path="gone/x.txt", text="x") == denied(
        PARENT_OUTSIDE
    )
    assert not (outside / "missing-dir").exists()


async def test_symlinks_pointing_inside_are_followed(skill, workspace):
    (workspace / "real.txt").write_text("inside")
    (workspace / "alias.txt").symlink_to(workspace / "real.txt")
    read = await call(skill, "readTextFile", path="alias.txt")
    assert read["content"] == "inside"
    written = await call(skill, "writeTextFile", path="alias.txt", text="changed")
    assert written["path"] == os.path.realpath(workspace / "real.txt")
    assert (workspace / "real.txt").read_text() == "changed"
    assert (workspace / "alias.txt").is_symlink()


def test_opening_a_symlink_itself_is_refused(workspace):
    (workspace / "real.txt").write_text("inside")
    (workspace / "alias.txt").symlink_to(workspace / "real.txt")
    with pytest.raises(ToolError, match=SYMLINK_DENIED):
        read_bytes(str(workspace / "alias.txt"))


@pytest.mark.parametrize(
    "path",
    ["perstack", "perstack/jobs/x.json", "./perstack/x", "PerStack/x", "PERSTACK", "a/../perstack"],
)
async def test_the_perstack_directory_is_off_limits(skill, workspace, path):
    (workspace / "perstack" / "jobs").mkdir(parents=True)
    assert await call(skill, "getFileInfo", path=path) == denied(PERSTACK_DENIED)
    assert await call(skill, "writeTextFile", path=path, text="x") == denied(PERSTACK_DENIED)


async def test_perstack_by_absolute_path_or_symlink_is_off_limits(skill, workspace):
    (workspace / "perstack").mkdir()
    (workspace / "store").symlink_to(workspace / "perstack", target_is_directory=True)
    absolute = os.path.join(os.path.realpath(workspace), "perstack", "x.json")
    assert await call(skill, "writeTextFile", path=absolute, text="x") == denied(PERSTACK_DENIED)
    assert await call(skill, "listDirectory", path="store") == denied(PERSTACK_DENIED)
    assert await call(skill, "writeTextFile", path="store/x.json", text="x") == denied(
        PERSTACK_DENIED
    )
    assert list((workspace / "perstack").iterdir()) == []


async def test_names_that_merely_start_with_perstack_are_allowed(skill, workspace):
    result = await call(skill, "writeTextFile", path="perstack-notes.txt", text="ok")
    assert result["text"] == "ok"
    assert (workspace / "perstack-notes.txt").read_text() == "ok"


async def test_list_directory_hides_only_the_root_perstack_dir(skill, workspace):
    (workspace / "perstack").mkdir()
    (workspace / "sub" / "perstack").mkdir(parents=True)
    (workspace / ".hidden").write_text("")
    root = await call(skill, "listDirectory", path=".")
    assert [item["name"] for item in root["items"]] == [".hidden", "sub"]
    sub = await call(skill, "listDirectory", path="sub")
    assert [item["name"] for item in sub["items"]] == ["perstack"]


async def test_list_directory_survives_a_link_pointing_out(skill, workspace, outside):
    (workspace / "a.txt").write_text("a")
    (workspace / "out").symlink_to(outside, target_is_directory=True)
    result = await call(skill, "listDirectory", path=".")
    assert [item["name"] for item in result["items"]] == ["a.txt", "out"]
    assert await call(skill, "listDirectory", path="out") == denied(SYMLINK_OUTSIDE)


async def test_tilde_expands_to_the_home_directory(skill, workspace, outside, monkeypatch):
    monkeypatch.setenv("HOME", str(outside))
    assert await call(skill, "readTextFile", path="~/secret.txt") == denied(SYMLINK_OUTSIDE)
    home_inside = workspace / "home"
    home_inside.mkdir()
    monkeypatch.setenv("HOME", str(home_inside))
    await call(skill, "writeTextFile", path="~/note.txt", text="from home")
    assert (home_inside / "note.txt").read_text() == "from home"


async def test_exec_cwd_is_confined(skill, outside):
    result = await call(
        skill, "exec", command="pwd", args=[], env={}, cwd=str(outside), stdout=True, stderr=True
    )
    assert result == {"error": SYMLINK_OUTSIDE}
    result = await call(
        skill, "exec", command="pwd", args=[], env={}, cwd="perstack", stdout=True, stderr=True
    )
    assert result == {"error": PERSTACK_DENIED}


def test_workspace_resolve_returns_real_paths(tmp_path):
    real = tmp_path / "real"
    (real / "d").mkdir(parents=True)
    (tmp_path / "alias").symlink_to(real, target_is_directory=True)
    ws = Workspace(tmp_path / "alias")
    assert ws.root == os.path.realpath(real)
    assert ws.resolve("d") == os.path.join(ws.root, "d")
    assert ws.resolve("d/x/y.txt") == os.path.join(ws.root, "d", "x", "y.txt")
    assert ws.resolve(".") == ws.root
    assert ws.contains(ws.root + "/d") and not ws.contains(ws.root + "-other")
