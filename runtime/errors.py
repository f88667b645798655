"""User-facing errors: each one becomes a single line on stderr and exit code 1."""

from __future__ import annotations

__all__ = ["PerstackError", "ConfigError"]


class PerstackError(Exception):
    """An error the user can fix; its message is shown as-is, without a traceback."""


class ConfigError(PerstackError):
    """``perstack.toml`` could not be loaded.

    Attributes:
        problems: One line per problem, each ``<file>:<line>: <dotted.path>: <message>``.
    """

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))
