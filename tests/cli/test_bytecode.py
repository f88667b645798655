"""The ``perstack`` command caches bytecode even where PYTHONDONTWRITEBYTECODE is set."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from runtime._bytecode import private_pycache
from tests.helpers import PERSTACK

PROBE = (
    "import json, sys; from runtime._bytecode import cache_bytecode; used = cache_bytecode(); "
    "print(json.dumps([used, sys.pycache_prefix, sys.dont_write_bytecode]))"
)


def probe(**env: str) -> list:
    environment = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONDONTWRITEBYTECODE", "PERSTACK_BYTECODE_CACHE", "PYTHONPYCACHEPREFIX")
        # (the suite's conftest sets the prefix for the processes the tests start)
    }
    completed = subprocess.run(
        [sys.executable, "-c", PROBE],
        env={**environment, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(completed.stdout)


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"PYTHONDONTWRITEBYTECODE": "1"}, [True, private_pycache(), False]),
        ({"PYTHONDONTWRITEBYTECODE": "1", "PERSTACK_BYTECODE_CACHE": "0"}, [False, None, True]),
        ({}, [False, None, False]),  # bytecode goes where it always goes
        (
            {"PYTHONDONTWRITEBYTECODE": "1", "PYTHONPYCACHEPREFIX": "/tmp/elsewhere"},
            [False, "/tmp/elsewhere", True],
        ),
    ],
)
def test_the_private_cache_is_used_only_where_bytecode_would_not_be_written(env, expected) -> None:
    assert probe(**env) == expected


def test_perstack_leaves_its_modules_compiled_in_the_private_tree_only(tmp_path: Path) -> None:
    source = Path(__import__("runtime.cli.group").cli.group.__file__).resolve()
    compiled = (
        Path(private_pycache() + str(source.parent))
        / f"{source.stem}.{sys.implementation.cache_tag}.pyc"
    )
    compiled.unlink(missing_ok=True)
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("PERSTACK_BYTECODE_CACHE", None)
    env.pop("PYTHONPYCACHEPREFIX", None)
    subprocess.run([PERSTACK, "--help"], env=env, cwd=tmp_path, capture_output=True, check=True)
    assert compiled.is_file()
    assert not any(tmp_path.iterdir())  # nothing written where the command ran
