"""The MCP demo project: an Expert with the lake-gauges server (``gauges_server.py``).

Written into a directory by :func:`write_gauges_project` (the screenshots and the tests
use it): ``perstack.toml`` and the scripted answers of a ``surveyor`` who surveys a shore
(progress) and a ``host`` who books a room (a question the server asks the person).
"""

from __future__ import annotations

import sys
from pathlib import Path

__all__ = ["GAUGES_SERVER", "write_gauges_project"]

GAUGES_SERVER = Path(__file__).with_name("gauges_server.py")

_CONFIG = """\
model = "scripted-gauges"

[provider]
providerName = "scripted"

[provider.setting]
script = "script.toml"

[experts.surveyor]
description = "Surveys the lake"
instruction = "Survey the shore you are asked about with the gauges."

[experts.surveyor.skills.gauges]
type = "mcpStdioSkill"
command = '{python}'
args = ['{server}']

[experts.host]
description = "Books rooms at the lodge"
instruction = "Book a room for the guest."

[experts.host.skills.gauges]
type = "mcpStdioSkill"
command = '{python}'
args = ['{server}']
"""

_SCRIPT = """\
[[rules]]
expert = "surveyor"
turn = 1
usage = {{ inputTokens = 812, outputTokens = 24 }}
[[rules.toolCalls]]
id = "call_survey"
name = "survey_shore"
args = {{ shore = "north", pace = {pace}, hold_at = {hold_at} }}

[[rules]]
expert = "host"
turn = 1
usage = {{ inputTokens = 640, outputTokens = 12 }}
[[rules.toolCalls]]
id = "call_book"
name = "book_room"

[[rules]]
turn = 2
usage = {{ inputTokens = 900, outputTokens = 8 }}
[[rules.toolCalls]]
id = "call_done"
name = "attemptCompletion"

[[rules]]
purpose = "runResult"
usage = {{ inputTokens = 950, outputTokens = 20 }}
text = "Done."
"""


def write_gauges_project(path: Path, *, pace: float = 0.3, hold_at: int = 0) -> Path:
    """Write the project into ``path`` (created); ``hold_at`` holds the survey at that
    buoy until the run is stopped (for a picture of the progress bar)."""
    path.mkdir(parents=True, exist_ok=True)
    server = str(GAUGES_SERVER)
    (path / "perstack.toml").write_text(_CONFIG.format(python=sys.executable, server=server))
    (path / "script.toml").write_text(_SCRIPT.format(pace=pace, hold_at=hold_at))
    return path
