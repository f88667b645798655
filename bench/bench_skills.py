"""Benchmarks of MCP skill start-up, with the toolbox test server (issue 4 targets).

Run: ``uv run python bench/bench_skills.py`` (``--repeat N`` samples, median reported).

Figures (targets in brackets):
* three stdio skills started together against the slowest of them alone (each a fresh
  process, so both pay the same SDK import) [<= 1.2x];
* with ``perstack.lock``: launch of a fresh interpreter to the three skills' tools being on
  offer, lockfile read included (the skill layer's share of launch-to-``startRun``);
* ``perstack run`` (scripted provider) from launch to its ``startRun`` event, with the
  three skills locked [<= 0.3 s] and, for comparison, without the lockfile.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PERSTACK = str(Path(sys.executable).parent / "perstack")
TOOLBOX = ROOT / "tests" / "skills" / "servers" / "toolbox.py"
DELAYS = (0.2, 0.6, 1.0)

START = textwrap.dedent(
    """
    import asyncio, json, os, sys, time
    from pathlib import Path
    from runtime.config.models import McpStdioSkillConfig
    from runtime.skills.manager import SkillContext
    from runtime.skills.mcp import McpSkill

    async def main(delays):
        context = SkillContext(workspace=Path("."), env=dict(os.environ))
        skills = [
            McpSkill(McpStdioSkillConfig(name=f"s{i}", command=sys.executable,
                                         args=[sys.argv[1], "--delay", str(d)]))
            for i, d in enumerate(delays)
        ]
        began = time.perf_counter()
        await asyncio.gather(*(s.start(context) for s in skills))
        elapsed = time.perf_counter() - began
        await asyncio.gather(*(s.close() for s in skills))
        return elapsed

    print(json.dumps(asyncio.run(main([float(d) for d in sys.argv[2:]]))))
    """
)

LOCKED = textwrap.dedent(
    """
    import asyncio, os
    from pathlib import Path
    from runtime.config import load_config
    from runtime.skills.lockfile import find_lockfile, load_lockfile
    from runtime.skills.manager import SkillContext
    from runtime.skills.mcp import McpSkill

    config = load_config(Path("perstack.toml"))
    lock = load_lockfile(find_lockfile(config.path))
    expert = config.experts["bench"]
    locked = lock.locked_tools_for(expert)
    skills = [McpSkill(s, locked_tools=locked[n]) for n, s in expert.skills.items()]
    context = SkillContext(workspace=Path("."), env=dict(os.environ))
    async def main():
        await asyncio.gather(*(s.start(context) for s in skills))
        return sum(len(s.tools()) for s in skills)
    print(asyncio.run(main()), flush=True)
    """
)


def start_seconds(delays: tuple[float, ...]) -> float:
    done = subprocess.run(
        [sys.executable, "-c", START, str(TOOLBOX), *map(str, delays)],
        capture_output=True, text=True, check=True, cwd=ROOT,
    )
    return json.loads(done.stdout)


def _project(tmp: str) -> None:
    skills = "".join(
        f'\n[experts."bench".skills.s{i}]\ntype = "mcpStdioSkill"\n'
        f"command = '{sys.executable}'\nargs = ['{TOOLBOX}', \"--delay\", \"{d}\"]\n"
        f'pick = ["{tool}"]\n'  # one tool each: the same name twice is refused (D10)
        for i, (d, tool) in enumerate(zip(DELAYS, ("echo", "image", "sleep"), strict=True))
    )
    Path(tmp, "perstack.toml").write_text(
        '[provider]\nproviderName = "scripted"\n[provider.setting]\n'
        'rules = [{ turn = 1, toolCalls = [{ name = "attemptCompletion" }] },'
        ' { purpose = "runResult", text = "Done." }]\n'
        f'[experts."bench"]\ninstruction = "x"\n{skills}'
    )


def locked_launch_seconds() -> float:
    with tempfile.TemporaryDirectory() as tmp:
        _project(tmp)
        subprocess.run(
            [PERSTACK, "install"], cwd=tmp, check=True, capture_output=True, env=_env(),
        )
        began = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-c", LOCKED], cwd=tmp, check=True, capture_output=True,
            text=True, env=_env(),
        )
        elapsed = time.perf_counter() - began
        assert int(done.stdout) > 0
        return elapsed


def run_to_start_run_seconds(locked: bool) -> float:
    """``perstack run`` launch to its ``startRun`` event on stdout."""
    with tempfile.TemporaryDirectory() as tmp:
        _project(tmp)
        if locked:
            subprocess.run(
                [PERSTACK, "install"], cwd=tmp, check=True, capture_output=True, env=_env()
            )
        began = time.perf_counter()
        process = subprocess.Popen(
            [PERSTACK, "run", "bench", "go"], cwd=tmp, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, text=True, env=_env(),
        )
        assert process.stdout is not None
        elapsed = None
        for line in process.stdout:
            if elapsed is None and json.loads(line)["type"] == "startRun":
                elapsed = time.perf_counter() - began
        assert process.wait() == 0 and elapsed is not None
        return elapsed


def _env() -> dict[str, str]:
    import os

    return {**os.environ, "PYTHONPATH": str(ROOT)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3, help="samples (median reported)")
    repeat = parser.parse_args().repeat
    ratios, slowest, together = [], [], []
    for _ in range(repeat):
        slowest.append(start_seconds((max(DELAYS),)))
        together.append(start_seconds(DELAYS))
        ratios.append(together[-1] / slowest[-1])
    print(
        f"slowest alone: {statistics.median(slowest):.3f} s; three together: "
        f"{statistics.median(together):.3f} s; ratio {statistics.median(ratios):.2f}x "
        f"(samples {', '.join(f'{r:.2f}' for r in ratios)}) [<= 1.2x]"
    )
    launches = [locked_launch_seconds() for _ in range(repeat)]
    print(f"launch to locked tools on offer (3 skills): {statistics.median(launches):.3f} s")
    for locked in (True, False):
        runs = [run_to_start_run_seconds(locked) for _ in range(repeat)]
        label = "with" if locked else "without"
        print(f"perstack run launch to startRun, {label} perstack.lock: "
              f"{statistics.median(runs):.3f} s" + (" [<= 0.3 s]" if locked else ""))


if __name__ == "__main__":
    main()
