"""The in-process ``@perstack/base`` skill: files, exec, todos and completion (spec §9).

``BaseSkill`` is what the runtime starts for every run (decision D7); the modules below
hold one group of tools each, and ``paths`` the workspace confinement they all share.
"""

from __future__ import annotations

from runtime.skills.base.skill import BASE_SKILL_NAME, BaseSkill

__all__ = ["BaseSkill", "BASE_SKILL_NAME"]
