"""The scenario: every knob a user turns, in one validated file.

Defaults ship in `default_scenario.yaml`; a user file named by `FRAUD_PIPELINE_SCENARIO` is
merged over them, and `FRAUD_PIPELINE_STORAGE_URL` overrides the storage root alone. Validation
happens when the code location loads, so a bad value stops everything before anything is written.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import typing
from collections.abc import Mapping
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal, Union
from urllib.parse import urlsplit

import yaml
from pydantic import (AfterValidator, BaseModel, ConfigDict, Field, PositiveInt, ValidationError,
                      field_validator, model_validator)

from fraud_pipeline import schemas
from fraud_pipeline.generators.timeline import BASELINE_DAYS
from fraud_pipeline.regions import REGIONS, Region
from fraud_pipeline.reserved import TEST_CARD_BINS

DEFAULT_SCENARIO_FILE = Path(__file__).with_name("default_scenario.yaml")
SCENARIO_ENV = "FRAUD_PIPELINE_SCENARIO"
STORAGE_URL_ENV = "FRAUD_PIPELINE_STORAGE_URL"
SHARE_TOLERANCE = 1e-6
HORIZON_DAYS = 366  # an open-ended calendar plans slow changes this far ahead
MONTH_DAYS = 365.25 / 12
TYPED_LEAST = 10.0  # the smallest transfer a customer types (scenario currency)


# Card networks and their issuer prefixes (the first digits of a card number) for `cards.bin_ranges: realistic`; the
# default, `test`, uses the processors' published test BINs (fraud_pipeline.reserved.TEST_CARD_BINS).
CARD_NETWORK_PREFIXES = {"visa": ("4",), "mastercard": ("51", "52", "53", "54", "55")}
assert set(TEST_CARD_BINS) == set(CARD_NETWORK_PREFIXES)
# High-risk beneficiary types are the exit nodes of seed 004's money flows.
BENEFICIARY_TYPES = ("individual", "merchant", "crypto", "offshore")
HIGH_RISK_BENEFICIARY_TYPES = ("crypto", "offshore")
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


class FloatRange(_OrderedRange):
    min: float
    max: float


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


class MerchantCategory(Section):
    share: Probability
    mcc: MerchantCategoryCode
    min_price: PositiveFloat
    max_price: PositiveFloat
    median_price: PositiveFloat
    price_sigma: Annotated[float, Field(ge=0, le=3)]
    price_points: Probability
    affluence: Annotated[float, Field(ge=-2, le=2)]

    @model_validator(mode="after")
    def _ordered(self):
        if not self.min_price < self.max_price:
            raise ValueError(f"min_price must be below max_price (got {self.min_price}, {self.max_price})")
        if not self.min_price <= self.median_price <= self.max_price:
            raise ValueError(f"median_price ({self.median_price}) must lie within min_price–max_price "
                             f"({self.min_price}–{self.max_price})")
        return self


class Population(Section):
    customers: PositiveInt
    accounts: PositiveInt
    devices: PositiveInt
    beneficiaries: PositiveInt
    merchants: PositiveInt
    atms: PositiveInt
    online_merchants: PositiveInt
    foreign_merchants: PositiveInt
    foreign_atms: PositiveInt

    @model_validator(mode="after")
    def _every_customer_has_an_account(self):
        if self.accounts < self.customers:
            raise ValueError(f"accounts ({self.accounts}) must be at least customers ({self.customers}): "
                             "every customer holds an account")
        return self


class Income(Section):
    median: PositiveFloat
    sigma: Annotated[float, Field(ge=0, le=2)]


PAY_SCHEDULES = ("day_25", "day_15", "first_week", "irregular")


class Customers(Section):
    age: IntRange
    age_pyramid: Annotated[list[Band], Field(min_length=1)]
    sex: Annotated[Shares, AfterValidator(lambda s: _known_keys(s, ("F", "M"), "sex"))]
    spend_tiers: Shares
    kyc_level: Shares
    risk_rating: Shares
    pep_rate: Probability
    occupation: Shares
    industry: Shares
    income_bracket: Shares
    monthly_income: dict[str, Income]
    pay_schedule: dict[str, Literal["day_25", "day_15", "first_week", "irregular"]]
    irregular_credits: IntRange
    income_factor: dict[str, Annotated[float, Field(ge=0, le=100)]]
    country_risk: Shares
    tenure_days: IntRange

    @field_validator("age")
    @classmethod
    def _adult_ages(cls, age: IntRange) -> IntRange:
        if age.min < 18 or age.max > 110:
            raise ValueError(f"customer ages must lie within 18–110 (got {age.min}–{age.max})")
        return age

    @field_validator("age_pyramid")
    @classmethod
    def _pyramid(cls, bands: list[Band]) -> list[Band]:
        _shares_sum_to_one({str(i): b for i, b in enumerate(bands)})
        return _bands_in_order(bands)

    @field_validator("tenure_days")
    @classmethod
    def _positive_tenure(cls, tenure: IntRange) -> IntRange:
        if tenure.min < 1:
            raise ValueError(f"tenure must be at least 1 day (got min={tenure.min})")
        return tenure

    @model_validator(mode="after")
    def _tables_cover_their_keys(self):
        missing_income = [b for b in self.income_bracket if b not in self.monthly_income]
        if missing_income:
            raise ValueError(f"monthly_income needs an entry for every income_bracket (missing {missing_income[0]!r})")
        unknown = [o for o in self.income_factor if o not in self.occupation]
        if unknown:
            raise ValueError(f"income_factor: unknown occupation {unknown[0]!r}; allowed: {', '.join(self.occupation)}")
        missing_schedule = [o for o in self.occupation if o not in self.pay_schedule]
        if missing_schedule:
            raise ValueError(f"pay_schedule needs an entry for every occupation (missing {missing_schedule[0]!r}); "
                             f"allowed schedules: {', '.join(PAY_SCHEDULES)}")
        covered = [b for b in self.age_pyramid if b.share > 0 and b.max_age >= self.age.min and b.min_age <= self.age.max]
        if not covered:
            raise ValueError(f"age_pyramid gives no weight to any age within age {self.age.min}–{self.age.max}")
        return self


ACCOUNT_STATUSES = ("active", "dormant", "frozen")


class Closing(Section):
    share: Probability
    within_days: Annotated[int, Field(ge=1, le=3650)]


class Accounts(Section):
    account_type: Shares
    status: Annotated[Shares, AfterValidator(lambda s: _known_keys(s, ACCOUNT_STATUSES, "account status"))]
    closing: Closing
    buffer_months: FloatRange
    overdraft_share: Probability
    overdraft_of_income: FloatRange

    @field_validator("buffer_months", "overdraft_of_income")
    @classmethod
    def _positive(cls, value: FloatRange) -> FloatRange:
        if value.min <= 0:
            raise ValueError(f"must be above 0 (got min={value.min})")
        return value


CARD_LIFE_MONTHS = 36  # a card is valid three years from its issue


def _within_a_cards_life(months: "IntRange") -> "IntRange":
    if months.min < 1 or months.max > CARD_LIFE_MONTHS:
        raise ValueError(f"first cards expire 1–{CARD_LIFE_MONTHS} months after start_date (a card lasts "
                         f"{CARD_LIFE_MONTHS} months); got {months.min}–{months.max}")
    return months


class Cards(Section):
    network: Annotated[Shares, AfterValidator(lambda s: _known_keys(s, CARD_NETWORK_PREFIXES, "card network"))]
    card_type: Annotated[Shares, AfterValidator(lambda s: _known_keys(s, ("debit", "credit"), "card type"))]
    validity_months: Annotated[IntRange, AfterValidator(lambda r: _within_a_cards_life(r))]
    credit_limit_of_income: FloatRange
    renewal_days_before_expiry: IntRange
    replacement_days: IntRange
    # test: the processors' published test BINs (numbers a scanner may still match, on ranges used for test data);
    # realistic: three random BINs per network in live ranges, for BIN-based rules (numbers may be issued cards')
    bin_ranges: Literal["test", "realistic"]


class SharedComputers(Section):
    share: Probability
    users: IntRange
    use: Probability


class PublicComputers(Section):
    share: Probability
    users_per_computer: Annotated[int, Field(ge=1, le=100_000)]
    use: Probability


class Devices(Section):
    os: Shares
    age_days: IntRange
    rooted_rate: Probability
    vpn_rate: Probability
    emulator_rate: Probability
    phone_change_years: Annotated[float, Field(gt=0.1, le=50)]
    new_phone_trust_days: IntRange
    second_device_share: Probability
    second_device_use: Probability
    second_device_shopping: Probability
    household_share: Probability
    household_use: Probability
    shared_computers: SharedComputers
    public_computers: PublicComputers


class Beneficiaries(Section):
    type: Annotated[Shares, AfterValidator(lambda s: _known_keys(s, BENEFICIARY_TYPES, "beneficiary type"))]
    country_risk: Annotated[Shares, AfterValidator(lambda s: _known_keys(s, ("low", "medium", "high"), "country risk"))]
    per_account: IntRange
    new_per_month: Annotated[float, Field(ge=0, le=30)]
    new_high_risk_share: Probability
    first_payment_days: IntRange
    once_off_share: Probability


class Merchants(Section):
    categories: Annotated[dict[str, MerchantCategory], Field(min_length=1), AfterValidator(_shares_sum_to_one)]
    price_endings: Shares
    atm_mcc: MerchantCategoryCode

    @field_validator("price_endings")
    @classmethod
    def _cents(cls, endings: dict[str, float]) -> dict[str, float]:
        bad = [e for e in endings if not _is_cents(e)]
        if bad:
            raise ValueError(f"price ending {bad[0]!r} must be a fraction of one unit, 0.00–0.99")
        return endings


def _is_cents(text: str) -> bool:
    try:
        return 0 <= float(text) < 1 and round(float(text) * 100) == float(text) * 100
    except ValueError:
        return False


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


MAX_SPEND_SPREAD = 1.6  # the busiest customers spend at most this many times card_share_of_income on purchases


class Money(Section):
    card_share_of_income: Annotated[float, Field(gt=0, le=1)]
    cash_share_of_income: Annotated[float, Field(ge=0, le=1)]
    transfer_share_of_income: Annotated[float, Field(ge=0, le=1)]
    bills: IntRange
    bills_share_of_income: Annotated[float, Field(ge=0, le=1)]
    least_left: Annotated[float, Field(ge=0, lt=1)]
    savings_sweep: Annotated[float, Field(gt=0, le=1)]
    refund_rate: Probability
    p2p_rate: Probability

    @property
    def spent_share(self) -> float:
        """The share of income the population is budgeted to pay out in a month before what is left is swept:
        purchases, cash, transfers and debit orders (what an opening balance expects to pay until payday)."""
        return min(1.0, self.card_share_of_income + self.cash_share_of_income + self.transfer_share_of_income
                   + self.bills_share_of_income)

    @model_validator(mode="after")
    def _income_funds_the_budget(self):
        shares = {"card_share_of_income": self.card_share_of_income, "cash_share_of_income": self.cash_share_of_income,
                  "transfer_share_of_income": self.transfer_share_of_income,
                  "bills_share_of_income": self.bills_share_of_income}
        room = 1 - self.least_left
        if sum(shares.values()) > room:
            raise ValueError(f"the budget takes {sum(shares.values()):.2f} of income: "
                             + " + ".join(f"{k} {v}" for k, v in shares.items())
                             + f" must be at most 1 - least_left ({self.least_left}) = {room:.2f}, so that what "
                               f"customers pay out is funded by what comes in")
        busiest = MAX_SPEND_SPREAD * self.card_share_of_income + self.bills_share_of_income
        if busiest > room:
            raise ValueError(f"card_share_of_income {self.card_share_of_income} × {MAX_SPEND_SPREAD} (the busiest "
                             f"customers' purchases) + bills_share_of_income {self.bills_share_of_income} = "
                             f"{busiest:.2f} exceeds 1 - least_left ({self.least_left}): lower them so the sum is at "
                             f"most {room:.2f}")
        return self


class CrossBorder(Section):
    share: Probability
    trips_per_month: Annotated[float, Field(ge=0, le=31)]
    days: IntRange
    countries: Annotated[dict[str, Annotated[float, Field(gt=0)]], Field(min_length=1)]


class TripCash(Section):
    on_arrival: Probability
    per_day: Probability


class Travel(Section):
    domestic_trips_per_year: Annotated[float, Field(ge=0, le=52)]
    domestic_days: IntRange
    abroad_trips_per_year: Annotated[float, Field(ge=0, le=52)]
    abroad_days: IntRange
    cross_border: CrossBorder
    trip_cash: TripCash
    trip_activity: Probability

    @field_validator("domestic_days", "abroad_days")
    @classmethod
    def _at_least_a_day(cls, value: IntRange) -> IntRange:
        if value.min < 1:
            raise ValueError(f"a trip lasts at least 1 day (got min={value.min})")
        return value


class FraudScenario(Section):
    enabled: bool
    rate: Probability
    stealth: Probability
    label_delay_days: FloatRange

    @field_validator("label_delay_days")
    @classmethod
    def _not_before(cls, delay: FloatRange) -> FloatRange:
        if delay.min < 0:
            raise ValueError(f"the bank cannot learn of fraud before it happens (got min={delay.min})")
        return delay


class CardFraudChain(FraudScenario):
    length: IntRange
    gap_seconds: FloatRange
    stealth_length: IntRange
    stealth_gap_minutes: FloatRange
    online_share: Probability
    foreign_share: Probability
    shop_account_share: Probability
    onset_days: IntRange


class AgeWeight(Section):
    min_age: Annotated[int, Field(ge=0)]
    max_age: Annotated[int, Field(ge=0)]
    weight: Annotated[float, Field(ge=0)]


class AtmAbroad(FraudScenario):
    withdrawals: IntRange
    delay_hours: FloatRange
    min_distance_km: Annotated[float, Field(ge=0)]
    age_susceptibility: Annotated[list[AgeWeight], Field(min_length=1)]
    onset_days: IntRange

    @field_validator("age_susceptibility")
    @classmethod
    def _bands_in_order(cls, bands: list[AgeWeight]) -> list[AgeWeight]:
        return _bands_in_order(bands)

    @field_validator("delay_hours")
    @classmethod
    def _within_a_day(cls, delay: FloatRange) -> FloatRange:
        if delay.min < 0 or delay.max >= 24:
            raise ValueError(f"delay_hours must lie within 0–24 (got {delay.min}–{delay.max})")
        return delay


class HighVelocity(FraudScenario):
    transactions: IntRange
    gap_seconds: FloatRange
    spend_multiplier: FloatRange
    hours: tuple[Annotated[int, Field(ge=0, le=23)], Annotated[int, Field(ge=0, le=23)]]
    shop_account_share: Probability


class AccountTakeover(FraudScenario):
    transfers: IntRange
    gap_seconds: FloatRange
    stealth_transfers: IntRange
    stealth_gap_minutes: FloatRange
    drain_share: FloatRange
    daily_limit: Annotated[float, Field(ge=100)]
    risky_device_weight: Annotated[float, Field(ge=1)]
    payee_saved_days: IntRange


class Compromise(Section):
    points_per_week: Annotated[float, Field(ge=0, le=1000)]
    window_days: IntRange
    capture_share: Probability


class Rings(Section):
    count: Annotated[int, Field(ge=1, le=10000)]
    devices: IntRange
    ips: IntRange
    mules: IntRange
    burners: Annotated[int, Field(ge=1, le=1_000_000)]

    @model_validator(mode="after")
    def _members(self):
        if min(self.devices.min, self.ips.min, self.mules.min) < 1:
            raise ValueError("a ring has at least one device, IP address and mule (min >= 1)")
        return self


class Fraud(Section):
    card_fraud_chain: CardFraudChain
    atm_abroad: AtmAbroad
    high_velocity: HighVelocity
    account_takeover: AccountTakeover
    compromise: Compromise
    rings: Rings

    @model_validator(mode="after")
    def _episodes_last_less_than_a_day(self):
        chain = self.card_fraud_chain
        longest = {
            "card_fraud_chain": chain.length.max * max(chain.gap_seconds.max, chain.stealth_gap_minutes.max * 60),
            "high_velocity": self.high_velocity.transactions.max * self.high_velocity.gap_seconds.max,
            "account_takeover": self.account_takeover.transfers.max * self.account_takeover.gap_seconds.max,
        }
        too_long = [name for name, seconds in longest.items() if seconds >= 24 * 3600]
        if too_long:
            raise ValueError(f"an episode must last under a day (length × longest gap): {', '.join(too_long)}")
        return self


class SessionSeconds(Section):
    mean: Annotated[float, Field(gt=0)]
    sd: Annotated[float, Field(ge=0)]
    min: Annotated[float, Field(gt=0)]


class WebFunnel(Section):
    visitors_per_day: PositiveInt
    daily_volume_sd: Annotated[float, Field(ge=0, le=0.5)]
    hourly_weights: Annotated[list[Annotated[float, Field(ge=0)]], Field(min_length=24, max_length=24)]
    event_types: Shares
    device_types: Shares
    geo: Shares
    session_seconds: SessionSeconds
    application_rate: Probability
    application_delay_minutes: FloatRange
    applicant_age: IntRange
    annual_income: FloatRange
    employment_status: Shares
    approval_rate: Probability
    not_approved_status: Shares
    opening_delay_hours: FloatRange
    limit_factor: FloatRange
    interest_rate: FloatRange
    first_transaction_rate: Probability
    first_transactions: IntRange
    first_transaction_delay_days: FloatRange
    first_transaction_amount: FloatRange
    mccs: Annotated[list[MerchantCategoryCode], Field(min_length=1)]
    arrival_lag_seconds: ArrivalLag


# The event tables that get landing files, and the columns anomalies may not rewrite (they
# decide which file and batch a row lands in).
EVENT_TABLES = schemas.EVENT_TABLE_NAMES
DELIVERY_COLUMNS = ("arrival_time", "batch")
WindowDay = Annotated[int, Field(ge=1)]
MicroBatch = Annotated[int, Field(ge=0, le=7)]


class Anomaly(Section):
    """One planned anomaly: on which window days and micro-batch, in which table (and column)."""

    days: Literal["every"] | Annotated[list[WindowDay], Field(min_length=1)]
    batch: MicroBatch
    table: str
    targets: typing.ClassVar[dict[str, tuple[str, ...]] | None] = None  # table -> columns; None: any event table

    @model_validator(mode="after")
    def _known_target(self):
        allowed = self.targets or {t: () for t in EVENT_TABLES}
        if self.table not in allowed:
            raise ValueError(f"{self.type} cannot target table {self.table!r}; allowed: {', '.join(allowed)}")
        column = getattr(self, "column", None)
        if column is not None and allowed[self.table] and column not in allowed[self.table]:
            raise ValueError(f"{self.type} cannot target {self.table}.{column}; allowed: "
                             f"{', '.join(allowed[self.table])}")
        return self


class NullBurst(Anomaly):
    """A share of the batch's rows lose the value of one column (any column but arrival_time and batch)."""

    type: Literal["null_burst"]
    share: Probability
    column: str

    @model_validator(mode="after")
    def _a_column_of_the_table(self):
        columns = [c.name for c in schemas.TABLES[self.table].columns if c.name not in DELIVERY_COLUMNS] \
            if self.table in schemas.TABLES else []
        if columns and self.column not in columns:
            raise ValueError(f"null_burst cannot target {self.table}.{self.column}; allowed: {', '.join(columns)}")
        return self


class AgeError(Anomaly):
    """Under-age applicants, rejected as such; picked among applications that were not approved,
    so no account ever opens for a minor."""

    type: Literal["age_error"]
    share: Probability
    column: str
    age: IntRange
    status: str
    targets = {"applications": ("applicant_age",)}


class TrafficSpike(Anomaly):
    """Extra rows (copies of the batch's rows with fresh ids and times) until the batch holds
    `volume_multiplier` times its rows; `share` of all its rows get a bot-like value in `column`.
    The added visitors never apply, so conversion falls."""

    type: Literal["traffic_spike"]
    share: Probability
    column: str
    volume_multiplier: Annotated[float, Field(gt=1, le=20)]
    bot_values: FloatRange
    targets = {"web_visits": ("session_duration",), "card_transactions": ("amount",)}


class FraudSpike(Anomaly):
    """A share of the batch's transactions spend `of_limit` of the account's limit (new accounts'
    approved limit; for card transactions, the account's average balance)."""

    type: Literal["fraud_spike"]
    share: Probability
    column: str
    of_limit: FloatRange
    targets = {"new_account_transactions": ("amount",), "card_transactions": ("amount",)}


class LimitSpike(Anomaly):
    """A share of the batch's applications request `of_income` of the declared income."""

    type: Literal["limit_spike"]
    share: Probability
    column: str
    of_income: FloatRange
    targets = {"applications": ("req_credit_limit",)}


class StaleData(Anomaly):
    """A share of the batch's rows carry event times `hours_behind` their arrival."""

    type: Literal["stale_data"]
    share: Probability
    hours_behind: Annotated[float, Field(gt=0, le=72)]


class ConversionDrop(Anomaly):
    """Applications in the batch are withheld until `application_rate` of its visitors apply;
    their accounts and first transactions never happen."""

    type: Literal["conversion_drop"]
    application_rate: Probability
    targets = {"applications": ()}


class DuplicateBurst(Anomaly):
    """A share of the batch's rows are delivered twice: an identical copy arrives later in the same batch."""

    type: Literal["duplicate_burst"]
    share: Probability


class LateArrival(Anomaly):
    """A share of the rows that would arrive `delay_batches` batches earlier arrive in this batch instead
    (event times unchanged), so this batch receives old events and the earlier one is short."""

    type: Literal["late_arrival"]
    share: Probability
    delay_batches: Annotated[int, Field(ge=1, le=7)]

    @model_validator(mode="after")
    def _source_batch_exists(self):
        if self.delay_batches > self.batch:
            raise ValueError(f"late_arrival in batch {self.batch} cannot be {self.delay_batches} batches late: "
                             f"delay_batches must be at most the batch")
        return self


AnomalyEntry = Annotated[Union[NullBurst, AgeError, TrafficSpike, FraudSpike, LimitSpike, StaleData, ConversionDrop,
                               DuplicateBurst, LateArrival], Field(discriminator="type")]
ANOMALY_TYPES = typing.get_args(typing.get_args(AnomalyEntry)[0])


class ByName:
    """Marks a table of named entries that a user's file merges entry by entry (null removes one)."""


class Anomalies(Section):
    window_days: Annotated[int, Field(ge=1, le=366)]
    after_window: Literal["repeat", "clean"]
    landing_format: Literal["parquet", "ndjson", "csv"]
    plan: Annotated[dict[str, AnomalyEntry], ByName()]

    @model_validator(mode="after")
    def _days_in_window(self):
        for name, entry in self.plan.items():
            late = [d for d in ([] if entry.days == "every" else entry.days) if d > self.window_days]
            if late:
                raise ValueError(f"plan.{name}.days: day {late[0]} is outside the {self.window_days}-day window "
                                 f"(allowed: 1–{self.window_days} or every)")
        return self


class Storage(Section):
    url: Annotated[str, Field(min_length=1)]
    endpoint_url: str | None = None

    @field_validator("url")
    @classmethod
    def _supported_url(cls, url: str) -> str:
        parts = urlsplit(url)
        if parts.scheme not in ("", "file", "s3"):
            raise ValueError(f"storage url scheme must be a local path, file:// or s3:// (got '{parts.scheme}://')")
        if parts.username or parts.password:
            raise ValueError("storage url must not carry credentials; set them in the AWS environment variables")
        if parts.scheme == "s3" and len(parts.netloc) < 3:
            raise ValueError(f"s3 url needs a bucket name of at least 3 characters (got '{url}')")
        return url


class Scenario(Section):
    seed: Annotated[int, Field(ge=0, lt=2**63)]
    start_date: date
    end_date: date | None = None  # the calendar's last day (inclusive); None: open-ended
    region: str
    population: Population
    customers: Customers
    accounts: Accounts
    cards: Cards
    devices: Devices
    beneficiaries: Beneficiaries
    merchants: Merchants
    card_transactions: CardTransactions
    customer_events: CustomerEvents
    money: Money
    travel: Travel
    fraud: Fraud
    web_funnel: WebFunnel
    anomalies: Anomalies
    storage: Storage

    @model_validator(mode="after")
    def _calendar_holds_baseline_and_window(self):
        if self.end_date is None:
            return self
        days = (self.end_date - self.start_date).days + 1
        needed = BASELINE_DAYS + self.anomalies.window_days
        if days < needed:
            raise ValueError(f"end_date: the calendar {self.start_date} … {self.end_date} holds {days} day(s); it needs "
                             f"at least {needed}: the {BASELINE_DAYS} baseline days and anomalies.window_days "
                             f"({self.anomalies.window_days})")
        return self

    @property
    def minimum_days(self) -> int:
        """The days every calendar offers: the baseline and one anomaly window."""
        return BASELINE_DAYS + self.anomalies.window_days

    @model_validator(mode="after")
    def _a_shop_for_every_category(self):
        p, categories = self.population, len(self.merchants.categories)
        for field in ("merchants", "online_merchants"):
            if getattr(p, field) < categories:
                raise ValueError(f"population.{field} ({getattr(p, field)}) must be at least the number of merchant "
                                 f"categories ({categories}): each needs a shop")
        destinations = len(self.geography.destinations)
        for field, needed in (("foreign_merchants", 2 * destinations), ("foreign_atms", destinations)):
            if getattr(p, field) < needed:
                raise ValueError(f"population.{field} ({getattr(p, field)}) must be at least {needed}: every travel "
                                 f"destination of the region ({destinations}) needs its shops and ATMs")
        return self

    @model_validator(mode="after")
    def _enough_beneficiaries(self):
        if self.beneficiaries.per_account.max > self.population.beneficiaries:
            raise ValueError(f"beneficiaries.per_account.max ({self.beneficiaries.per_account.max}) must not exceed "
                             f"population.beneficiaries ({self.population.beneficiaries})")
        return self

    @model_validator(mode="after")
    def _payees_for_transfers(self):
        b = self.beneficiaries
        if self.card_transactions.channels.get("transfer", 0) > 0 and b.per_account.max < 1 and b.new_per_month <= 0:
            raise ValueError(f"beneficiaries.per_account.max must be at least 1 (or new_per_month above 0) when "
                             f"card_transactions.channels.transfer is above 0 "
                             f"({self.card_transactions.channels['transfer']}): transfers go to saved beneficiaries")
        return self

    @model_validator(mode="after")
    def _known_categories(self):
        c = self.card_transactions
        for where, names in (("card_transactions.category_weekly", c.category_weekly),
                             ("card_transactions.category_hourly", c.category_hourly),
                             ("card_transactions.holiday.category_multiplier", c.holiday.category_multiplier)):
            unknown = [n for n in names if n not in self.merchants.categories]
            if unknown:
                raise ValueError(f"{where}: unknown merchant category {unknown[0]!r}; allowed: "
                                 f"{', '.join(self.merchants.categories)}")
        return self

    @model_validator(mode="after")
    def _cross_border_to_destinations(self):
        known = [d.country_code for d in self.geography.destinations]
        unknown = [c for c in self.travel.cross_border.countries if c not in known]
        if unknown:
            raise ValueError(f"travel.cross_border.countries: {unknown[0]!r} is not a travel destination of region "
                             f"{self.region!r}; allowed: {', '.join(known)}")
        return self

    @model_validator(mode="after")
    def _amounts_fund_the_counts(self):
        """Withdrawals and transfers are sized from the budget over how many a customer makes a month; the channel
        mix must leave a typical one above the smallest amount (a note, R10 typed), or the budget would not hold."""
        c, m = self.card_transactions, self.money
        unit = c.reference_unit_value
        categories = self.merchants.categories.values()
        purchase = sum(k.share * min(max(k.median_price * math.exp(k.price_sigma ** 2 / 2), k.min_price), k.max_price)
                       for k in categories) * unit / sum(k.share for k in categories)
        buying = c.channels.get("pos", 0.0) + c.channels.get("online", 0.0)
        for channel, share, least, sigma, fields in (
                ("atm", m.cash_share_of_income, c.atm.amount_step, 0.6,
                 "money.cash_share_of_income, card_transactions.atm.amount_step"),
                ("transfer", m.transfer_share_of_income, TYPED_LEAST, 0.9, "money.transfer_share_of_income")):
            rows = c.channels.get(channel, 0.0)
            if rows <= 0 or share <= 0:
                continue
            if buying > 0:  # incomes are scaled to the purchase volume: the ratio is the same at any per_day
                typical = share / m.card_share_of_income * purchase * buying / rows
            else:
                typical = share * self.reference_income * self.population.customers / (c.per_day * rows * MONTH_DAYS)
            median = typical / math.exp(sigma ** 2 / 2)
            if median < least:
                raise ValueError(
                    f"card_transactions.channels.{channel} ({rows}) makes a typical customer's {channel} payments "
                    f"{median:.2f} each (its share of their budget over how many they make), below the smallest "
                    f"allowed ({least}): lower channels.{channel}, or raise {fields}")
        return self

    @property
    def reference_income(self) -> float:
        """The income of affluence 1: the population's geometric mean of the brackets' median incomes."""
        c = self.customers
        shares = [c.income_bracket[b] for b in c.income_bracket]
        logs = [math.log(c.monthly_income[b].median) for b in c.income_bracket]
        return math.exp(sum(s * x for s, x in zip(shares, logs)) / sum(shares))

    @property
    def horizon_end(self) -> date:
        """The last day that slow changes of genuine life (new payees, new phones, trips, card renewals) are
        planned for: the calendar's end, or a year after the start for an open-ended calendar."""
        return self.end_date or self.start_date + timedelta(days=HORIZON_DAYS - 1)

    def hours_with_rows(self, table: str) -> set[int]:
        """The hours of the day in which rows of an event table can arrive, by the scenario's profiles."""
        every = set(range(24))
        if table in ("web_visits", "applications"):
            visits = {hour for hour, weight in enumerate(self.web_funnel.hourly_weights) if weight > 0}
            return visits if table == "web_visits" else visits | {(hour + 1) % 24 for hour in visits}  # 1–15 min on
        if table == "card_transactions":
            c = self.card_transactions
            if c.channels.get("atm", 0) > 0:
                return every  # withdrawal runs land at any hour
            profiles = [c.hourly[ch] for ch in CHANNELS if c.channels.get(ch, 0) > 0] + list(c.category_hourly.values())
            return {hour for profile in profiles for hour, weight in enumerate(profile) if weight > 0}
        return every  # accounts open 2–24 h after applying; first transactions days later

    @model_validator(mode="after")
    def _planned_batches_have_rows(self):
        for name, entry in self.anomalies.plan.items():
            source = entry.batch - getattr(entry, "delay_batches", 0)  # a late arrival takes rows from earlier
            hours = set(range(source * 3, source * 3 + 3))
            if not hours & self.hours_with_rows(entry.table):
                raise ValueError(f"anomalies.plan.{name}.batch: batch {source} ({source * 3:02d}:00–"
                                 f"{source * 3 + 3:02d}:00) of {entry.table} never has rows under the scenario's "
                                 f"hourly profile, so the anomaly would touch nothing; pick a batch whose hours have "
                                 "weight")
        return self

    @model_validator(mode="after")
    def _conversion_drops_lower_the_rate(self):
        for name, entry in self.anomalies.plan.items():
            if isinstance(entry, ConversionDrop) and entry.application_rate >= self.web_funnel.application_rate:
                raise ValueError(f"anomalies.plan.{name}.application_rate ({entry.application_rate}) must be below "
                                 f"web_funnel.application_rate ({self.web_funnel.application_rate})")
        return self

    @field_validator("region")
    @classmethod
    def _known_region(cls, region: str) -> str:
        if region not in REGIONS:
            raise ValueError(f"unknown region {region!r}; allowed: {', '.join(REGIONS)}")
        return region

    @property
    def geography(self) -> Region:
        return REGIONS[self.region]

    @property
    def content_hash(self) -> str:
        """Identifies the data the scenario produces; where it is stored is not part of it."""
        content = self.model_dump(mode="json", exclude={"storage"})
        return hashlib.sha256(json.dumps(content, separators=(",", ":")).encode()).hexdigest()[:16]


def load_scenario(environ: Mapping[str, str] | None = None) -> Scenario:
    """The effective scenario: defaults, merged with the user's file, then the storage override."""
    environ = os.environ if environ is None else environ
    data = _read_yaml(DEFAULT_SCENARIO_FILE)
    source = str(DEFAULT_SCENARIO_FILE)
    if environ.get(SCENARIO_ENV):
        path = Path(environ[SCENARIO_ENV])
        if not path.is_file():
            raise ScenarioError(f"{SCENARIO_ENV} names {str(path)!r}, which is not a file")
        data = merge_over(Scenario, data, _read_yaml(path))
        source = str(path)
    if environ.get(STORAGE_URL_ENV):
        data = merge_over(Scenario, data, {"storage": {"url": environ[STORAGE_URL_ENV]}})
        source += f" with {STORAGE_URL_ENV}"
    return validate_scenario(data, source)


def validate_scenario(data: Mapping[str, Any], source: str = "scenario") -> Scenario:
    try:
        return Scenario.model_validate(data)
    except ValidationError as error:
        lines = [f"  - {_describe(e)}" for e in error.errors()]
        raise ScenarioError(f"Invalid scenario ({source}):\n" + "\n".join(lines)) from None


def with_overrides(scenario: Scenario, overrides: Mapping[str, Any], source: str = "overrides") -> Scenario:
    """`scenario` with `overrides` merged over it the way a user's file is merged over the defaults, validated.
    Raises ScenarioError naming every invalid field."""
    return validate_scenario(merge_over(Scenario, scenario.model_dump(mode="json"), overrides), source)


def merge_over(model: type[BaseModel], base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """`override` over `base`: sections merge key by key; any other value (a table of shares too) is replaced whole.

    Replacing share tables whole means a user who writes `kyc_level: {low: 0.5, high: 0.5}`
    gets exactly that, not a three-way table that no longer sums to 1.
    """
    merged = dict(base)
    for key, value in override.items():
        field = model.model_fields.get(key)
        section = _section_type(_unwrap(field.annotation)) if field else None
        both_mappings = isinstance(value, Mapping) and isinstance(base.get(key), Mapping)
        if section and both_mappings:
            merged[key] = merge_over(section, base[key], value)
        elif field and both_mappings and any(isinstance(m, ByName) for m in field.metadata):
            merged[key] = _merge_by_name(base[key], value)
        else:
            merged[key] = value
    return merged


def _merge_by_name(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Named entries: a new name adds one, a known name is retuned key by key, a null removes it."""
    merged = dict(base)
    for name, entry in override.items():
        if entry is None:
            merged.pop(name, None)
        elif isinstance(entry, Mapping) and isinstance(base.get(name), Mapping):
            merged[name] = {**base[name], **entry}
        else:
            merged[name] = entry
    return merged


def _section_type(annotation: Any) -> type[Section] | None:
    return annotation if isinstance(annotation, type) and issubclass(annotation, Section) else None


class _ScenarioLoader(yaml.SafeLoader):
    """Safe YAML with dates left as text: pydantic then parses them and names the field on error
    (PyYAML's own date parsing raises a bare ValueError on 2026-13-01)."""


_ScenarioLoader.yaml_implicit_resolvers = {
    first: [(tag, pattern) for tag, pattern in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.load(path.read_text(), Loader=_ScenarioLoader)
    except yaml.YAMLError as error:
        raise ScenarioError(f"Invalid scenario ({path}): not valid YAML: {error}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ScenarioError(f"Invalid scenario ({path}): the file must hold a mapping of sections, "
                            f"not a {type(data).__name__}")
    return data


def _describe(error: Mapping[str, Any]) -> str:
    location = ".".join(str(part) for part in error["loc"]) or "(top level)"
    if error["type"] == "extra_forbidden":
        allowed = _allowed_keys(error["loc"][:-1])
        return f"{location}: unknown key; allowed keys here: {', '.join(allowed)}"
    if error["type"] == "missing":
        return f"{location}: required, missing"
    if error["type"] == "value_error":  # our own validators say what they got, and never echo secrets
        return f"{location}: {error['msg'].removeprefix('Value error, ')}"
    return f"{location}: {error['msg']} (got {error['input']!r})"


def _allowed_keys(location: tuple[Any, ...]) -> list[str]:
    """The field names of the section at `location`, walking sections and named tables."""
    node: Any = Scenario
    for part in location:
        node = _unwrap(node)
        if _section_type(node):
            node = node.model_fields[part].annotation
        elif typing.get_origin(node) is dict:
            node = typing.get_args(node)[1]
    node = _unwrap(node)
    return list(node.model_fields) if _section_type(node) else []


def _unwrap(annotation: Any) -> Any:
    return typing.get_args(annotation)[0] if typing.get_origin(annotation) is Annotated else annotation
