"""Model providers: the interface, the offline providers and the SDK-backed ones.

Importing this package is cheap: each provider's module (and its SDK) is imported only
when a run uses that provider.
"""

from __future__ import annotations

from runtime.providers.factory import SUPPORTED_PROVIDERS, create_provider

__all__ = ["SUPPORTED_PROVIDERS", "create_provider"]
