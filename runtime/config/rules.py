"""Names, patterns and single-value rules of ``perstack.toml`` (spec §2.2-§2.5, D1, D7, D9).

Each ``*_problem`` function returns the message for a bad value (or None), so the schema,
the semantic checks and the CLI overrides all word the same mistake the same way.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = [
    "BASE_SKILL_NAME",
    "BASE_TOOL_NAMES",
    "SKILL_TYPES",
    "PROVIDER_NAMES",
    "OFFLINE_PROVIDERS",
    "REASONING_LEVELS",
    "SUPPORTED_RUNTIMES",
    "DEFAULT_ENV_PATHS",
    "describe_value",
    "runtime_problem",
    "reasoning_budget_problem",
    "normalize_reasoning_budget",
    "provider_name_problem",
    "semver_problem",
    "tag_problem",
    "expert_name_problem",
    "expert_key_problem",
    "price_key_problem",
]

#: The bundled base skill, always present (D7).
BASE_SKILL_NAME = "@perstack/base"

#: The tools of the bundled base skill (spec §9), for static duplicate-name checks (D10).
BASE_TOOL_NAMES: tuple[str, ...] = (
    "attemptCompletion",
    "todo",
    "clearTodo",
    "healthCheck",
    "exec",
    "readTextFile",
    "readImageFile",
    "readPdfFile",
    "writeTextFile",
    "appendTextFile",
    "editTextFile",
    "moveFile",
    "deleteFile",
    "getFileInfo",
    "listDirectory",
    "createDirectory",
    "deleteDirectory",
)

SKILL_TYPES: tuple[str, ...] = (
    "mcpStdioSkill",
    "mcpSseSkill",
    "mcpStreamableHttpSkill",
    "interactiveSkill",
)

#: Upstream's provider names (spec §2.3) plus our offline ones. google, google-vertex and
#: amazon-bedrock load here; the provider layer reports them as not supported yet (D12).
PROVIDER_NAMES: tuple[str, ...] = (
    "anthropic",
    "google",
    "openai",
    "ollama",
    "azure-openai",
    "amazon-bedrock",
    "google-vertex",
    "deepseek",
    "scripted",
    "replay",
)
#: Providers whose ``[provider.setting]`` is their own business (e.g. ``script``).
OFFLINE_PROVIDERS: frozenset[str] = frozenset({"scripted", "replay"})

REASONING_LEVELS: tuple[str, ...] = ("none", "minimal", "low", "medium", "high")
SUPPORTED_RUNTIMES: tuple[str, ...] = ("local",)  # D1
DEFAULT_ENV_PATHS: tuple[str, ...] = (".env", ".env.local")

_SEMVER_CORE = r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[\w.-]+)?(\+[\w.-]+)?"
_SEMVER = re.compile(rf"^{_SEMVER_CORE}$")
_EXPERT_NAME = re.compile(r"^(@[a-z0-9][a-z0-9_-]*/)?[a-z0-9][a-z0-9_-]*$")
_EXPERT_KEY = re.compile(
    r"^((?:@[a-z0-9][a-z0-9_.-]*/)?[a-z0-9][a-z0-9_.-]*)"
    rf"(?:@({_SEMVER_CORE})|@([a-z0-9][a-z0-9_.-]*))?$"
)
_TAG = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_MAX_NAME, _MAX_KEY = 255, 511


def describe_value(value: Any) -> str:
    """A short TOML-flavoured description of a value, for "got ..." in messages."""
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, int):
        return f"integer {value}"
    if isinstance(value, float):
        return f"float {value}"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f'string "{shown}"'
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    return f"{type(value).__name__} {value}"


def runtime_problem(value: Any) -> str | None:
    """D1: only ``local`` exists."""
    if value in SUPPORTED_RUNTIMES:
        return None
    shown = f'"{value}"' if isinstance(value, str) else describe_value(value)
    return f"unsupported runtime {shown}; supported: {', '.join(SUPPORTED_RUNTIMES)}"


def reasoning_budget_problem(value: Any) -> str | None:
    """A level name or an integer >= 0."""
    if isinstance(value, str) and value in REASONING_LEVELS:
        return None
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return None
    return (
        f"expected one of {', '.join(REASONING_LEVELS)} or an integer >= 0, "
        f"got {describe_value(value)}"
    )


def normalize_reasoning_budget(value: str | int) -> str | int:
    """``0`` means ``none`` (spec §2.2); everything else is kept as given."""
    return "none" if value == 0 else value


def provider_name_problem(value: Any) -> str | None:
    if isinstance(value, str) and value in PROVIDER_NAMES:
        return None
    shown = f'"{value}"' if isinstance(value, str) else describe_value(value)
    return f"unknown provider {shown}; expected one of {', '.join(PROVIDER_NAMES)}"


def semver_problem(value: str) -> str | None:
    if _SEMVER.match(value):
        return None
    return f'"{value}" is not a semantic version like 1.0.0'


def tag_problem(value: str) -> str | None:
    if _TAG.match(value):
        return None
    return (
        f'invalid tag "{value}": use lowercase letters, digits, "-" and "_", '
        "starting with a letter or digit"
    )


def expert_name_problem(value: str) -> str | None:
    """An expert table key (spec §2.4 name regex)."""
    if _EXPERT_NAME.match(value) and len(value) <= _MAX_NAME:
        return None
    return (
        f'invalid expert key "{value}": use lowercase letters, digits, "-" and "_", '
        'optionally prefixed by "@scope/" (no dots or capitals)'
    )


def expert_key_problem(value: str) -> str | None:
    """A delegate reference (spec §2.4 key regex: may carry ``@version`` or ``@tag``)."""
    if _EXPERT_KEY.match(value) and len(value) <= _MAX_KEY:
        return None
    return (
        f'invalid expert key "{value}": use lowercase letters, digits, "-", "_" and ".", '
        'optionally "@scope/" before and "@version" after'
    )


def price_key_problem(value: str) -> str | None:
    """A ``[prices]`` key: ``"<model>"`` or ``"<provider>:<model>"`` (a known provider)."""
    provider, colon, model = value.partition(":")
    if not value.strip():
        return "a model name must not be empty"
    if colon and provider in PROVIDER_NAMES and not model.strip():
        return f'"{value}" names no model after the provider'
    return None
