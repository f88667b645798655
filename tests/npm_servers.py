"""Third-party MCP servers from the npm registry, installed from ``tests/npm/package.json``.

``.ci/run`` installs them before the tests; :func:`npm_servers` installs them when they are
missing (``uv run pytest`` on a fresh machine with Node.js), once, under a file lock (the
test workers share the folder). No package-lock.json is written or committed.
"""

from __future__ import annotations

import fcntl
import shutil
import subprocess
from pathlib import Path

NPM_DIR = Path(__file__).parent / "npm"
EVERYTHING = NPM_DIR / "node_modules" / "@modelcontextprotocol" / "server-everything"
_INSTALL = ["npm", "install", "--no-audit", "--no-fund", "--no-package-lock"]


def npm_servers() -> Path:
    """The folder whose ``node_modules`` holds the servers (installed if needed).

    Raises:
        RuntimeError: Node.js or npm is missing, or the install failed; says which.
    """
    for tool in ("node", "npm", "npx"):
        if shutil.which(tool) is None:
            raise RuntimeError(f"{tool} is not on PATH: install Node.js to run the npm servers")
    with open(NPM_DIR / ".install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (EVERYTHING / "package.json").is_file():
            done = subprocess.run(
                _INSTALL, cwd=NPM_DIR, capture_output=True, text=True, timeout=300
            )
            if done.returncode != 0:
                last = (done.stderr.strip().splitlines() or ["no output"])[-1]
                raise RuntimeError(f"`npm install` in {NPM_DIR} failed: {last}")
    return NPM_DIR
