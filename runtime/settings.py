"""Run settings: everything one job needs, resolved from perstack.toml, the CLI and the env.

``RunSetting`` has upstream's shape (spec §3) so ``run-setting.json`` stays compatible;
``redacted()`` is what reaches disk (D2).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pydantic import Field

from runtime.model import RunInput, WireModel, new_id, now_ms

__all__ = ["RunSetting", "REDACTED", "redact_mapping"]

REDACTED = "[redacted]"
_SECRET_NAME = re.compile(r"key|token|secret|authorization|password", re.IGNORECASE)


def redact_mapping(values: dict[str, Any]) -> dict[str, Any]:
    """Replace the value of every secret-looking name (D2) with ``[redacted]``."""
    return {
        name: (REDACTED if _SECRET_NAME.search(name) and value is not None else value)
        for name, value in values.items()
    }


class RunSetting(WireModel):
    """The settings of one run segment (upstream ``RunSetting``).

    ``experts`` holds every Expert of the loaded ``perstack.toml`` as its JSON form, so a
    stored run setting is self-contained. ``provider_config`` is ``{"providerName": …}``
    plus ``[provider.setting]``; API keys stay in ``env`` and are never written.
    """

    model: str
    provider_config: dict[str, Any]
    job_id: str = Field(default_factory=new_id)
    run_id: str = Field(default_factory=new_id)
    expert_key: str
    input: RunInput = Field(default_factory=RunInput)
    experts: dict[str, Any]
    reasoning_budget: str | int = "low"
    max_steps: int = 100
    max_retries: int = 5
    timeout: int = 300_000
    started_at: int = Field(default_factory=now_ms)
    updated_at: int = Field(default_factory=now_ms)
    perstack_api_base_url: str = "https://api.perstack.ai"
    perstack_api_key: str | None = None
    perstack_base_skill_command: list[str] | None = None
    env: dict[str, str] = Field(default_factory=dict)
    proxy_url: str | None = None
    verbose: bool | None = None
    #: Our addition: where the run works (the base skill is confined here).
    workspace: str | None = None
    #: Our addition: the perstack.toml the settings came from (relative paths resolve here).
    config_path: str | None = None
    #: Our addition: the default bound (ms) of one MCP tool call (``toolTimeout``).
    tool_timeout: int | None = None

    @property
    def provider_name(self) -> str:
        return str(self.provider_config.get("providerName", "anthropic"))

    @property
    def provider_setting(self) -> dict[str, Any]:
        return {k: v for k, v in self.provider_config.items() if k != "providerName"}

    @property
    def base_dir(self) -> Path:
        """The directory relative paths in settings resolve against."""
        if self.config_path:
            return Path(self.config_path).parent
        return Path(self.workspace or ".")

    def redacted(self) -> dict[str, Any]:
        """The JSON form with every secret replaced by ``[redacted]`` (D2)."""
        data = self.to_json_dict()
        data["env"] = {name: REDACTED for name in self.env}
        if data.get("perstackApiKey"):
            data["perstackApiKey"] = REDACTED
        provider = redact_mapping(dict(data.get("providerConfig", {})))
        if isinstance(provider.get("headers"), dict):
            provider["headers"] = redact_mapping(provider["headers"])
        data["providerConfig"] = provider
        return data
