"""Money cost of a job's model generations: per step, per run, per job.

Every generation (``callTools``, ``completeRun``, ``retry``: the events whose tokens the
timeline counts, see :func:`~runtime.views.runtree.generation_tokens`) is priced on the
model and provider its run used, as of the event's time. A :class:`PriceBook` finds the
price, first match wins:

1. ``perstack.toml``'s ``[prices."<provider>:<model>"]``, then ``[prices."<model>"]``;
2. the offline providers (``scripted``, ``replay``) and ``ollama`` (a local server): 0;
3. the bundled table of `genai-prices <https://pypi.org/project/genai-prices/>`_, which
   prices cached and reasoning tokens as each provider does (tiers, cache reads, price
   changes over time). Only its bundled data is read: nothing is fetched, ever. It is
   imported on the first generation that needs it (it takes a few hundred milliseconds).

Otherwise the cost is unknown: a :class:`Cost` with no figure and the reason, shown as
``—``; never a made-up number. Sums keep the priced part and count what could not be
priced, so a job with one unknown step shows ``—`` too, with the reason.

:class:`CostMeter` prices a stream of events for the views (the timeline's rows, the
delegation tree's roll-ups, the header); :func:`stored_cost` prices a stored job or run
(``perstack log --summary``, comparisons).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any, NamedTuple

from runtime.model import Usage
from runtime.views._prices import (
    LibraryModel,
    library_name,
    lookup,
    preload_in_background,
)

if TYPE_CHECKING:
    from runtime.config.models import PerstackConfig
    from runtime.events import BaseEvent
    from runtime.storage import Storage

__all__ = [
    "FREE_PROVIDERS",
    "known_models",
    "GENERATION_TYPES",
    "Cost",
    "CostMeter",
    "ModelPrice",
    "PriceBook",
    "RunModel",
    "StoredCost",
    "format_cost",
    "format_usd",
    "known_models",
    "preload_in_background",
    "run_models",
    "stored_cost",
]

#: Events that report one model generation's usage (each generation counted once).
#: Events that report a generation's usage (a server's sampling request is answered by the
#: run's own model, so it is priced like a step).
GENERATION_TYPES = frozenset({"callTools", "completeRun", "retry", "skillSampling"})
#: Providers that charge nothing per token: offline ones, and ollama's local server.
FREE_PROVIDERS: Mapping[str, str] = {
    "scripted": "offline provider",
    "replay": "offline provider",
    "ollama": "local model server",
}
#: Providers whose ``inputTokens`` leave the cached ones out: Anthropic reports
#: ``cache_read_input_tokens`` beside ``input_tokens``. The others (OpenAI's
#: ``prompt_tokens`` and the compatible APIs, our offline providers) count them within.
_CACHED_APART = frozenset({"anthropic"})
#: Our provider names -> the price library's provider ids.
_LIBRARY_PROVIDER = {
    "anthropic": "anthropic",
    "openai": "openai",
    "azure-openai": "azure",
    "deepseek": "deepseek",
}
_MILLION = Decimal(1_000_000)
_ZERO = Decimal(0)
_CENT = Decimal("0.01")
_FOUR, _THREE, _TWO, _WHOLE = Decimal("0.0001"), Decimal("0.001"), _CENT, Decimal(1)
_HOW_TO_PRICE = 'set one under [prices."{key}"] in perstack.toml'


class RunModel(NamedTuple):
    """The provider and model a run segment used."""

    provider: str
    model: str

    def __str__(self) -> str:
        return f"{self.provider}:{self.model}"


@dataclass(frozen=True, slots=True)
class Cost:
    """What some generations cost, in USD.

    Attributes:
        usd: The priced part (exact decimal).
        unpriced: How many generations had no price; when any, the figure is unknown.
        reason: Why (the first unpriced generation's reason), else ``None``.
        basis: How a single generation (or generations all priced alike) was priced, e.g.
            ``anthropic:claude-sonnet-4-5 at genai-prices 0.2.5 prices``; ``None`` for
            mixed sums.
        generations: How many generations it covers (priced or not).
    """

    usd: Decimal = _ZERO
    unpriced: int = 0
    reason: str | None = None
    basis: str | None = None
    generations: int = 0

    @property
    def known(self) -> bool:
        """Whether every generation in it was priced."""
        return self.unpriced == 0

    @property
    def usd_or_none(self) -> float | None:
        """The figure as a float for JSON; ``None`` when unknown."""
        return float(self.usd) if self.known else None

    def __add__(self, other: Cost) -> Cost:
        if not other.generations:
            return self
        if not self.generations:
            return other
        return Cost(
            self.usd + other.usd,
            self.unpriced + other.unpriced,
            self.reason or other.reason,
            self.basis if self.basis == other.basis else None,
            self.generations + other.generations,
        )

    def describe(self) -> str:
        """One line for details views: ``$0.0123 (basis)`` or ``— (reason)``."""
        if not self.known:
            return f"— ({self.reason})"
        return f"{format_usd(self.usd)} ({self.basis})" if self.basis else format_usd(self.usd)

    def to_json(self) -> dict[str, Any]:
        """``{"costUsd": …}``, plus ``"costReason"`` when the figure is unknown."""
        if self.known:
            return {"costUsd": float(self.usd)}
        return {"costUsd": None, "costReason": self.reason}


def _unknown(reason: str) -> Cost:
    return Cost(unpriced=1, reason=reason, generations=1)


def _priced(usd: Decimal, basis: str) -> Cost:
    return Cost(usd, basis=basis, generations=1)


def format_usd(usd: Decimal | float | None) -> str:
    """A figure for a narrow column: ``$0``, ``$0.0042``, ``$0.362``, ``$12.34``, ``$1234``.

    Below a cent four decimals, below a dollar three, below $1000 two, then whole dollars
    (halves round up); a positive figure below $0.0001 reads ``<$0.0001`` (never rounded to
    zero); ``None`` (unknown) reads ``—``.
    """
    if usd is None:
        return "—"
    usd = Decimal(str(usd)) if isinstance(usd, float) else usd
    if usd == 0:
        return "$0"
    if usd < Decimal("0.0001"):
        return "<$0.0001"
    places = _FOUR if usd < _CENT else _THREE if usd < 1 else _TWO if usd < 1000 else _WHOLE
    return f"${usd.quantize(places, ROUND_HALF_UP)}"


def format_cost(cost: Cost | None) -> str:
    """A cost for a column: ``""`` for none, ``—`` when unknown, else :func:`format_usd`."""
    if cost is None:
        return ""
    return format_usd(cost.usd) if cost.known else "—"


@dataclass(frozen=True, slots=True)
class ModelPrice:
    """A price set in ``perstack.toml``: USD per million tokens.

    Attributes:
        input: Per million uncached input tokens.
        output: Per million output tokens (reasoning tokens included).
        cached: Per million cached input tokens.
    """

    input: Decimal
    output: Decimal
    cached: Decimal

    def cost(self, uncached: int, cached: int, output: int) -> Decimal:
        """What those tokens cost at this price."""
        return (uncached * self.input + cached * self.cached + output * self.output) / _MILLION


def _split(usage: Usage, provider: str) -> tuple[int, int, int]:
    """``(uncached input, cached input, output)`` whatever the provider counts in input."""
    cached = usage.cached_input_tokens
    uncached = usage.input_tokens
    if provider not in _CACHED_APART:
        uncached = max(0, uncached - cached)
    return uncached, cached, usage.output_tokens


class PriceBook:
    """Where prices come from: ``perstack.toml``'s ``[prices]``, then the price library.

    Args:
        overrides: ``"<provider>:<model>"`` or ``"<model>"`` -> :class:`ModelPrice`.
    """

    def __init__(self, overrides: Mapping[str, ModelPrice] | None = None) -> None:
        self.overrides = dict(overrides or {})
        # (provider, model) -> the library's model and basis, or why it has none.
        self._library: dict[RunModel, tuple[LibraryModel, str] | str] = {}

    @classmethod
    def from_config(cls, config: PerstackConfig | None) -> PriceBook:
        """The book for a loaded ``perstack.toml`` (``None``: the library alone)."""
        if config is None:
            return cls()
        overrides = {}
        for key, entry in config.prices.items():
            cached = entry.cached_per_million
            overrides[key] = ModelPrice(
                Decimal(str(entry.input_per_million)),
                Decimal(str(entry.output_per_million)),
                Decimal(str(entry.input_per_million if cached is None else cached)),
            )
        return cls(overrides)

    def price(self, usage: Usage, run: RunModel, at_ms: int) -> Cost:
        """What one generation of ``usage`` on ``run``'s model cost at ``at_ms``."""
        for key in (str(run), run.model):
            override = self.overrides.get(key)
            if override is not None:
                usd = override.cost(*_split(usage, run.provider))
                return _priced(usd, f"{key} at perstack.toml prices")
        free = FREE_PROVIDERS.get(run.provider)
        if free is not None:
            return _priced(_ZERO, f"{run}: {free}, no charge")
        found = self._library.get(run)
        if found is None:
            found = self._library[run] = _library_lookup(run)
        if isinstance(found, str):
            return _unknown(found)
        model, basis = found
        uncached, cached, output = _split(usage, run.provider)
        reasoning = min(usage.reasoning_tokens, output)
        moment = datetime.fromtimestamp(at_ms / 1000, tz=UTC)
        try:
            usd = model.cost(uncached, cached, output, reasoning, moment)
        except (ValueError, LookupError) as error:  # usage the table cannot price
            return _unknown(f"{library_name()} cannot price this usage of {run}: {error}")
        return _priced(usd, basis)


def known_models(provider: str) -> list[str]:
    """The models the price library knows for our provider ``provider`` (what a model
    picker can offer); ``[]`` for a provider it has no table for."""
    from runtime.views._prices import model_ids

    library_provider = _LIBRARY_PROVIDER.get(provider)
    return model_ids(library_provider) if library_provider else []


def _library_lookup(run: RunModel) -> tuple[LibraryModel, str] | str:
    """The price library's model for ``run`` and how figures say so, or why it has none."""
    library_provider = _LIBRARY_PROVIDER.get(run.provider)
    how = _HOW_TO_PRICE.format(key=run)
    if library_provider is None:
        return f"no price table for provider {run.provider!r}: {how}"
    try:
        model = lookup(library_provider, run.model)
    except ImportError:  # a broken install: say so rather than guess
        return f"the price library genai-prices is not installed: {how}"
    if model is None:
        return f"{library_name()} has no price for {run}: {how}"
    return model, f"{run} at {library_name()} prices"


def run_models(settings: Iterable[Mapping[str, Any]]) -> dict[str, RunModel]:
    """``runId`` -> :class:`RunModel`, from stored run settings (``Storage.list_runs``)."""
    found = {}
    for setting in settings:
        run_id, model = setting.get("runId"), setting.get("model")
        provider = (setting.get("providerConfig") or {}).get("providerName", "anthropic")
        if isinstance(run_id, str) and isinstance(model, str) and isinstance(provider, str):
            found[run_id] = RunModel(provider, model)
    return found


class CostMeter:
    """Prices a job's events as they arrive, for the views that show them.

    Feed it every event, in order: ``initializeRuntime`` tells each run's model (run
    settings given to :meth:`set_run_models` do too, for stored jobs), and each
    generation event gets its :class:`Cost`. Feeding the same event again returns the
    same figure without pricing it twice, so several views can feed one meter.

    Example:
        >>> meter = CostMeter(PriceBook.from_config(config))
        >>> for event in events:
        ...     cost = meter.feed(event)   # None unless the event reports a generation
    """

    def __init__(self, prices: PriceBook | None = None) -> None:
        self.prices = prices or PriceBook()
        self.runs: dict[str, RunModel] = {}
        self._last: tuple[str, Cost | None] = ("", None)

    def set_run_models(self, runs: Mapping[str, RunModel]) -> None:
        """Which model each run used (e.g. :func:`run_models` of the stored settings)."""
        self.runs.update(runs)

    def feed(self, event: BaseEvent) -> Cost | None:
        """The cost of the generation ``event`` reports (``None``: it reports none)."""
        kind = event.type
        if kind == "initializeRuntime":
            provider = getattr(event, "provider_name", None) or "anthropic"
            self.runs[event.run_id] = RunModel(provider, event.model)  # type: ignore[attr-defined]
            return None
        if kind not in GENERATION_TYPES:
            return None
        last_id, last_cost = self._last
        if last_id == event.id:
            return last_cost
        cost = self.price(event.usage, event.run_id, event.timestamp)  # type: ignore[attr-defined]
        self._last = (event.id, cost)
        return cost

    def price(self, usage: Usage, run_id: str, at_ms: int) -> Cost:
        """What ``usage`` in run ``run_id`` cost at ``at_ms``."""
        run = self.runs.get(run_id)
        if run is None:
            return _unknown(f"which model run {run_id} used is not recorded")
        return self.prices.price(usage, run, at_ms)


@dataclass
class StoredCost:
    """The tokens and cost of a stored job (or one of its runs).

    Attributes:
        usage: Tokens of every generation, summed.
        cost: Their cost.
        models: The ``provider:model`` of each priced run, in first-use order.
        generations: How many generations were counted.
    """

    usage: Usage
    cost: Cost
    models: list[str]
    generations: int

    def to_json(self) -> dict[str, Any]:
        """The figures as ``perstack log --summary --json`` writes them."""
        return {
            "tokens": {
                "input": self.usage.input_tokens,
                "output": self.usage.output_tokens,
                "cached": self.usage.cached_input_tokens,
                "reasoning": self.usage.reasoning_tokens,
                "total": self.usage.total_tokens,
            },
            **self.cost.to_json(),
            "models": self.models,
        }


def stored_cost(
    storage: Storage, job_id: str, run_id: str | None = None, prices: PriceBook | None = None
) -> StoredCost:
    """Price a stored job's generations (or one run's), reading only those events."""
    meter = CostMeter(prices)
    meter.set_run_models(run_models(storage.list_runs(job_id)))
    usage, cost, models, count = Usage(), Cost(), {}, 0
    for ref in storage.list_event_files(job_id, run_id, types=GENERATION_TYPES):
        document = storage.read_event_raw(ref)
        data = None if document is None else document.data
        if not isinstance(data, dict) or not isinstance(data.get("usage"), dict):
            continue
        try:
            generation = Usage.model_validate(data["usage"])
        except ValueError:
            continue
        at_ms = data.get("timestamp") if isinstance(data.get("timestamp"), int) else ref.timestamp
        usage += generation
        cost += meter.price(generation, ref.run_id, at_ms)
        count += 1
        if ref.run_id in meter.runs:
            models.setdefault(str(meter.runs[ref.run_id]), None)
    return StoredCost(usage, cost, list(models), count)
