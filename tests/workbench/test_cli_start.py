"""``perstack start`` without a terminal: exactly ``perstack run``'s output, no Textual."""

from __future__ import annotations

import os
import subprocess

from tests.helpers import PERSTACK, Project, simple_expert

SCRIPT = """
[[rules]]
expert = "writer"
reasoning = "Short and sweet."
text = "Hello!"
"""


def _event_shape(result) -> list[tuple[str, str | None]]:
    return [(event["type"], event.get("expertKey")) for event in result.events]


def test_json_and_piped_stdout_print_what_run_prints(project: Project) -> None:
    project.config(simple_expert("writer"))
    project.script(SCRIPT)
    run = project.run("run", "writer", "Say hi")
    as_json = project.run("start", "writer", "Say hi", "--json")
    piped = project.run("start", "writer", "Say hi")  # stdout is a pipe: not a terminal
    assert run.code == as_json.code == piped.code == 0
    assert _event_shape(as_json) == _event_shape(run) == _event_shape(piped)
    assert as_json.last("completeRun")["text"] == "Hello!"
    assert as_json.stderr == run.stderr == ""
    # Three jobs: each invocation ran its own.
    assert len(list((project.storage / "jobs").iterdir())) == 3


def test_headless_start_needs_an_expert_and_a_query(project: Project) -> None:
    project.config(simple_expert("writer"))
    project.script(SCRIPT)
    result = project.run("start", "--json")
    assert result.code == 1 and result.stdout == ""
    assert result.stderr.strip() == (
        "Error: perstack start needs <expertKey> and <query> when it prints JSON "
        "(--json, or stdout is not a terminal)"
    )
    # The same one-line errors as `run` for everything else.
    result = project.run("start", "nobody", "hi", "--json")
    assert result.code == 1 and 'Expert "nobody" is not defined' in result.stderr


def test_start_help_has_every_run_option_and_never_imports_textual(project: Project) -> None:
    env = {**project.env(), "PYTHONPROFILEIMPORTTIME": "1"}
    result = subprocess.run(
        [PERSTACK, "start", "--help"], capture_output=True, text=True, env=env, cwd=project.root
    )
    assert result.returncode == 0
    for option in ("--json", "--continue-job", "--resume-from", "--max-steps", "--env-path", "-i"):
        assert option in result.stdout
    imported = {
        line.rsplit("|", 1)[1].strip()
        for line in result.stderr.splitlines()
        if line.startswith("import time:")
    }
    assert "runtime.cli.run" in imported  # the probe sees the command's imports
    assert not any(name == "textual" or name.startswith("textual.") for name in imported)
    assert os.environ.get("PERSTACK_STORAGE_PATH")  # the isolation fixture is active
