"""Bad input to `perstack run`: one line on stderr, exit code 1, nothing on stdout."""

from __future__ import annotations

import pytest

from tests.helpers import Project, simple_expert

GOOD_SCRIPT = '[[rules]]\ntext = "hi"\n'


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["run"], "Error: Missing argument 'EXPERT_KEY'."),
        (["run", "writer"], "Error: Missing argument 'QUERY'."),
        (["run", "writer", "q", "--max-steps", "abc"], "Error: Invalid value for '--max-steps'"),
        (["run", "writer", "q", "--max-steps", "0"], "Error: Invalid value for '--max-steps'"),
        (["run", "writer", "q", "--max-retries", "-1"], "Error: Invalid value for '--max-retries'"),
        (["run", "writer", "q", "--timeout", "soon"], "Error: Invalid value for '--timeout'"),
        (["run", "writer", "q", "--no-such-flag"], "Error: No such option '--no-such-flag'"),
        (["run", "writer", "q", "--runtime", "docker"], "Error: --runtime docker"),
        (["run", "writer", "q", "--reasoning-budget", "huge"], "Error: --reasoning-budget huge"),
        (["run", "writer", "q", "--provider", "nope"], "Error: --provider nope"),
        (["run", "ghost", "q"], 'Error: Expert "ghost" is not defined in'),
        (["run", "writer", "q", "--config", "missing.toml"], 'Error: Given config path "missing.toml" is not found'),
        (["run", "writer", "q", "--config", "https://example.com/perstack.toml"], "Error: Remote config"),
        (["run", "writer", "q", "-i"], "Error: -i needs --continue or --continue-job"),
        (["run", "writer", "q", "--continue", "--continue-job", "x"], "Error: --continue and --continue-job cannot be used together"),
        (["run", "writer", "q", "--workspace", "nowhere"], "Error: --workspace nowhere: not a directory"),
        (["publish"], "Error: perstack publish is not supported yet"),
        (["frobnicate"], "Error: No such command 'frobnicate'."),
    ],
)
def test_bad_arguments_give_one_line_and_exit_1(
    project: Project, args: list[str], expected: str
) -> None:
    project.config(simple_expert())
    project.script(GOOD_SCRIPT)
    result = project.run(*args)
    assert result.code == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(expected), lines[0]
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_no_perstack_toml_anywhere(tmp_path) -> None:
    project = Project(tmp_path)
    result = project.run("run", "writer", "q")
    assert result.code == 1
    assert result.stderr.strip() == (
        "Error: perstack.toml not found. Create one or specify --config path."
    )


def test_config_is_found_from_a_subdirectory(project: Project) -> None:
    project.config(simple_expert())
    project.script(GOOD_SCRIPT)
    (project.root / "deep" / "er").mkdir(parents=True)
    result = project.run("run", "writer", "q")  # from the root first
    assert result.code == 0
    import subprocess

    from tests.helpers import PERSTACK

    nested = subprocess.run(
        [PERSTACK, "run", "writer", "q"],
        cwd=project.root / "deep" / "er",
        capture_output=True,
        text=True,
        env=project.env(),
    )
    assert nested.returncode == 0, nested.stderr
    assert '"completeRun"' in nested.stdout


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        ('[experts."writer"]\ninstruction = "x"\nmaxSteps = 3\n[experts."writer".skills.x]\ntype = "nope"\n', ':5: experts.writer.skills.x.type: unknown skill type "nope"'),
        ('maxSteps = "many"\n[experts."writer"]\ninstruction = "x"\n', ":1: maxSteps:"),
        ('[experts."Writer"]\ninstruction = "x"\n', ":1: experts.Writer:"),
        ('[experts."writer"]\ninstruction = "x"\ndelegates = ["ghost"]\n', ':3: experts.writer.delegates'),
        ('[experts."writer"\ninstruction = "x"\n', ":1:"),
    ],
)
def test_a_bad_perstack_toml_names_file_line_and_field(
    project: Project, toml: str, expected: str
) -> None:
    project.write("perstack.toml", toml)
    result = project.run("run", "writer", "q")
    assert result.code == 1
    line = result.stderr.strip().splitlines()[0]
    assert line.startswith(str(project.root / "perstack.toml")) or line.startswith("perstack.toml"), line
    assert expected in line, line
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_verbose_shows_a_traceback_only_for_unexpected_errors(project: Project) -> None:
    project.config(simple_expert())
    project.script(GOOD_SCRIPT)
    result = project.run("run", "ghost", "q", "--verbose")
    assert result.code == 1 and "Traceback" not in result.stderr


def test_missing_api_key_is_reported_before_any_event(project: Project) -> None:
    project.write("perstack.toml", simple_expert())  # default provider: anthropic
    result = project.run("run", "writer", "q")
    assert result.code == 1
    assert result.stderr.strip() == "Error: ANTHROPIC_API_KEY is not set"
    assert result.stdout == ""
