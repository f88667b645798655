"""The price library (genai-prices) behind :mod:`runtime.views.cost`: lookups and rates.

Only the library's bundled table is read (``get_snapshot()`` without ``UpdatePrices``):
nothing is fetched. It is imported on first use; loading the table takes a few hundred
milliseconds, once per process.

A full price calculation by the library costs ~0.1 ms, as much as a whole step of the
views. Within one price tier a model's price is linear in its token counts, so the first
calculation for a model (and price period) asks the library for its per-token rates, and
later generations that stay below the model's first tier threshold are priced with those
rates; anything else (tiers crossed, odd price shapes) goes to the library in full. Both
give the same decimal figure.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

__all__ = ["LibraryModel", "library_name", "lookup", "preload_in_background"]

#: Tokens per probe: below every tier threshold the table has (they start at 128k+).
_PROBE = 1_000


def library_name() -> str:
    """``genai-prices <version>``: named wherever a figure or a reason comes from it."""
    from genai_prices import __version__

    return f"genai-prices {__version__}"


@dataclass(frozen=True, slots=True)
class _Rates:
    """USD per token of each kind, valid while input tokens stay within ``input_limit``."""

    request: Decimal
    uncached: Decimal
    cached: Decimal
    output: Decimal
    reasoning: Decimal
    input_limit: int | None


class LibraryModel:
    """One model of the library's table, ready to price generations."""

    def __init__(self, provider: Any, model: Any) -> None:
        self.provider = provider
        self.model = model
        # id(ModelPrice) -> (that ModelPrice, its rates or None when not linear).
        self._rates: dict[int, tuple[Any, _Rates | None]] = {}

    def cost(
        self, uncached: int, cached: int, output: int, reasoning: int, at: datetime
    ) -> Decimal:
        """What those tokens cost at moment ``at``, as the library prices them.

        Raises:
            ValueError: Usage the library refuses.
        """
        price = self.model.get_prices(at)  # the price period in force at ``at``
        known = self._rates.get(id(price))
        if known is None:
            known = self._rates[id(price)] = (price, self._probe(price, at))
        rates = known[1]
        if rates is not None and (
            rates.input_limit is None or uncached + cached <= rates.input_limit
        ):
            return (
                rates.request
                + uncached * rates.uncached
                + cached * rates.cached
                + (output - reasoning) * rates.output
                + reasoning * rates.reasoning
            )
        return self._calc(at, uncached + cached, cached, output, reasoning)

    def _calc(
        self, at: datetime, total_input: int, cached: int, output: int, reasoning: int
    ) -> Decimal:
        from genai_prices import Usage

        usage = Usage(
            input_tokens=total_input,
            cache_read_tokens=cached,
            output_tokens=output,
            output_reasoning_tokens=reasoning,
        )
        return self.model.calc_price(usage, self.provider, genai_request_timestamp=at).total_price

    def _probe(self, price: Any, at: datetime) -> _Rates | None:
        """The per-token rates of ``price`` in its base tier, from the library itself."""
        from genai_prices.types import TieredPrices

        starts = [
            tier.start
            for value in vars(price).values()
            if isinstance(value, TieredPrices)
            for tier in value.tiers
        ]
        limit = min(starts, default=None)
        if limit is not None and limit < _PROBE:
            return None
        request = self._calc(at, 0, 0, 0, 0)

        def rate(total_input: int, cached: int, output: int, reasoning: int) -> Decimal:
            return (self._calc(at, total_input, cached, output, reasoning) - request) / _PROBE

        return _Rates(
            request=request,
            uncached=rate(_PROBE, 0, 0, 0),
            cached=rate(_PROBE, _PROBE, 0, 0),
            output=rate(0, 0, _PROBE, 0),
            reasoning=rate(0, 0, _PROBE, _PROBE),
            input_limit=limit,
        )


def lookup(provider_id: str, model: str) -> LibraryModel | None:
    """The library's model ``model`` of provider ``provider_id`` (``None``: not in its table).

    Raises:
        ImportError: The library is not installed.
    """
    from genai_prices.data_snapshot import get_snapshot

    try:
        return LibraryModel(*get_snapshot().find_provider_model(model, None, provider_id, None))
    except LookupError:
        return None


def library_models(provider_id: str) -> list[str]:
    """The model ids the library's table has for ``provider_id`` (none: ``[]``)."""
    from genai_prices.data_snapshot import get_snapshot

    for provider in get_snapshot().providers:
        if provider.id == provider_id:
            return [model.id for model in provider.models]
    return []


_preloading: threading.Thread | None = None


def preload_in_background() -> None:
    """Load the library's table on a thread of its own, once per process.

    An interactive front end calls this when it starts, so the first priced generation
    does not stall its screen for the few hundred milliseconds the table takes to load (a
    lookup meanwhile waits for the import, which is never done twice).
    """
    global _preloading
    if _preloading is None:
        _preloading = threading.Thread(target=_load, name="perstack-prices", daemon=True)
        _preloading.start()


def _load() -> None:
    try:
        from genai_prices.data_snapshot import get_snapshot

        get_snapshot()
    except Exception:  # noqa: BLE001 - a lookup later reports what is wrong
        pass
