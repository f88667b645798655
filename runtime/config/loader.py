"""Finding and loading ``perstack.toml``, CLI overrides, and the run's environment.

Spec §2.1 (discovery), §2.8 (env files), D1, D7, D9 and D11.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from runtime.config import rules
from runtime.config.checks import base_skill_warnings, delegate_problems, duplicate_tool_problems
from runtime.config.locate import TomlLocator
from runtime.config.models import ExpertConfig, PerstackConfig, ProviderTable
from runtime.config.problems import Problem, problems_from_validation, render
from runtime.errors import ConfigError, PerstackError

__all__ = [
    "CONFIG_FILE_NAME",
    "find_config",
    "load_config",
    "parse_config_text",
    "load_env",
    "resolve_env_paths",
    "with_overrides",
]

CONFIG_FILE_NAME = "perstack.toml"

# tomllib ends each message with where it happened.
_TOML_WHERE = re.compile(r"\s*\((?:at line (\d+), column \d+|at end of document)\)\s*$")
# Attributes of PerstackConfig that are not keys of the file.
_NOT_FILE_KEYS = ("path", "warnings")


def find_config(cwd: Path, explicit: str | None = None) -> Path:
    """The ``perstack.toml`` to load (spec §2.1).

    Args:
        cwd: The directory the command runs in.
        explicit: ``--config``'s value, relative to ``cwd``.

    Returns:
        The absolute path of the file.

    Raises:
        PerstackError: A remote URL (D11), an explicit path that is not a file, or no
            ``perstack.toml`` in ``cwd`` or any parent.
    """
    cwd = Path(os.path.abspath(cwd))
    if explicit is not None:
        if explicit.startswith(("http://", "https://")):
            raise PerstackError(
                "Remote config (--config <url>) is not supported yet; use a local perstack.toml"
            )
        candidate = cwd / Path(explicit).expanduser()
        if not candidate.is_file():
            raise PerstackError(f'Given config path "{explicit}" is not found')
        return Path(os.path.abspath(candidate))
    for directory in (cwd, *cwd.parents):
        candidate = directory / CONFIG_FILE_NAME
        if candidate.is_file():
            return candidate
    raise PerstackError("perstack.toml not found. Create one or specify --config path.")


def load_config(path: Path) -> PerstackConfig:
    """Read and validate a ``perstack.toml``.

    Raises:
        PerstackError: The file cannot be read.
        ConfigError: It is not valid; ``.problems`` holds every problem, one line each.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise PerstackError(f'Cannot read config file "{path}": {error.strerror}') from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise ConfigError([f"{path}:{line}: not valid UTF-8 text"]) from None
    return parse_config_text(text, path)


def parse_config_text(text: str, path: Path) -> PerstackConfig:
    """Validate ``perstack.toml`` content that may not be on disk (e.g. an editor buffer).

    Args:
        text: The TOML text.
        path: Where it comes from: names the file in problems and becomes ``config.path``.

    Raises:
        ConfigError: Every problem, one line each, in file order.
    """
    path = Path(path)
    label = str(path)
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError([_syntax_problem(error, text, label)]) from None
    data = {key: value for key, value in document.items() if key not in _NOT_FILE_KEYS}

    problems: list[Problem] = []
    config: PerstackConfig | None = None
    try:
        config = PerstackConfig.model_validate(data)
    except ValidationError as error:
        problems += problems_from_validation(error)

    raw_experts = data.get("experts")
    if isinstance(raw_experts, dict):
        for key, table in raw_experts.items():
            if isinstance(table, dict):
                problems += delegate_problems(key, table.get("delegates"), raw_experts, path.name)
    experts = config.experts.values() if config else _experts_that_validate(raw_experts)
    for expert in experts:
        problems += duplicate_tool_problems(expert)
    # Line numbers are found only when there is something to report: locating costs more
    # than validating, and the workbench validates the editor buffer as the user types.
    if problems or config is None:
        raise ConfigError(render(problems, label, TomlLocator(text)))

    config.path = path
    warnings = base_skill_warnings(config)
    config.warnings = render(warnings, label, TomlLocator(text)) if warnings else []
    return config


def _syntax_problem(error: tomllib.TOMLDecodeError, text: str, label: str) -> str:
    message = str(error)
    match = _TOML_WHERE.search(message)
    if match is None:
        return f"{label}:1: {message}"
    line = int(match.group(1)) if match.group(1) else TomlLocator(text).last_line
    return f"{label}:{line}: {message[: match.start()]}"


def _experts_that_validate(raw_experts: Any) -> list[ExpertConfig]:
    """The experts that are valid on their own, when the file as a whole is not."""
    if not isinstance(raw_experts, dict):
        return []
    experts = []
    for key, table in raw_experts.items():
        if not isinstance(table, dict) or rules.expert_name_problem(key) is not None:
            continue
        try:
            experts.append(ExpertConfig.model_validate({**table, "key": key, "name": key}))
        except ValidationError:
            continue  # already reported by the whole-file validation
    return experts


def load_env(
    env_paths: list[str], cwd: Path, process_env: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The run's environment (spec §2.8).

    Non-empty process variables win; then each ``.env`` file in order, never overriding
    what is already set (the earlier file wins). Missing files are skipped. Values are
    taken literally (no ``${VAR}`` expansion, as upstream).

    Args:
        env_paths: ``.env`` files, relative to ``cwd`` (see :func:`resolve_env_paths`).
        cwd: The directory the command runs in.
        process_env: The process environment; ``os.environ`` when None.
    """
    from dotenv import dotenv_values

    source = os.environ if process_env is None else process_env
    env = {name: value for name, value in source.items() if value}
    for env_path in env_paths:
        file = Path(cwd) / Path(env_path).expanduser()
        if not file.is_file():
            continue
        for name, value in dotenv_values(file, interpolate=False).items():
            if value is not None:
                env.setdefault(name, value)
    return env


def resolve_env_paths(config: PerstackConfig | None, cli_env_paths: list[str]) -> list[str]:
    """``--env-path`` (repeatable) replaces the file's ``envPath``; default ``.env``, ``.env.local``."""
    if cli_env_paths:
        return list(cli_env_paths)
    if config is not None and config.env_path is not None:
        return list(config.env_path)
    return list(rules.DEFAULT_ENV_PATHS)


def with_overrides(
    config: PerstackConfig,
    *,
    provider: str | None = None,
    model: str | None = None,
    reasoning_budget: str | int | None = None,
    max_steps: int | str | None = None,
    max_retries: int | str | None = None,
    timeout: int | str | None = None,
    runtime: str | None = None,
) -> PerstackConfig:
    """A copy of ``config`` with the CLI's options applied (CLI > TOML > defaults).

    Numbers may come as strings straight from the command line. A different provider
    starts from an empty ``[provider.setting]`` (the file's settings were written for
    its own provider).

    Raises:
        PerstackError: A bad value, e.g. ``--runtime docker: unsupported runtime;
            supported: local``.
    """
    update: dict[str, Any] = {}
    if provider is not None:
        if rules.provider_name_problem(provider) is not None:
            raise PerstackError(
                f"--provider {provider}: unknown provider; expected one of "
                f"{', '.join(rules.PROVIDER_NAMES)}"
            )
        if provider != config.provider.provider_name:
            update["provider"] = ProviderTable(provider_name=provider)
    if model is not None:
        if not isinstance(model, str) or not model.strip():
            raise PerstackError("--model: must not be empty")
        update["model"] = model
    if reasoning_budget is not None:
        update["reasoning_budget"] = _budget_option(reasoning_budget)
    for option, name, value, minimum in (
        ("--max-steps", "max_steps", max_steps, 1),
        ("--max-retries", "max_retries", max_retries, 0),
        ("--timeout", "timeout", timeout, 1),
    ):
        if value is not None:
            update[name] = _int_option(option, value, minimum)
    if runtime is not None:
        if rules.runtime_problem(runtime) is not None:
            raise PerstackError(
                f"--runtime {runtime}: unsupported runtime; "
                f"supported: {', '.join(rules.SUPPORTED_RUNTIMES)}"
            )
        update["runtime"] = runtime
    return config.model_copy(update=update)


def _budget_option(value: str | int) -> str | int:
    budget: Any = value
    if isinstance(value, str) and value.strip().isdigit():
        budget = int(value)
    if rules.reasoning_budget_problem(budget) is not None:
        raise PerstackError(
            f"--reasoning-budget {value}: expected one of "
            f"{', '.join(rules.REASONING_LEVELS)} or an integer >= 0"
        )
    return rules.normalize_reasoning_budget(budget)


def _int_option(option: str, value: int | str, minimum: int) -> int:
    if isinstance(value, (bool, float)):
        raise PerstackError(f"{option} {value}: expected an integer")
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise PerstackError(f"{option} {value}: expected an integer") from None
    if number < minimum:
        raise PerstackError(f"{option} {value}: must be >= {minimum}")
    return number
