"""Money cost of token usage (runtime/views/cost.py): the library's prices, perstack.toml's
overrides, unknown models, offline providers, and the roll-ups of the views."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from runtime.config import parse_config_text
from runtime.errors import ConfigError
from runtime.events import InitializeRuntime
from runtime.model import Usage
from runtime.views.activity import ActivityLog
from runtime.views.cost import (
    Cost,
    CostMeter,
    PriceBook,
    RunModel,
    format_cost,
    format_usd,
    run_models,
)
from runtime.views.runtree import ROOT, RunTree
from tests.runtime.activity_helpers import PARALLEL_RULES, job_events

AT_MS = 1_767_225_600_000  # 2026-01-01, a fixed moment for the library's dated prices
MILLION = Decimal(1_000_000)


def library_prices(provider_id: str, model: str) -> tuple[Decimal, Decimal, Decimal]:
    """The library's own published (input, output, cache read) USD per million tokens."""
    from genai_prices.data_snapshot import get_snapshot
    from genai_prices.types import TieredPrices

    _, info = get_snapshot().find_provider_model(model, None, provider_id, None)
    price = info.get_prices(datetime.fromtimestamp(AT_MS / 1000, tz=UTC))

    def base(value: object) -> Decimal:
        # Below the first tier's threshold the base price applies (our usage stays below).
        return value.base if isinstance(value, TieredPrices) else value  # type: ignore[return-value]

    return base(price.input_mtok), base(price.output_mtok), base(price.cache_read_mtok)


def usage(input_tokens: int, output: int, cached: int = 0, reasoning: int = 0) -> Usage:
    return Usage(
        input_tokens=input_tokens,
        output_tokens=output,
        cached_input_tokens=cached,
        reasoning_tokens=reasoning,
        total_tokens=input_tokens + output,
    )


def book(toml: str = "", tmp_path: Path = Path("perstack.toml")) -> PriceBook:
    return PriceBook.from_config(parse_config_text(textwrap.dedent(toml), tmp_path))


# --- known models, from the library's data -------------------------------------------


def test_anthropic_prices_cached_tokens_apart_from_input() -> None:
    # Anthropic reports input_tokens without the cache reads (cache_read_input_tokens).
    price_in, price_out, price_cached = library_prices("anthropic", "claude-sonnet-4-5")
    assert price_cached < price_in  # what makes the split matter
    cost = PriceBook().price(
        usage(10_000, 2_000, cached=4_000), RunModel("anthropic", "claude-sonnet-4-5"), AT_MS
    )
    expected = (10_000 * price_in + 4_000 * price_cached + 2_000 * price_out) / MILLION
    assert cost.known and cost.usd == expected
    assert cost.basis is not None and cost.basis.startswith("anthropic:claude-sonnet-4-5 at")
    assert "genai-prices" in cost.basis


def test_openai_input_includes_its_cached_tokens_and_reasoning_is_output() -> None:
    # OpenAI's prompt_tokens count the cached ones; reasoning tokens are completion tokens.
    price_in, price_out, price_cached = library_prices("openai", "gpt-4.1")
    cost = PriceBook().price(
        usage(10_000, 3_000, cached=6_000, reasoning=1_000), RunModel("openai", "gpt-4.1"), AT_MS
    )
    expected = (4_000 * price_in + 6_000 * price_cached + 3_000 * price_out) / MILLION
    assert cost.usd == expected


def test_azure_and_deepseek_use_their_own_tables() -> None:
    price_in, price_out, _ = library_prices("deepseek", "deepseek-chat")
    cost = PriceBook().price(usage(1_000, 1_000), RunModel("deepseek", "deepseek-chat"), AT_MS)
    assert cost.usd == (1_000 * price_in + 1_000 * price_out) / MILLION
    azure_in, azure_out, _ = library_prices("azure", "gpt-4.1")
    cost = PriceBook().price(usage(1_000, 1_000), RunModel("azure-openai", "gpt-4.1"), AT_MS)
    assert cost.usd == (1_000 * azure_in + 1_000 * azure_out) / MILLION


def test_pricing_never_reaches_the_network(tmp_path: Path) -> None:
    # A fresh interpreter where opening any socket fails: the bundled table must do.
    code = textwrap.dedent(
        """
        import socket
        def refuse(*args, **kwargs):
            raise OSError("network used")
        socket.socket.connect = refuse
        socket.create_connection = refuse
        socket.getaddrinfo = refuse
        from runtime.model import Usage
        from runtime.views.cost import PriceBook, RunModel
        cost = PriceBook().price(Usage(input_tokens=1000, output_tokens=10),
                                 RunModel("anthropic", "claude-sonnet-4-5"), 1767225600000)
        assert cost.known and cost.usd > 0, cost
        print("priced", cost.usd)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=Path.cwd(), timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("priced")


# --- perstack.toml's [prices] ----------------------------------------------------------


PRICES = """
    [prices."openai:gpt-4.1"]
    inputPerMillion = 1
    outputPerMillion = 10
    cachedPerMillion = 0.5

    [prices."my-private-model"]
    inputPerMillion = 2
    outputPerMillion = 4
"""


def test_override_beats_the_library_with_exact_round_prices() -> None:
    prices = book(PRICES)
    cost = prices.price(usage(3_000, 1_000, cached=2_000), RunModel("openai", "gpt-4.1"), AT_MS)
    # 1,000 uncached at $1, 2,000 cached at $0.5, 1,000 output at $10 per million.
    assert cost.usd == Decimal("0.012")
    assert cost.basis == "openai:gpt-4.1 at perstack.toml prices"


def test_a_bare_model_key_prices_that_model_on_any_provider_and_cached_defaults_to_input() -> None:
    prices = book(PRICES)
    for provider in ("anthropic", "google", "scripted"):
        cost = prices.price(
            usage(1_000, 500, cached=1_000), RunModel(provider, "my-private-model"), AT_MS
        )
        # Anthropic counts cached apart (2,000 input tokens in all); the others within.
        input_tokens = 2_000 if provider == "anthropic" else 1_000
        assert cost.usd == (input_tokens * 2 + 500 * 4) / MILLION, provider


def test_a_provider_key_wins_over_a_bare_one() -> None:
    prices = book(
        """
        [prices."m"]
        inputPerMillion = 1
        outputPerMillion = 1
        [prices."openai:m"]
        inputPerMillion = 100
        outputPerMillion = 100
        """
    )
    assert prices.price(usage(1_000, 0), RunModel("openai", "m"), AT_MS).usd == Decimal("0.1")
    assert prices.price(usage(1_000, 0), RunModel("deepseek", "m"), AT_MS).usd == Decimal("0.001")


def test_bad_prices_are_located_errors(tmp_path: Path) -> None:
    text = textwrap.dedent(
        """
        [prices."openai:gpt-x"]
        inputPerMillion = "3"
        outputPerMillion = -1

        [prices."m"]
        inputPerMillion = inf

        [prices."anthropic:"]
        inputPerMillion = 1
        outputPerMillion = 1
        """
    ).lstrip("\n")
    path = tmp_path / "perstack.toml"
    with pytest.raises(ConfigError) as caught:
        parse_config_text(text, path)
    assert caught.value.problems == [
        f'{path}:2: prices."openai:gpt-x".inputPerMillion: expected a number, got string "3"',
        f'{path}:3: prices."openai:gpt-x".outputPerMillion: must be >= 0.0, got integer -1',
        f"{path}:5: prices.m.outputPerMillion: required field is missing",
        f"{path}:6: prices.m.inputPerMillion: expected a finite number, got float inf",
        f'{path}:8: prices."anthropic:": "anthropic:" names no model after the provider',
    ]


# --- unknown models, offline providers --------------------------------------------------


def test_an_unknown_model_has_no_figure_and_says_why() -> None:
    cost = PriceBook().price(usage(1_000, 10), RunModel("openai", "gpt-nonexistent-9"), AT_MS)
    assert not cost.known and cost.usd_or_none is None
    assert "has no price for openai:gpt-nonexistent-9" in (cost.reason or "")
    assert '[prices."openai:gpt-nonexistent-9"]' in (cost.reason or "")
    assert format_cost(cost) == "—"
    assert cost.to_json() == {"costUsd": None, "costReason": cost.reason}
    assert cost.describe() == f"— ({cost.reason})"


def test_a_provider_without_a_table_is_unknown_too() -> None:
    cost = PriceBook().price(usage(1_000, 10), RunModel("google", "gemini-2.5-pro"), AT_MS)
    assert not cost.known and "no price table for provider 'google'" in (cost.reason or "")


@pytest.mark.parametrize("provider", ["scripted", "replay", "ollama"])
def test_offline_and_local_providers_cost_nothing(provider: str) -> None:
    cost = PriceBook().price(usage(50_000, 9_000), RunModel(provider, "claude-sonnet-4-5"), AT_MS)
    assert cost.known and cost.usd == 0 and format_cost(cost) == "$0"
    assert "no charge" in (cost.basis or "")


def test_sums_keep_the_priced_part_and_stay_unknown_when_one_part_is() -> None:
    prices = book(PRICES)
    known = prices.price(usage(1_000, 0), RunModel("x", "my-private-model"), AT_MS)
    unknown = prices.price(usage(1_000, 0), RunModel("openai", "nope-1"), AT_MS)
    total = Cost() + known + known + unknown
    assert total.generations == 3 and total.unpriced == 1 and not total.known
    assert total.usd == Decimal("0.004") and total.reason == unknown.reason
    assert (Cost() + known + known).basis == known.basis
    assert (known + unknown).basis is None


def test_format_usd_fits_a_narrow_column() -> None:
    assert [format_usd(Decimal(v)) for v in ("0", "0.00004", "0.0042", "0.5", "12.345", "4321.5")] == [
        "$0", "<$0.0001", "$0.0042", "$0.500", "$12.35", "$4322",
    ]  # fmt: skip
    assert format_usd(None) == "—" and format_cost(None) == ""


# --- the meter, the views ----------------------------------------------------------------


def test_the_meter_learns_each_runs_model_and_prices_each_event_once() -> None:
    calls = []

    class Counting(PriceBook):
        def price(self, usage: Usage, run: RunModel, at_ms: int) -> Cost:
            calls.append(run)
            return super().price(usage, run, at_ms)

    meter = CostMeter(Counting(book(PRICES).overrides))
    meter.feed(
        InitializeRuntime(
            job_id="j", run_id="r1", runtime_version="0", expert_name="e", experts=["e"],
            model="my-private-model", provider_name="openai", max_retries=1, timeout=1,
        )
    )  # fmt: skip
    assert meter.runs == {"r1": RunModel("openai", "my-private-model")}
    from tests.storage_samples import EventFactory

    events = EventFactory("j")
    step = events.call_tools("r1", 1, [("@perstack/base", "exec")])
    first, again = meter.feed(step), meter.feed(step)
    assert first is again and len(calls) == 1
    assert first is not None and first.known
    orphan = events.call_tools("r9", 1, [("@perstack/base", "exec")])
    missing = meter.feed(orphan)
    assert missing is not None and "which model run r9 used is not recorded" in (
        missing.reason or ""
    )


def test_run_models_read_stored_run_settings() -> None:
    settings = [
        {"runId": "a", "model": "gpt-4.1", "providerConfig": {"providerName": "openai"}},
        {"runId": "b", "model": "claude-sonnet-4-5", "providerConfig": {}},
        {"runId": "c"},  # no model: not guessed
    ]
    assert run_models(settings) == {
        "a": RunModel("openai", "gpt-4.1"),
        "b": RunModel("anthropic", "claude-sonnet-4-5"),
    }


async def test_tree_and_rows_carry_costs_rolled_up_per_run(tmp_path: Path) -> None:
    events, final, _ = await job_events(tmp_path, PARALLEL_RULES)
    # The scripted run is priced with round prices for its model, so figures are exact.
    prices = book(
        """
        [prices."scripted:claude-sonnet-4-5"]
        inputPerMillion = 1000
        outputPerMillion = 1000
        """
    )
    meter = CostMeter(prices)
    tree, log = RunTree(meter), ActivityLog(meter)
    for event in events:
        log.feed(event)
        tree.feed(event)
    root = tree.nodes[ROOT]
    # $1000 per million tokens = $0.001 a token, whatever kind.
    for node in tree.nodes.values():
        assert node.cost.usd == Decimal(node.tokens) / 1000, node.expert_key
        assert node.total_cost.usd == Decimal(node.total_tokens) / 1000
    assert root.total_cost.usd == Decimal(final.usage.total_tokens) / 1000
    assert root.total_cost.generations == sum(
        1 for e in events if e.type in ("callTools", "completeRun", "retry")
    )
    priced_rows = [row for row in log.rows if row.tokens]
    assert priced_rows and all(row.cost is not None for row in priced_rows)
    assert sum(row.cost.usd for row in priced_rows) == root.total_cost.usd  # type: ignore[union-attr]


async def test_without_a_meter_the_views_carry_no_money(tmp_path: Path) -> None:
    events, _, _ = await job_events(tmp_path, PARALLEL_RULES)
    tree, log = RunTree(), ActivityLog()
    for event in events:
        log.feed(event)
        tree.feed(event)
    assert all(row.cost is None for row in log.rows)
    assert tree.nodes[ROOT].total_cost == Cost()


@pytest.mark.parametrize(
    ("provider", "model"),
    [
        ("anthropic", "claude-sonnet-4-5"),
        ("openai", "gpt-5"),
        ("openai", "o3"),
        ("deepseek", "deepseek-chat"),
    ],
)
def test_every_figure_is_the_librarys_own_calculation(provider: str, model: str) -> None:
    # Rates are taken from the library once per model; each figure must still equal what
    # the library computes for that usage, below and above a tier threshold (200k input).
    from genai_prices import Usage as LibraryUsage
    from genai_prices import calc_price

    from runtime.views.cost import _LIBRARY_PROVIDER

    prices = PriceBook()
    at = datetime.fromtimestamp(AT_MS / 1000, tz=UTC)
    for input_tokens, cached, output, reasoning in [
        (0, 0, 0, 0),
        (1_234, 0, 56, 0),
        (90_000, 80_000, 2_000, 1_500),
        (150_000, 100_000, 9_000, 0),
        (250_000, 10_000, 4_000, 100),  # past Sonnet 4.5's 200k tier
        (1_000_000, 999_000, 30_000, 29_000),
    ]:
        ours = prices.price(
            usage(input_tokens, output, cached=cached, reasoning=reasoning),
            RunModel(provider, model),
            AT_MS,
        )
        total_input = input_tokens + cached if provider == "anthropic" else input_tokens
        theirs = calc_price(
            LibraryUsage(
                input_tokens=total_input,
                cache_read_tokens=cached,
                output_tokens=output,
                output_reasoning_tokens=reasoning,
            ),
            model,
            provider_id=_LIBRARY_PROVIDER[provider],
            genai_request_timestamp=at,
        )
        assert ours.usd == theirs.total_price, (input_tokens, cached, output, reasoning)
