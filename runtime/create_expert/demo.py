"""``perstack create-expert --demo``: the fitness walkthrough, offline.

The demo project is a folder with a ``perstack.toml`` that only sets the scripted provider
and the bundled script (``demo-script.toml`` beside this module), which answers both the
create-expert team and the fitness Experts it creates. It is reset on every call, so the
walkthrough always starts from a project with no Experts; jobs stored there are kept.
"""

from __future__ import annotations

import shutil
from pathlib import Path

__all__ = ["DEMO_DESCRIPTION", "DEMO_SCRIPT", "install_demo"]

#: The walkthrough's description.
DEMO_DESCRIPTION = "Create a fitness assistant that delegates to a pro trainer"
#: The scripted answers.
DEMO_SCRIPT = Path(__file__).with_name("demo-script.toml")

_CONFIG = """\
# The create-expert demo: the scripted provider answers from demo-script.toml, offline.
# `perstack create-expert --demo` adds the fitness Experts below this line.
model = "scripted"

[provider]
providerName = "scripted"

[provider.setting]
script = "demo-script.toml"
"""


def install_demo(target: Path) -> Path:
    """Create (or reset) the demo project in ``target``; return ``target``."""
    target.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(DEMO_SCRIPT, target / "demo-script.toml")
    (target / "perstack.toml").write_text(_CONFIG, encoding="utf-8")
    return target
