"""Known context-window sizes (spec §5.6), for ``contextWindow`` / ``contextWindowUsage``."""

from __future__ import annotations

from runtime.model import Usage

__all__ = ["context_window_for", "context_window_usage"]

_EXACT = {
    "gpt-5": 400_000,
    "gpt-5-mini": 400_000,
    "gpt-5-nano": 400_000,
    "gpt-5-chat-latest": 128_000,
    "o4-mini": 200_000,
    "o3": 200_000,
    "o3-mini": 200_000,
    "gpt-4.1": 1_047_576,
    "deepseek-chat": 128_000,
    "deepseek-reasoner": 128_000,
    "gpt-oss:20b": 131_072,
    "gpt-oss:120b": 131_072,
    "gemma3:1b": 32_000,
    "gemma3:4b": 128_000,
    "gemma3:12b": 128_000,
    "gemma3:27b": 128_000,
}


def context_window_for(provider_name: str, model: str) -> int | None:
    """The model's context window in tokens, or ``None`` when unknown."""
    if model in _EXACT:
        return _EXACT[model]
    if provider_name == "anthropic" or model.startswith("claude-"):
        return 200_000
    if model.startswith("gemini-"):
        return 1_048_576
    return None


def context_window_usage(usage: Usage, window: int | None) -> float | None:
    """Share of the window used by the cumulative usage (spec §5.6)."""
    if not window:
        return None
    used = usage.input_tokens + usage.cached_input_tokens + usage.output_tokens
    return used / window
