"""Model prices: user overrides first, then genai-prices (offline), resolved once per distinct model.

Prices are looked up in Python once per (provider, model) pair of a batch and handed to DuckDB as a
small table; the per-span arithmetic runs in SQL. A model nobody prices stays unpriced, never $0.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:  # pyarrow (~80 ms) only where a price table is built: reading the config needs none
    import pyarrow as pa

from agenttrace_tui import config as config_file
from agenttrace_tui.store.errors import StoreError
from agenttrace_tui.store.write import preload

PRICE_CLASSES: Final = ("input", "output", "cache_read", "cache_write")


@dataclass(frozen=True)
class ModelPrice:
    """USD per million tokens, per token class; a tier replaces the base above `tier_start` input tokens."""

    input_mtok: float
    output_mtok: float
    cache_read_mtok: float | None = None
    cache_write_mtok: float | None = None
    tier_start: int | None = None
    tier_mtok: dict[str, float] = field(default_factory=dict)
    source: str = "genai-prices"


@dataclass(frozen=True)
class PriceOverrides:
    """User prices keyed by model name or "provider/model"; the provider-qualified key wins."""

    models: dict[str, ModelPrice] = field(default_factory=dict)
    origin: str = ""

    def lookup(self, provider: str | None, model: str) -> ModelPrice | None:
        if provider and f"{provider}/{model}" in self.models:
            return self.models[f"{provider}/{model}"]
        return self.models.get(model)


def load_overrides(prices_file: Path | None = None) -> PriceOverrides:
    """Overrides from `--prices FILE` (a `[models."name"]` table each), else the config's `[prices]`."""
    try:
        if prices_file is not None:
            return _parse_overrides(config_file.read_toml(prices_file, "price file"), str(prices_file))
        prices = config_file.table("prices")
    except config_file.ConfigError as exc:
        raise StoreError(str(exc)) from None
    return _parse_overrides(prices, f"{config_file.config_path()} [prices]") if prices else PriceOverrides()


def _parse_overrides(table: dict[str, Any], origin: str) -> PriceOverrides:
    models = table.get("models", {})
    if not isinstance(models, dict):
        raise StoreError(f"{origin}: `models` must be a table of model names")
    parsed: dict[str, ModelPrice] = {}
    for name, entry in models.items():
        if not isinstance(entry, dict):
            raise StoreError(f"{origin}: models.{name} must be a table")
        values: dict[str, float | None] = {}
        for price_class in PRICE_CLASSES:
            raw = entry.get(f"{price_class}_mtok")
            if raw is not None and (not isinstance(raw, (int, float)) or isinstance(raw, bool) or raw < 0):
                raise StoreError(f"{origin}: models.{name}.{price_class}_mtok must be a number >= 0")
            values[price_class] = float(raw) if raw is not None else None
        if values["input"] is None or values["output"] is None:
            raise StoreError(f"{origin}: models.{name} needs input_mtok and output_mtok (USD per million)")
        parsed[name] = ModelPrice(
            input_mtok=values["input"],
            output_mtok=values["output"],
            cache_read_mtok=values["cache_read"],
            cache_write_mtok=values["cache_write"],
            source="override",
        )
    return PriceOverrides(parsed, origin)


def load_price_table() -> None:
    """Import genai-prices and make a first lookup, which loads its table (~0.17 s in all; store/write/preload.py
    does it early, on a thread of its own)."""
    from genai_prices import Usage, calc_price

    try:
        calc_price(Usage(input_tokens=0), model_ref="gpt-4o")
    except LookupError:
        pass


def _library_price(provider: str | None, model: str) -> ModelPrice | None:
    preload.wait()  # a lookup while the table loads would load it again
    from genai_prices import Usage, calc_price  # imported on demand: its price table is large

    for provider_id in dict.fromkeys([provider, None]):
        try:
            result = calc_price(Usage(input_tokens=0), model_ref=model, provider_id=provider_id)
        except LookupError:
            continue
        return _from_library(result.model_price)
    return None


def _from_library(model_price: Any) -> ModelPrice | None:
    base: dict[str, float | None] = {}
    tier_mtok: dict[str, float] = {}
    tier_start: int | None = None
    for price_class in PRICE_CLASSES:
        value = getattr(model_price, f"{price_class}_mtok", None)
        if value is None:
            base[price_class] = None
        elif isinstance(value, Decimal | int | float):
            base[price_class] = float(value)
        else:  # TieredPrices: a base and thresholds on the request's input tokens
            base[price_class] = float(value.base)
            if value.tiers:
                tier_start = int(value.tiers[0].start)
                tier_mtok[price_class] = float(value.tiers[0].price)
    if base["input"] is None or base["output"] is None:
        return None
    return ModelPrice(
        input_mtok=base["input"],
        output_mtok=base["output"],
        cache_read_mtok=base["cache_read"],
        cache_write_mtok=base["cache_write"],
        tier_start=tier_start,
        tier_mtok=tier_mtok,
    )


def resolve_prices(
    pairs: Iterable[tuple[str | None, str]], overrides: PriceOverrides
) -> pa.Table:
    """A price row for each (provider, model) pair someone prices; unpriced pairs are left out."""
    import pyarrow as pa

    rows: dict[str, list[Any]] = {
        "provider": [],
        "model": [],
        "source": [],
        "tier_start": [],
        **{f"{c}_mtok": [] for c in PRICE_CLASSES},
        **{f"tier_{c}_mtok": [] for c in PRICE_CLASSES},
    }
    for provider, model in pairs:
        price = overrides.lookup(provider, model) or _library_price(provider, model)
        if price is None:
            continue
        rows["provider"].append(provider)
        rows["model"].append(model)
        rows["source"].append(price.source)
        rows["tier_start"].append(price.tier_start)
        for price_class in PRICE_CLASSES:
            rows[f"{price_class}_mtok"].append(getattr(price, f"{price_class}_mtok"))
            rows[f"tier_{price_class}_mtok"].append(price.tier_mtok.get(price_class))
    schema = pa.schema(
        [("provider", pa.string()), ("model", pa.string()), ("source", pa.string()), ("tier_start", pa.int64())]
        + [(f"{c}_mtok", pa.float64()) for c in PRICE_CLASSES]
        + [(f"tier_{c}_mtok", pa.float64()) for c in PRICE_CLASSES]
    )
    return pa.table(rows, schema=schema)
