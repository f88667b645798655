"""``perstack.toml`` texts for the workbench tests and ``bench/bench_editor.py``."""

from __future__ import annotations

__all__ = ["SMALL_CONFIG", "big_config"]

SMALL_CONFIG = """\
# The project's experts.
model = "scripted-test"  # a comment the editor must keep

[provider]
providerName = "scripted"

[experts.writer]
# Writes things.
description = "Writes a short note."
instruction = "Write a note."

[experts.reader]
description = "Reads notes."
instruction = "Read the notes."
"""


def big_config(lines: int = 2_000) -> str:
    """A valid ``perstack.toml`` of at least ``lines`` lines: many commented experts."""
    parts = [
        "# A large project: many experts, each with a multi-line instruction and a skill.",
        'model = "scripted-test"',
        "",
        "[provider]",
        'providerName = "scripted"',
        "",
    ]
    index = 0
    while len(parts) < lines:
        parts += [
            f"# Expert number {index}: answers questions about topic {index}.",
            f"[experts.expert-{index}]",
            f'description = "Answers questions about topic {index}."',
            'version = "1.0.0"',
            f'tags = ["topic-{index}", "generated"]',
            'instruction = """',
            f"You answer questions about topic {index}. Read the notes in the workspace,",
            "quote only what they say, and keep every answer to a few lines.",
            "When a question is not about your topic, say so and stop.",
            '"""',
            f'delegates = ["expert-{max(index - 1, 0)}"]' if index else "delegates = []",
            "",
            f'[experts.expert-{index}.skills."@perstack/base"]',
            'type = "mcpStdioSkill"',
            'command = "npx"',
            'pick = ["readTextFile", "listDirectory", "todo"]',
            "",
        ]
        index += 1
    return "\n".join(parts) + "\n"
