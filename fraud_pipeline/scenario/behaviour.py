"""How genuine customers behave: activity, habits, sessions, paydays and holidays, card transactions and customer
events.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field, PositiveInt, field_validator, model_validator

from fraud_pipeline.scenario.base import (CHANNELS, Hourly, IntRange, PositiveFloat, Probability, Section, Shares,
                                          Weekly, _known_keys)


class ArrivalLag(Section):
    median: Annotated[float, Field(gt=0)]
    sigma: Annotated[float, Field(ge=0, le=5)]
    max: Annotated[float, Field(gt=0, le=3600)]


class LogNormal(Section):
    median: PositiveFloat
    sigma: Annotated[float, Field(ge=0, le=5)]


class AtmSequences(Section):
    sequence_length: IntRange
    gap_hours: IntRange
    amount_step: PositiveFloat
    max_amount: PositiveFloat

    @model_validator(mode="after")
    def _steps(self):
        if self.max_amount < self.amount_step:
            raise ValueError(f"max_amount ({self.max_amount}) must be at least amount_step ({self.amount_step})")
        if self.gap_hours.min < 1:
            raise ValueError(f"gap_hours.min must be at least 1 (got {self.gap_hours.min})")
        if self.sequence_length.min < 1:
            raise ValueError(f"sequence_length.min must be at least 1 (got {self.sequence_length.min})")
        return self


class Activity(Section):
    shape: Annotated[float, Field(gt=0, le=100)]
    day_shape: Annotated[float, Field(gt=0, le=100)]


AGE_GROUPS = 7  # 18–24, 25–34, …, 65–74, 75+
ByAge = Annotated[list[Annotated[float, Field(ge=0, le=10)]], Field(min_length=AGE_GROUPS, max_length=AGE_GROUPS)]


class AccountWeight(Section):
    salary: Annotated[float, Field(ge=0, le=100)]
    credit: Annotated[float, Field(ge=0, le=100)]
    other: Annotated[float, Field(ge=0, le=100)]
    savings: Annotated[float, Field(ge=0, le=100)]


class Holiday(Section):
    like_weekday: Annotated[int, Field(ge=0, le=6)]
    category_multiplier: dict[str, Annotated[float, Field(ge=0, le=10)]]


PAYDAY_DAYS = 4


class Payday(Section):
    volume: Annotated[list[Annotated[float, Field(ge=0, le=10)]], Field(min_length=PAYDAY_DAYS, max_length=PAYDAY_DAYS)]
    amount: Annotated[list[Annotated[float, Field(gt=0, le=10)]], Field(min_length=PAYDAY_DAYS, max_length=PAYDAY_DAYS)]


class Sessions(Section):
    extra_purchases: Annotated[float, Field(ge=0, le=10)]
    gap_seconds: LogNormal


class Habits(Section):
    favourite_share: Probability
    local_merchants: Annotated[int, Field(ge=1, le=64)]
    regional_share: Probability
    regional_radius_deg: Annotated[float, Field(gt=0, le=10)]
    online_favourites: IntRange
    online_favourite_share: Probability
    foreign_online_share: Probability
    atms: IntRange

    @field_validator("online_favourites", "atms")
    @classmethod
    def _at_least_one(cls, value: IntRange) -> IntRange:
        if value.min < 1:
            raise ValueError(f"min must be at least 1 (got {value.min})")
        return value


class CardTransactions(Section):
    per_day: PositiveInt
    daily_volume_sd: Annotated[float, Field(ge=0, le=0.5)]
    channels: Annotated[Shares, AfterValidator(lambda s: _known_keys(s, CHANNELS, "channel"))]
    activity: Activity
    online_by_age: ByAge
    atm_by_age: ByAge
    online_by_affluence: Annotated[float, Field(ge=-3, le=3)]
    atm_by_affluence: Annotated[float, Field(ge=-3, le=3)]
    account_weight: AccountWeight
    weekly: dict[Literal["pos", "online", "transfer", "atm"], Weekly]
    category_weekly: dict[str, Weekly]
    holiday: Holiday
    payday: Payday
    hourly: dict[Literal["pos", "online", "transfer", "atm"], Hourly]
    category_hourly: dict[str, Hourly]
    sessions: Sessions
    habits: Habits
    declined_attempts_per_day: Annotated[int, Field(ge=1, le=1_000_000)]
    arrival_lag_seconds: ArrivalLag
    reference_unit_value: PositiveFloat
    affluence_basket: Annotated[float, Field(ge=0, le=2)]
    atm: AtmSequences

    @model_validator(mode="after")
    def _every_channel_has_its_rhythm(self):
        for name in ("weekly", "hourly"):
            missing = [c for c in CHANNELS if c not in getattr(self, name)]
            if missing:
                raise ValueError(f"{name} needs an entry for every channel (missing {missing[0]!r})")
        return self


class ProductsViewed(Section):
    buying: Annotated[float, Field(ge=1, le=50)]
    browsing: Annotated[float, Field(ge=1, le=50)]


class CustomerEvents(Section):
    """Seed 002's clickstream: customers' sessions on the online shops."""

    conversion: Annotated[float, Field(gt=0, le=1)]
    cart_abandonment: Annotated[float, Field(ge=0, lt=1)]
    bounce: Probability
    products_viewed: ProductsViewed
    seconds_per_page: LogNormal
    quick_reorder: Probability
    fraud_direct: Probability
    catalogue_products: Annotated[int, Field(ge=1, le=100_000)]
    timeout_minutes: Annotated[float, Field(gt=0, le=240)]

    @property
    def browsing_cart_share(self) -> float:
        """The share of browsing sessions past the landing page that put something in the cart, so that carts are
        abandoned at `cart_abandonment` (every buying session has a cart)."""
        if self.conversion >= 1 or self.bounce >= 1:
            return 0.0
        carts = self.cart_abandonment / (1 - self.cart_abandonment) * self.conversion
        return carts / ((1 - self.conversion) * (1 - self.bounce))

    @model_validator(mode="after")
    def _abandoned_carts_fit(self):
        if self.browsing_cart_share > 1:
            raise ValueError(
                f"cart_abandonment {self.cart_abandonment} needs more abandoned carts than browsing sessions can hold "
                f"at conversion {self.conversion} and bounce {self.bounce}: lower cart_abandonment or bounce, or "
                f"raise conversion")
        return self
