"""The shape both SDK-backed providers share: a lazily built client, deadlines, errors."""

from __future__ import annotations

import asyncio
from abc import abstractmethod
from typing import Any

from runtime.providers import prewarm
from runtime.providers._common import generation_timeout
from runtime.providers.base import (
    GenerationRequest,
    GenerationResult,
    Provider,
    ProviderError,
    StreamSink,
)

__all__ = ["SdkProvider"]


class SdkProvider(Provider):
    """A provider over an official SDK client, built on first use and kept for the job.

    Subclasses name the SDK module, build the client, stream one generation and turn SDK
    exceptions into :class:`ProviderError`.
    """

    #: The SDK module to import (and wait for, when :mod:`prewarm` started it).
    sdk_module: str = ""

    def __init__(self) -> None:
        self._client: Any = None
        self._client_lock = asyncio.Lock()

    async def generate(self, request: GenerationRequest, sink: StreamSink) -> GenerationResult:
        """Stream one generation; see :class:`~runtime.providers.base.Provider`."""
        deadline = asyncio.timeout(None)
        try:
            async with deadline:
                client = await self._client_for(request)
                # The deadline starts after the SDK's import: that is not the model's time.
                deadline.reschedule(asyncio.get_running_loop().time() + request.timeout_ms / 1000)
                return await self._stream(client, request, sink)
        except ProviderError:
            raise
        except TimeoutError as exc:
            if deadline.expired():
                raise generation_timeout(request.timeout_ms) from None
            raise self._normalise(exc) from exc
        except Exception as exc:
            raise self._normalise(exc) from exc

    async def aclose(self) -> None:
        """Close the client's connection pool."""
        if self._client is not None:
            client, self._client = self._client, None
            await client.close()

    async def _client_for(self, request: GenerationRequest) -> Any:
        """The client ``_stream`` gets for this request (the SDK client by default)."""
        del request
        return await self._ensure_client()

    async def _ensure_client(self) -> Any:
        if self._client is None:
            async with self._client_lock:
                if self._client is None:
                    # Off the event loop: the import is heavy, and the loop may have skills
                    # starting or a UI to keep drawing meanwhile.
                    await prewarm.ensure_imported(self.sdk_module)
                    self._client = await asyncio.to_thread(self._build_client)
        return self._client

    @abstractmethod
    def _build_client(self) -> Any:
        """Build the SDK client (runs on a worker thread, once per provider)."""

    @abstractmethod
    async def _stream(
        self, client: Any, request: GenerationRequest, sink: StreamSink
    ) -> GenerationResult:
        """Run one streamed generation."""

    @abstractmethod
    def _normalise(self, exc: BaseException) -> ProviderError:
        """Any failure of a generation as a :class:`ProviderError` (spec §11.4)."""
