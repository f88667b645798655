"""``perstack.toml``: discovery, validation with ``file:line`` problems, env files.

Typical use (the CLI)::

    path = find_config(cwd, options.config)
    config = with_overrides(load_config(path), max_steps=options.max_steps)
    for warning in config.warnings:
        print(warning, file=sys.stderr)
    env = load_env(resolve_env_paths(config, options.env_path), cwd)

Modules: :mod:`.models` (the schema), :mod:`.rules` (names and single-value rules),
:mod:`.network` (endpoint and domain rules), :mod:`.checks` (cross-table rules),
:mod:`.locate` (line numbers), :mod:`.problems` (messages), :mod:`.loader` (the API below).
"""

from __future__ import annotations

from runtime.config.checks import delegate_tool_name
from runtime.config.loader import (
    CONFIG_FILE_NAME,
    find_config,
    load_config,
    load_env,
    parse_config_text,
    resolve_env_paths,
    with_overrides,
)
from runtime.config.models import (
    ExpertConfig,
    InteractiveSkillConfig,
    InteractiveToolConfig,
    McpSseSkillConfig,
    McpStdioSkillConfig,
    McpStreamableHttpSkillConfig,
    PerstackConfig,
    ProviderTable,
    SkillConfig,
    is_base_skill,
)
from runtime.config.network import allowed_domain_problem, endpoint_problem, is_private_host
from runtime.config.rules import (
    BASE_SKILL_NAME,
    BASE_TOOL_NAMES,
    DEFAULT_ENV_PATHS,
    PROVIDER_NAMES,
    REASONING_LEVELS,
    SKILL_TYPES,
    SUPPORTED_RUNTIMES,
)
from runtime.errors import ConfigError, PerstackError

__all__ = [
    "BASE_SKILL_NAME",
    "BASE_TOOL_NAMES",
    "CONFIG_FILE_NAME",
    "ConfigError",
    "DEFAULT_ENV_PATHS",
    "PROVIDER_NAMES",
    "REASONING_LEVELS",
    "SKILL_TYPES",
    "SUPPORTED_RUNTIMES",
    "ExpertConfig",
    "InteractiveSkillConfig",
    "InteractiveToolConfig",
    "McpSseSkillConfig",
    "McpStdioSkillConfig",
    "McpStreamableHttpSkillConfig",
    "PerstackConfig",
    "PerstackError",
    "ProviderTable",
    "SkillConfig",
    "allowed_domain_problem",
    "delegate_tool_name",
    "endpoint_problem",
    "find_config",
    "is_base_skill",
    "is_private_host",
    "load_config",
    "load_env",
    "parse_config_text",
    "resolve_env_paths",
    "with_overrides",
]
