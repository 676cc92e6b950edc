"""The scenario's building blocks: sections that reject unknown keys, ranges, bands, shares that sum to one, the error
every bad scenario raises, and constants shared by every section.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator


SCENARIO_ENV = "FRAUD_PIPELINE_SCENARIO"
STORAGE_URL_ENV = "FRAUD_PIPELINE_STORAGE_URL"
SHARE_TOLERANCE = 1e-6
HORIZON_DAYS = 366  # an open-ended calendar plans slow changes this far ahead
MONTH_DAYS = 365.25 / 12
TYPED_LEAST = 10.0  # the smallest transfer a customer types (scenario currency)
CHANNELS = ("pos", "online", "transfer", "atm")


def _known_keys(shares: dict[str, float], allowed: Mapping[str, Any] | tuple[str, ...], what: str):
    unknown = [k for k in shares if k not in allowed]
    if unknown:
        raise ValueError(f"unknown {what} {unknown[0]!r}; allowed: {', '.join(allowed)}")
    return shares


class ScenarioError(ValueError):
    """A scenario that cannot be used; the message names each bad field and what is allowed."""


def _shares_sum_to_one(shares: dict[str, Any]) -> dict[str, Any]:
    total = sum(getattr(s, "share", s) for s in shares.values())
    if abs(total - 1.0) > SHARE_TOLERANCE:
        raise ValueError(f"shares must sum to 1 (got {total:.6g})")
    return shares


Probability = Annotated[float, Field(ge=0.0, le=1.0)]
Shares = Annotated[dict[str, Probability], Field(min_length=1), AfterValidator(_shares_sum_to_one)]


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _OrderedRange(Section):
    @model_validator(mode="after")
    def _ordered(self):
        if self.min > self.max:
            raise ValueError(f"min must not exceed max (got min={self.min}, max={self.max})")
        return self


class IntRange(_OrderedRange):
    min: Annotated[int, Field(ge=0)]
    max: Annotated[int, Field(ge=0)]


class CountRange(IntRange):
    """An IntRange of things that happen at least once (payments, parts, staff, days apart)."""

    min: Annotated[int, Field(ge=1)]
    max: Annotated[int, Field(ge=1)]


class FloatRange(_OrderedRange):
    min: float
    max: float


class PositiveRange(FloatRange):
    """A FloatRange of amounts above zero (a card's limit: at zero nothing could be drawn)."""

    min: Annotated[float, Field(gt=0)]
    max: Annotated[float, Field(gt=0)]


class HolderProfile(Section):
    """Holders of an age and income drawn more often for something: `weight` times as likely as everyone else."""

    age: IntRange  # holders of this age ...
    income_below: Annotated[float, Field(gt=0)]  # ... earning less than this a month ...
    weight: Annotated[float, Field(ge=1)]  # ... are this many times likelier


class Band(Section):
    """A share of the population and the ages it covers."""

    min_age: Annotated[int, Field(ge=0)]
    max_age: Annotated[int, Field(ge=0)]
    share: Probability


def _bands_in_order(bands: list, what: str = "age bands") -> list:
    for band, following in zip(bands, bands[1:] + [None]):
        if band.min_age > band.max_age or (following and following.min_age <= band.max_age):
            raise ValueError(f"{what} must be in increasing order, each min_age <= max_age, without overlap "
                             f"(at {band.min_age}–{band.max_age})")
    return bands


MerchantCategoryCode = Annotated[str, Field(pattern=r"^\d{4}$")]
PositiveFloat = Annotated[float, Field(gt=0)]
Weekly = Annotated[list[Annotated[float, Field(ge=0)]], Field(min_length=7, max_length=7)]


def _some_weight(weights: list[float]) -> list[float]:
    if sum(weights) <= 0:
        raise ValueError("needs at least one positive weight")
    return weights


Hourly = Annotated[list[Annotated[float, Field(ge=0)]], Field(min_length=24, max_length=24), AfterValidator(_some_weight)]


def _is_cents(text: str) -> bool:
    try:
        return 0 <= float(text) < 1 and round(float(text) * 100) == float(text) * 100
    except ValueError:
        return False
