"""Runs :func:`runtime.compare.run_comparison` in a process of its own, as ``perstack
compare`` does, and prints what its caller saw as JSON lines (for
tests/runtime/test_compare_processes.py).

A process of its own because the worker processes are forks, made only from a process
with one thread: a test process may have others (a test's leftover daemon thread), and
would then run the comparison in-process. Each event the caller's listener gets is
printed as soon as it arrives (``{"index", "event"}``, the event's full JSON), then
``{"comparison": ..., "workers": [pids]}``.

Run: ``python tests/compare_driver.py <project dir> processes|inline <expert> <query>
<provider:model>... [--die <model>]`` (``--die``: that model's worker exits at once, as a
crash would).
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    import orjson

    from runtime.cli.compare import build_request
    from runtime.compare import run_comparison
    from runtime.providers.factory import create_provider

    args = sys.argv[1:]
    die = None
    if "--die" in args:
        at = args.index("--die")
        die = args[at + 1]
        del args[at : at + 2]
    folder, mode, expert, query, *models = args
    root = Path(folder)
    pids = root / "worker-pids.txt"
    request = build_request(
        expert_key=expert, query=query, models=tuple(models), cwd=root, workspace=folder
    )

    def provider(setting):  # noqa: ANN001, ANN202 - the engine's RunSetting
        with open(pids, "a") as file:
            file.write(f"{os.getpid()}\n")
        if setting.model == die:
            os._exit(3)
        return create_provider(
            setting.provider_name, setting.provider_setting, setting.env, setting.base_dir
        )

    request.provider_factory = provider
    out = sys.stdout.buffer

    def on_event(index: int, event) -> None:  # noqa: ANN001 - a BaseEvent
        out.write(orjson.dumps({"index": index, "event": orjson.loads(event.to_json())}))
        out.write(b"\n")
        out.flush()

    comparison = asyncio.run(
        run_comparison(request, on_event=on_event, processes=mode == "processes")
    )
    workers = [int(line) for line in pids.read_text().split()] if pids.exists() else []
    out.write(orjson.dumps({"comparison": comparison.to_json(), "workers": workers}) + b"\n")
    out.flush()


if __name__ == "__main__":
    main()
