"""The schema of ``perstack.toml`` (spec §2) as pydantic models.

Attributes are snake_case; the file's camelCase names are the aliases. Unknown keys are
ignored (spec §2.1). Validation is strict (TOML has real types: ``maxSteps = "10"`` is a
mistake, not a number). Rules that need only one value or one table live here, so
pydantic reports all of them at once with their location; rules that look across
experts live in :mod:`runtime.config.checks`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    model_validator,
)
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from runtime.config import rules
from runtime.config.network import allowed_domain_problem, endpoint_problem

__all__ = [
    "ProviderTable",
    "McpStdioSkillConfig",
    "McpSseSkillConfig",
    "McpStreamableHttpSkillConfig",
    "InteractiveToolConfig",
    "InteractiveSkillConfig",
    "SkillConfig",
    "ExpertConfig",
    "PerstackConfig",
    "ModelPriceConfig",
    "RULE_ERROR",
    "is_base_skill",
]

#: The pydantic error type of our own rules; ``ctx["at"]`` (optional) extends the location.
RULE_ERROR = "perstack"


def _fail(message: str, at: tuple[str, ...] = ()) -> PydanticCustomError:
    # The message goes through the context so braces in user values are not templates.
    return PydanticCustomError(RULE_ERROR, "{message}", {"message": message, "at": at})


def _rule(problem: Callable[[Any], str | None]) -> AfterValidator:
    def check(value: Any) -> Any:
        message = problem(value)
        if message is not None:
            raise _fail(message)
        return value

    return AfterValidator(check)


def _plain(problem: Callable[[Any], str | None], convert: Callable[[Any], Any] = lambda v: v):
    """A validator that replaces pydantic's own (so a union never reports per member)."""

    def check(value: Any) -> Any:
        message = problem(value)
        if message is not None:
            raise _fail(message)
        return convert(value)

    return PlainValidator(check)


def _https_api_url(value: Any) -> str | None:
    if isinstance(value, str) and value.startswith("https://"):
        return None
    return "perstackApiBaseUrl must use HTTPS"


SemVer = Annotated[str, _rule(rules.semver_problem)]
Tag = Annotated[str, _rule(rules.tag_problem)]
DelegateKey = Annotated[str, _rule(rules.expert_key_problem)]
ExpertName = Annotated[str, _rule(rules.expert_name_problem)]
AllowedDomain = Annotated[str, _rule(allowed_domain_problem)]
ReasoningBudget = Annotated[
    str | int, _plain(rules.reasoning_budget_problem, rules.normalize_reasoning_budget)
]
Runtime = Annotated[Literal["local"], _plain(rules.runtime_problem)]
ProviderName = Annotated[str, _plain(rules.provider_name_problem)]
ApiBaseUrl = Annotated[str, _plain(_https_api_url)]
PriceKey = Annotated[str, _rule(rules.price_key_problem)]


def _with_table_keys(data: Any, field: str, *names: str) -> Any:
    """Copy ``data`` with each entry of its ``field`` table told its own key.

    TOML experts get ``key = name = <table key>``, skills ``name = <table key>``.
    """
    if not isinstance(data, dict) or not isinstance(data.get(field), dict):
        return data
    table = {
        key: ({**entry, **{name: key for name in names}} if isinstance(entry, dict) else entry)
        for key, entry in data[field].items()
    }
    return {**data, field: table}


class _ConfigModel(BaseModel):
    # defer_build: schemas are built on first validation, so importing is cheap for
    # commands that never load a config (and for modules importing these for typing).
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="ignore",
        strict=True,
        defer_build=True,
    )


class ProviderTable(_ConfigModel):
    """``[provider]``: which model provider, and its ``[provider.setting]``."""

    provider_name: ProviderName = "anthropic"
    setting: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _base_url_uses_https(self) -> ProviderTable:
        # Spec §2.3: every baseUrl must be https except ollama's (a local server); the
        # offline providers' settings are free-form.
        base_url = self.setting.get("baseUrl")
        exempt = self.provider_name == "ollama" or self.provider_name in rules.OFFLINE_PROVIDERS
        if base_url is None or exempt:
            return self
        if not isinstance(base_url, str):
            raise _fail(
                f"expected a string, got {rules.describe_value(base_url)}", ("setting", "baseUrl")
            )
        if not base_url.startswith("https://"):
            raise _fail(
                f'URL must use HTTPS, got "{base_url}" (only ollama may use http)',
                ("setting", "baseUrl"),
            )
        return self


class _SkillBase(_ConfigModel):
    name: str
    description: str | None = None
    rule: str | None = None


#: MCP's log levels, least severe first (``logLevel`` of an MCP skill).
LogLevel = Literal["debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"]


class _McpSkillBase(_SkillBase):
    """What every MCP skill accepts besides its transport (ours; ``None`` = the default).

    ``sampling``, ``elicitation`` and ``roots`` turn the client capabilities off for one
    server; ``logLevel`` is the least severe log message kept (``info``); ``toolTimeout``
    (ms) bounds one tool call (the file's ``toolTimeout``, else 60 s). Defaults are
    ``None`` so a skill table that does not set them reads as before (``perstack.lock``
    compares tables).
    """

    sampling: bool | None = None
    elicitation: bool | None = None
    roots: bool | None = None
    log_level: LogLevel | None = None
    tool_timeout: Annotated[int, Field(ge=1)] | None = None


class McpStdioSkillConfig(_McpSkillBase):
    """An MCP server started as a subprocess (spec §2.5)."""

    type: Literal["mcpStdioSkill"] = "mcpStdioSkill"
    command: Annotated[str, Field(min_length=1)]
    package_name: str | None = None
    args: list[str] = Field(default_factory=list)
    pick: list[str] = Field(default_factory=list)
    omit: list[str] = Field(default_factory=list)
    required_env: list[str] = Field(default_factory=list)
    allowed_domains: list[AllowedDomain] | None = None
    lazy_init: bool = False

    @model_validator(mode="after")
    def _one_launch_target(self) -> McpStdioSkillConfig:
        # Upstream checks this when the skill starts; an entry for the base skill is never
        # started (D7), so it is exempt.
        if self.name == rules.BASE_SKILL_NAME:
            return self
        if self.package_name is None and not self.args:
            raise _fail(
                f"Skill {self.name} has no packageName or args. Please provide one of them."
            )
        if self.package_name is not None and self.args:
            raise _fail(
                f"Skill {self.name} has both packageName and args. Please provide only one of them."
            )
        return self


class _RemoteSkillBase(_McpSkillBase):
    pick: list[str] = Field(default_factory=list)
    omit: list[str] = Field(default_factory=list)
    endpoint: Annotated[str, Field(min_length=1, max_length=2048)]
    allowed_domains: list[AllowedDomain] | None = None
    allow_private_network: bool = False

    @model_validator(mode="after")
    def _endpoint_allowed(self) -> _RemoteSkillBase:
        message = endpoint_problem(self.endpoint, self.allow_private_network)
        if message is not None:
            raise _fail(message, ("endpoint",))
        return self


class McpSseSkillConfig(_RemoteSkillBase):
    """An MCP server reached over the legacy SSE transport."""

    type: Literal["mcpSseSkill"] = "mcpSseSkill"


class McpStreamableHttpSkillConfig(_RemoteSkillBase):
    """An MCP server reached over streamable HTTP (D8)."""

    type: Literal["mcpStreamableHttpSkill"] = "mcpStreamableHttpSkill"


def _json_object_problem(text: str) -> str | None:
    try:
        value = json.loads(text)
    except ValueError as error:
        return f"not valid JSON: {error}"
    if not isinstance(value, dict):
        return f"must be a JSON object (a JSON Schema), got {type(value).__name__}"
    return None


class InteractiveToolConfig(_ConfigModel):
    """One tool of an interactive skill; ``inputJsonSchema`` is JSON Schema as a string."""

    description: str | None = None
    input_json_schema: Annotated[str, _rule(_json_object_problem)]

    @property
    def input_schema(self) -> dict[str, Any]:
        """The parsed ``inputJsonSchema`` (validated to be a JSON object)."""
        return json.loads(self.input_json_schema)


class InteractiveSkillConfig(_SkillBase):
    """Tools the user answers: calling one stops the run (spec §2.5)."""

    type: Literal["interactiveSkill"] = "interactiveSkill"
    tools: dict[str, InteractiveToolConfig]


SkillConfig = Annotated[
    Union[
        McpStdioSkillConfig,
        McpSseSkillConfig,
        McpStreamableHttpSkillConfig,
        InteractiveSkillConfig,
    ],
    Field(discriminator="type"),
]


def _names_base(text: str | None) -> bool:
    base = rules.BASE_SKILL_NAME
    return text is not None and (text == base or text.startswith(base + "@"))


def is_base_skill(skill: SkillConfig) -> bool:
    """Whether ``skill`` stands for the bundled base skill (D7).

    That is the entry named ``@perstack/base``, or a stdio skill launching the
    ``@perstack/base`` package under another name (upstream treats both as the base).
    """
    if skill.name == rules.BASE_SKILL_NAME:
        return True
    if isinstance(skill, McpStdioSkillConfig):
        return _names_base(skill.package_name) or any(_names_base(arg) for arg in skill.args)
    return False


class ExpertConfig(_ConfigModel):
    """``[experts."<key>"]`` (spec §2.4); ``key`` and ``name`` are the table key."""

    key: str
    name: str
    version: SemVer = "1.0.0"
    min_runtime_version: str | None = None
    description: Annotated[str, Field(min_length=1, max_length=2048)] | None = None
    instruction: Annotated[str, Field(min_length=1, max_length=20480)]
    skills: dict[str, SkillConfig] = Field(default_factory=dict)
    delegates: list[DelegateKey] = Field(default_factory=list)
    tags: list[Tag] = Field(default_factory=list)
    # Accepted for compatibility, unused by the local runtime (spec §2.4).
    provider_tools: Any = None
    provider_skills: Any = None
    provider_tool_options: Any = None

    @model_validator(mode="before")
    @classmethod
    def _name_skills(cls, data: Any) -> Any:
        return _with_table_keys(data, "skills", "name")

    def base_skill_entry(self) -> SkillConfig | None:
        """The ``skills`` entry standing for the base skill, if the file has one."""
        named = self.skills.get(rules.BASE_SKILL_NAME)
        if named is not None:
            return named
        return next((s for s in self.skills.values() if is_base_skill(s)), None)

    def base_skill_filter(self) -> tuple[list[str], list[str]]:
        """``(pick, omit)`` narrowing the always-present base skill (D7); empty = all tools."""
        entry = self.base_skill_entry()
        if entry is None or isinstance(entry, InteractiveSkillConfig):
            return [], []
        return list(entry.pick), list(entry.omit)

    def base_tool_names(self) -> list[str]:
        """The base tools this expert offers: ``omit`` first, then a non-empty ``pick``."""
        pick, omit = self.base_skill_filter()
        names = [n for n in rules.BASE_TOOL_NAMES if n not in omit]
        return [n for n in names if n in pick] if pick else names

    def other_skills(self) -> dict[str, SkillConfig]:
        """Every skill except the base skill's entry, in file order."""
        base = self.base_skill_entry()
        return {name: skill for name, skill in self.skills.items() if skill is not base}


#: A price in USD per million tokens: a finite number >= 0 (TOML's inf and nan are refused).
PerMillion = Annotated[float, Field(ge=0, allow_inf_nan=False)]


class ModelPriceConfig(_ConfigModel):
    """``[prices."<provider>:<model>"]`` or ``[prices."<model>"]``: a model's own prices.

    For private or new models the price library does not know, or to override it. Figures
    are USD per million tokens; cached input tokens cost ``inputPerMillion`` unless
    ``cachedPerMillion`` says otherwise, and reasoning tokens are output tokens.
    """

    input_per_million: PerMillion
    output_per_million: PerMillion
    cached_per_million: PerMillion | None = None


class PerstackConfig(_ConfigModel):
    """A loaded ``perstack.toml`` with the defaults of D9 filled in.

    Attributes:
        path: The file it was loaded from (not part of dumps).
        warnings: Things accepted but ignored, one line each (the CLI prints them on
            stderr), e.g. a pinned base-skill version (D7).
    """

    provider: ProviderTable = Field(default_factory=ProviderTable)
    model: str = "claude-sonnet-4-5"
    reasoning_budget: ReasoningBudget = "low"
    runtime: Runtime = "local"
    max_steps: Annotated[int, Field(ge=1)] = 100
    max_retries: Annotated[int, Field(ge=0)] = 5
    timeout: Annotated[int, Field(ge=1)] = 300_000
    #: Ours: the default bound (ms) of one MCP tool call; a skill's ``toolTimeout`` wins.
    tool_timeout: Annotated[int, Field(ge=1)] = 60_000
    experts: dict[ExpertName, ExpertConfig] = Field(default_factory=dict)
    perstack_api_base_url: ApiBaseUrl = "https://api.perstack.ai"
    perstack_base_skill_command: list[str] | None = None
    env_path: list[str] | None = None
    prices: dict[PriceKey, ModelPriceConfig] = Field(default_factory=dict)
    path: Path = Field(default=Path("perstack.toml"), exclude=True, strict=False)
    warnings: list[str] = Field(default_factory=list, exclude=True)

    @model_validator(mode="before")
    @classmethod
    def _name_experts(cls, data: Any) -> Any:
        return _with_table_keys(data, "experts", "key", "name")
