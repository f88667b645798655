"""Chooses and builds the provider named by ``[provider] providerName``."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from runtime.errors import PerstackError
from runtime.providers.base import Provider

__all__ = ["SUPPORTED_PROVIDERS", "NOT_SUPPORTED_PROVIDERS", "create_provider"]

#: providerName -> the module whose ``create(setting, env, base_dir)`` builds it. The
#: module is imported only when chosen, so an unused SDK costs nothing at start-up.
SUPPORTED_PROVIDERS: dict[str, str] = {
    "scripted": "runtime.providers.scripted",
    "replay": "runtime.providers.replay",
    "anthropic": "runtime.providers.anthropic",
    "openai": "runtime.providers.openai",
    "azure-openai": "runtime.providers.openai",
    "deepseek": "runtime.providers.openai",
    "ollama": "runtime.providers.openai",
}

#: Names upstream knows that we do not support yet (D12).
NOT_SUPPORTED_PROVIDERS = ("google", "google-vertex", "amazon-bedrock")


def create_provider(
    provider_name: str,
    setting: Mapping[str, Any],
    env: Mapping[str, str],
    base_dir: Path,
) -> Provider:
    """Build the provider for a job.

    Args:
        provider_name: ``[provider] providerName`` (after ``--provider``).
        setting: ``[provider.setting]``.
        env: The run's environment (process env plus ``.env`` files) for API keys.
        base_dir: The directory of ``perstack.toml``; relative paths in settings resolve here.

    Raises:
        PerstackError: unknown or unsupported provider, missing API key, bad setting.
    """
    if provider_name in NOT_SUPPORTED_PROVIDERS:
        raise PerstackError(f'Provider "{provider_name}" is not supported yet')
    module_name = SUPPORTED_PROVIDERS.get(provider_name)
    if module_name is None:
        names = ", ".join(sorted(SUPPORTED_PROVIDERS))
        raise PerstackError(f'Unknown provider "{provider_name}"; supported: {names}')
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:  # a provider module not written yet
        raise PerstackError(f'Provider "{provider_name}" is not available: {exc}') from exc
    return module.create(provider_name, dict(setting), env, base_dir)
