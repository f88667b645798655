"""``perstack install``: progress lines, the lockfile it writes, and its errors."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from runtime.cli import main
from runtime.config import load_config
from runtime.skills.lockfile import load_lockfile
from tests.skills.mcp_testkit import TOOLBOX


def write_config(directory: Path, extra: str = "") -> Path:
    python = sys.executable
    path = directory / "perstack.toml"
    path.write_text(
        f"""
[experts."clock"]
instruction = "Tell the time."

[experts."clock".skills."@perstack/base"]
type = "mcpStdioSkill"
command = "npx"
packageName = "@perstack/base"
pick = ["attemptCompletion", "readTextFile"]

[experts."clock".skills.time]
type = "mcpStdioSkill"
command = '{python}'
args = ["-m", "mcp_server_time", "--local-timezone", "UTC"]

[experts."clock".skills.box]
type = "mcpStdioSkill"
command = '{python}'
args = ['{TOOLBOX}']
pick = ["echo", "image"]
requiredEnv = ["BOX_TOKEN"]

[experts."clock".skills.ask]
type = "interactiveSkill"
[experts."clock".skills.ask.tools.askUser]
description = "Ask the user"
inputJsonSchema = '{{"type":"object","properties":{{"question":{{"type":"string"}}}}}}'

[experts."plain"]
instruction = "Only the base skill."
{extra}
"""
    )
    (directory / ".env").write_text("BOX_TOKEN=from-dotenv\n")
    return path


def test_install_writes_the_lockfile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config_path = write_config(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BOX_TOKEN", raising=False)

    assert main(["install"]) == 0

    out = capsys.readouterr().out.splitlines()
    lock_path = tmp_path / "perstack.lock"
    assert out == [
        "Resolving experts...",
        "Found 2 expert(s)",
        "Collecting tool definitions for clock...",
        "  Found 7 tool(s)",  # 2 base + 2 time + 2 box + 1 interactive
        "Collecting tool definitions for plain...",
        "  Found 17 tool(s)",  # the whole base skill
        f"Generated {lock_path}",
    ]
    lock = load_lockfile(lock_path)
    assert lock is not None
    clock = lock.experts["clock"]
    assert [(t.skill_name, t.name) for t in clock.tool_definitions] == [
        ("@perstack/base", "attemptCompletion"),
        ("@perstack/base", "readTextFile"),
        ("time", "get_current_time"),
        ("time", "convert_time"),
        ("box", "echo"),
        ("box", "image"),
        ("ask", "askUser"),
    ]
    locked = lock.locked_tools(load_config(config_path))
    assert set(locked) == {"clock"}
    assert set(locked["clock"]) == {"time", "box"}


def test_install_with_explicit_config_and_env_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    write_config(project)
    (project / ".env").unlink()
    (tmp_path / "box.env").write_text("BOX_TOKEN=elsewhere\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BOX_TOKEN", raising=False)

    assert main(["install", "--config", "project/perstack.toml", "--env-path", "box.env"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == f"Generated {project / 'perstack.lock'}"
    assert (project / "perstack.lock").is_file()


def test_install_fails_on_a_skill_that_cannot_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = f"""
[experts."plain".skills.broken]
type = "mcpStdioSkill"
command = '{sys.executable}'
args = ['{TOOLBOX}', "--fail-on-start", "no license"]
"""
    write_config(tmp_path, broken)
    monkeypatch.chdir(tmp_path)

    assert main(["install"]) == 1

    captured = capsys.readouterr()
    assert captured.err.splitlines() == [
        "Error: Skill broken failed to start: the server exited with code 1: no license"
    ]
    assert not (tmp_path / "perstack.lock").exists()


def test_install_missing_required_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    write_config(tmp_path)
    (tmp_path / ".env").unlink()
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BOX_TOKEN", raising=False)

    assert main(["install"]) == 1
    assert capsys.readouterr().err.strip() == (
        "Error: Skill box requires environment variable BOX_TOKEN"
    )
