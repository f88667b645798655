"""The exec tool (real child processes) and the shared child-environment filter."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from runtime.skills.base import BaseSkill
from runtime.skills.base.exec import MAX_OUTPUT_BYTES, NO_OUTPUT
from runtime.skills.environment import PROTECTED_ENV_VARS, SAFE_ENV_VARS, safe_env
from runtime.skills.manager import SkillContext


@pytest.fixture
async def skill(tmp_path: Path) -> BaseSkill:
    base = BaseSkill()
    await base.start(SkillContext(workspace=tmp_path, env={}))
    return base


async def run_python(
    skill: BaseSkill,
    code: str,
    *,
    stdout: bool = True,
    stderr: bool = True,
    env: dict[str, str] | None = None,
    cwd: str = ".",
    **extra: object,
) -> dict:
    args = {
        "command": sys.executable,
        "args": ["-c", code],
        "env": env or {},
        "cwd": cwd,
        "stdout": stdout,
        "stderr": stderr,
        **extra,
    }
    parts = await skill.call("exec", args)
    assert len(parts) == 1
    return json.loads(parts[0].text)


BOTH_STREAMS = "import sys; sys.stdout.write('out;'); sys.stdout.flush(); sys.stderr.write('err;')"


async def test_stdout_and_stderr_flags_select_the_output(skill):
    assert await run_python(skill, BOTH_STREAMS) == {"output": "out;err;"}
    assert await run_python(skill, BOTH_STREAMS, stderr=False) == {"output": "out;"}
    assert await run_python(skill, BOTH_STREAMS, stdout=False) == {"output": "err;"}


async def test_blank_output_gets_a_placeholder(skill):
    assert await run_python(skill, "print('   ')") == {"output": NO_OUTPUT}
    assert await run_python(skill, BOTH_STREAMS, stdout=False, stderr=False) == {
        "output": NO_OUTPUT
    }


async def test_no_shell_arguments_are_passed_literally(skill):
    code = "import sys, json; print(json.dumps(sys.argv[1:]))"
    parts = await skill.call(
        "exec",
        {
            "command": sys.executable,
            "args": ["-c", code, "$HOME", "*", "a; rm -rf /", "`id`"],
            "env": {},
            "cwd": ".",
            "stdout": True,
            "stderr": False,
        },
    )
    output = json.loads(parts[0].text)["output"]
    assert json.loads(output) == ["$HOME", "*", "a; rm -rf /", "`id`"]


async def test_cwd_is_taken_inside_the_workspace(skill):
    (Path(skill.workspace) / "sub").mkdir()
    result = await run_python(skill, "import os; print(os.getcwd(), end='')", cwd="sub")
    assert result == {"output": os.path.join(skill.workspace, "sub")}


async def test_the_child_sees_only_safe_variables_and_its_env(skill, monkeypatch):
    monkeypatch.setenv("SECRET_API_KEY", "sk-should-never-leak")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-never")
    monkeypatch.setenv("TERM", "xterm-test")
    code = "import os, json; print(json.dumps(dict(os.environ)))"
    result = await run_python(
        skill,
        code,
        stderr=False,
        env={"GREETING": "hi", "path": "/evil", "LD_PRELOAD": "/evil.so", "PythonPath": "/x"},
    )
    child_env = json.loads(result["output"])
    assert "SECRET_API_KEY" not in child_env
    assert "ANTHROPIC_API_KEY" not in child_env
    assert "sk-should-never-leak" not in result["output"]
    assert child_env["GREETING"] == "hi"
    assert child_env["TERM"] == "xterm-test"
    assert child_env["PATH"] == os.environ["PATH"]
    assert "path" not in child_env and "LD_PRELOAD" not in child_env
    assert "PythonPath" not in child_env


async def test_a_timeout_kills_the_child(skill):
    code = (
        "import os, sys, time; print(os.getpid(), flush=True); "
        "sys.stderr.write('started'); sys.stderr.flush(); time.sleep(60)"
    )
    result = await run_python(skill, code, timeout=300)
    assert result["error"] == "Command timed out after 300ms."
    assert result["stderr"] == "started"
    pid = int(result["stdout"])
    with pytest.raises(ProcessLookupError):  # killed and reaped before the call returned
        os.kill(pid, 0)


async def test_a_failing_command_reports_its_stderr(skill):
    code = "import sys; print('partial'); sys.stderr.write('boom'); sys.exit(3)"
    result = await run_python(skill, code)
    assert result["error"] == f"Command failed: {sys.executable} -c {code}\nboom"
    assert result["stdout"] == "partial\n"
    assert result["stderr"] == "boom"
    result = await run_python(skill, code, stdout=False, stderr=False)
    assert set(result) == {"error"}


async def test_a_missing_command_is_an_error_result(skill):
    parts = await skill.call(
        "exec",
        {
            "command": "definitely-not-a-command-xyz",
            "args": [],
            "env": {},
            "cwd": ".",
            "stdout": True,
            "stderr": True,
        },
    )
    result = json.loads(parts[0].text)
    assert "No such file or directory" in result["error"]
    assert "definitely-not-a-command-xyz" in result["error"]


async def test_output_is_capped(skill):
    code = f"import sys; sys.stdout.write('x' * {MAX_OUTPUT_BYTES + 1024 * 1024})"
    result = await run_python(skill, code, stderr=False)
    assert result["error"] == "stdout maxBuffer length exceeded"
    assert len(result["stdout"]) == MAX_OUTPUT_BYTES


async def test_missing_required_arguments_are_an_error_result(skill):
    parts = await skill.call("exec", {"command": "ls", "args": []})
    result = json.loads(parts[0].text)
    assert result["error"] == "Error"
    assert result["message"].startswith("Invalid arguments for tool exec:")
    assert "is a required property" in result["message"]
    parts = await skill.call(
        "exec",
        {"command": "ls", "args": "-la", "env": {}, "cwd": ".", "stdout": True, "stderr": True},
    )
    assert json.loads(parts[0].text)["message"] == (
        "Invalid arguments for tool exec: args: '-la' is not of type 'array'"
    )


# safe_env


def test_safe_env_keeps_only_non_empty_safe_variables():
    process_env = {"PATH": "/bin", "HOME": "/home/u", "TERM": "", "AWS_SECRET": "x", "USER": "u"}
    assert safe_env(process_env) == {"PATH": "/bin", "HOME": "/home/u"}


def test_safe_env_drops_protected_names_whatever_their_case():
    extra = {"Path": "/evil", "ld_preload": "x", "NODE_OPTIONS": "x", "TERM": "dumb", "K": "v"}
    assert safe_env({"PATH": "/bin"}, extra) == {"PATH": "/bin", "TERM": "dumb", "K": "v"}


def test_the_lists_match_the_spec():
    assert "PERSTACK_PROXY_URL" in SAFE_ENV_VARS and "http_proxy" in SAFE_ENV_VARS
    assert len(SAFE_ENV_VARS) == 14
    assert len(PROTECTED_ENV_VARS) == 12
    assert {"LD_PRELOAD", "PYTHONPATH", "DYLD_INSERT_LIBRARIES"} <= PROTECTED_ENV_VARS
