"""diff_experts: what a hot reload of perstack.toml reports."""

from __future__ import annotations

from pathlib import Path

from runtime.config import parse_config_text
from runtime.config.diff import ExpertsDiff, diff_experts

BASE = """
model = "m1"
[experts.alpha]
instruction = "A"
[experts.beta]
instruction = "B"
[experts.gamma]
instruction = "C"
"""


def _config(text: str):
    return parse_config_text(text, Path("perstack.toml"))


def test_added_removed_and_changed_in_file_order() -> None:
    new = """
model = "m1"
[experts.zeta]
instruction = "Z"
[experts.gamma]
instruction = "C, better"
[experts.alpha]
instruction = "A"
[experts.delta]
instruction = "D"
"""
    diff = diff_experts(_config(BASE), _config(new))
    assert diff == ExpertsDiff(added=("zeta", "delta"), removed=("beta",), changed=("gamma",))
    assert diff.summary() == "added zeta, delta; removed beta; changed gamma"


def test_comments_and_formatting_only_is_no_change() -> None:
    reformatted = "# a comment\n" + BASE.replace('"A"', "'A'").replace("\n[", "\n\n[")
    diff = diff_experts(_config(BASE), _config(reformatted))
    assert not diff
    assert diff.summary() == "no changes to the Experts"


def test_skill_change_counts_as_changed() -> None:
    with_skill = (
        BASE + '[experts.beta.skills."@perstack/base"]\ntype = "mcpStdioSkill"\n'
        'command = "npx"\npick = ["todo"]\n'
    )
    diff = diff_experts(_config(BASE), _config(with_skill))
    assert diff.changed == ("beta",) and not diff.added and not diff.removed


def test_top_level_settings_are_reported_by_their_file_names() -> None:
    new = BASE.replace('model = "m1"', 'model = "m2"\nmaxSteps = 7')
    diff = diff_experts(_config(BASE), _config(new))
    assert diff.settings == ("model", "maxSteps")
    assert not diff.experts_changed and bool(diff)
    assert diff.summary() == "model, maxSteps changed"
