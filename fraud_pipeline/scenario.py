"""The scenario: every knob a user turns, in one validated file.

Defaults ship in `default_scenario.yaml`; a user file named by `FRAUD_PIPELINE_SCENARIO` is
merged over them, and `FRAUD_PIPELINE_STORAGE_URL` overrides the storage root alone. Validation
happens when the code location loads, so a bad value stops everything before anything is written.
"""

from __future__ import annotations

import hashlib
import json
import os
import typing
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal, Union
from urllib.parse import urlsplit

import yaml
from pydantic import (AfterValidator, BaseModel, ConfigDict, Field, PositiveInt, ValidationError,
                      field_validator, model_validator)

from fraud_pipeline import schemas
from fraud_pipeline.generators.timeline import BASELINE_DAYS
from fraud_pipeline.regions import REGIONS, Region

DEFAULT_SCENARIO_FILE = Path(__file__).with_name("default_scenario.yaml")
SCENARIO_ENV = "FRAUD_PIPELINE_SCENARIO"
STORAGE_URL_ENV = "FRAUD_PIPELINE_STORAGE_URL"
SHARE_TOLERANCE = 1e-6


# Card networks and their issuer prefixes (the first digits of a card number).
CARD_NETWORK_PREFIXES = {"visa": ("4",), "mastercard": ("51", "52", "53", "54", "55")}
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
    """A share, and the positive range it covers: a spend tier, or a bucket of the amount distribution."""

    share: Probability
    min: Annotated[float, Field(gt=0)]
    max: Annotated[float, Field(gt=0)]

    @model_validator(mode="after")
    def _ordered(self):
        if self.min >= self.max:
            raise ValueError(f"min must be below max (got min={self.min}, max={self.max})")
        return self


MerchantCategoryCode = Annotated[str, Field(pattern=r"^\d{4}$")]


class MerchantCategory(Section):
    share: Probability
    mcc: MerchantCategoryCode
    min_price: Annotated[float, Field(gt=0)]
    max_price: Annotated[float, Field(gt=0)]

    @model_validator(mode="after")
    def _ordered(self):
        if self.min_price >= self.max_price:
            raise ValueError(f"min_price must be below max_price (got {self.min_price}, {self.max_price})")
        return self


class Population(Section):
    customers: PositiveInt
    accounts: PositiveInt
    devices: PositiveInt
    beneficiaries: PositiveInt
    merchants: PositiveInt
    atms: PositiveInt

    @model_validator(mode="after")
    def _every_customer_has_an_account(self):
        if self.accounts < self.customers:
            raise ValueError(f"accounts ({self.accounts}) must be at least customers ({self.customers}): "
                             "every customer holds an account")
        return self


class Customers(Section):
    age: IntRange
    sex: Annotated[Shares, AfterValidator(lambda s: _known_keys(s, ("F", "M"), "sex"))]
    spend_tiers: Annotated[dict[str, Band], Field(min_length=1), AfterValidator(_shares_sum_to_one)]
    kyc_level: Shares
    risk_rating: Shares
    pep_rate: Probability
    occupation: Shares
    industry: Shares
    income_bracket: Shares
    country_risk: Shares
    tenure_days: IntRange

    @field_validator("age")
    @classmethod
    def _adult_ages(cls, age: IntRange) -> IntRange:
        if age.min < 18 or age.max > 110:
            raise ValueError(f"customer ages must lie within 18–110 (got {age.min}–{age.max})")
        return age

    @field_validator("tenure_days")
    @classmethod
    def _positive_tenure(cls, tenure: IntRange) -> IntRange:
        if tenure.min < 1:
            raise ValueError(f"tenure must be at least 1 day (got min={tenure.min})")
        return tenure


class Accounts(Section):
    account_type: Shares
    status: Shares
    balance_log_mean: Annotated[float, Field(ge=0, le=20)]
    balance_log_sigma: Annotated[float, Field(gt=0, le=5)]


class Cards(Section):
    network: Annotated[Shares, AfterValidator(lambda s: _known_keys(s, CARD_NETWORK_PREFIXES, "card network"))]
    card_type: Shares
    validity_months: IntRange


class Devices(Section):
    os: Shares
    age_days: IntRange
    rooted_rate: Probability
    vpn_rate: Probability
    emulator_rate: Probability


class Beneficiaries(Section):
    type: Annotated[Shares, AfterValidator(lambda s: _known_keys(s, BENEFICIARY_TYPES, "beneficiary type"))]
    country_risk: Annotated[Shares, AfterValidator(lambda s: _known_keys(s, ("low", "medium", "high"), "country risk"))]
    per_account: IntRange


class Merchants(Section):
    categories: Annotated[dict[str, MerchantCategory], Field(min_length=1), AfterValidator(_shares_sum_to_one)]
    atm_mcc: MerchantCategoryCode


class ArrivalLag(Section):
    median: Annotated[float, Field(gt=0)]
    sigma: Annotated[float, Field(ge=0, le=5)]
    max: Annotated[float, Field(gt=0, le=3600)]


class AtmSequences(Section):
    sequence_length: IntRange
    gap_hours: IntRange
    amount_step: Annotated[float, Field(gt=0)]
    max_amount: Annotated[float, Field(gt=0)]


def _buckets_sum_to_one(buckets: list[Band]) -> list[Band]:
    _shares_sum_to_one({str(i): b for i, b in enumerate(buckets)})
    return buckets


class CardTransactions(Section):
    per_day: PositiveInt
    daily_volume_sd: Annotated[float, Field(ge=0, le=0.5)]
    channels: Annotated[Shares, AfterValidator(lambda s: _known_keys(s, CHANNELS, "channel"))]
    regional_share: Probability
    regional_radius_deg: Annotated[float, Field(gt=0, le=10)]
    local_merchants: Annotated[int, Field(ge=1, le=256)]
    home_multiplier: FloatRange
    regional_multiplier: FloatRange
    purchase_hours: tuple[Annotated[int, Field(ge=0, le=23)], Annotated[int, Field(ge=0, le=23)]]
    hourly_weights: list[Annotated[float, Field(ge=0)]]
    arrival_lag_seconds: ArrivalLag
    reference_unit_value: Annotated[float, Field(gt=0)]
    amount_buckets: Annotated[list[Band], Field(min_length=1), AfterValidator(_buckets_sum_to_one)]
    transfer_price: FloatRange
    new_recipient_share: Probability
    atm: AtmSequences

    @model_validator(mode="after")
    def _one_weight_per_hour(self):
        first, last = self.purchase_hours
        if last < first:
            raise ValueError(f"purchase_hours must be [first, last] with first <= last (got {list(self.purchase_hours)})")
        if len(self.hourly_weights) != last - first + 1 or sum(self.hourly_weights) <= 0:
            raise ValueError(f"hourly_weights needs one non-negative weight per purchase hour "
                             f"({last - first + 1} for {first}–{last}), not all zero (got {len(self.hourly_weights)})")
        # Purchases end before 22:00 + the longest lag, so none arrives after midnight.
        if (last + 1) * 3600 + self.arrival_lag_seconds.max >= 24 * 3600:
            raise ValueError("the last purchase hour plus the longest arrival lag must end before midnight")
        return self


class FraudScenario(Section):
    enabled: bool
    rate: Probability
    label_delay_days: FloatRange


class CardFraudChain(FraudScenario):
    length: IntRange
    gap_seconds: FloatRange
    online_share: Probability


class AgeBand(Section):
    min_age: Annotated[int, Field(ge=0)]
    max_age: Annotated[int, Field(ge=0)]
    weight: Annotated[float, Field(ge=0)]


class AtmAbroad(FraudScenario):
    delay_hours: FloatRange
    min_distance_km: Annotated[float, Field(ge=0)]
    age_susceptibility: Annotated[list[AgeBand], Field(min_length=1)]

    @field_validator("age_susceptibility")
    @classmethod
    def _bands_in_order(cls, bands: list[AgeBand]) -> list[AgeBand]:
        for band, following in zip(bands, bands[1:] + [None]):
            if band.min_age > band.max_age or (following and following.min_age <= band.max_age):
                raise ValueError("age bands must be in increasing order, each min_age <= max_age, "
                                 f"without overlap (at {band.min_age}–{band.max_age})")
        return bands

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


class AccountTakeover(FraudScenario):
    transfers: IntRange
    gap_seconds: FloatRange
    drain_share: FloatRange
    risky_device_weight: Annotated[float, Field(ge=1)]


class Fraud(Section):
    card_fraud_chain: CardFraudChain
    atm_abroad: AtmAbroad
    high_velocity: HighVelocity
    account_takeover: AccountTakeover

    @model_validator(mode="after")
    def _episodes_last_less_than_a_day(self):
        longest = {
            "card_fraud_chain": self.card_fraud_chain.length.max * self.card_fraud_chain.gap_seconds.max,
            "high_velocity": self.high_velocity.transactions.max * self.high_velocity.gap_seconds.max,
            "account_takeover": self.account_takeover.transfers.max * self.account_takeover.gap_seconds.max,
        }
        too_long = [name for name, seconds in longest.items() if seconds >= 6 * 3600]
        if too_long:
            raise ValueError(f"an episode must last under 6 hours (length × gap): {', '.join(too_long)}")
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
EVENT_TABLES = tuple(spec.name for spec in schemas.EVENT_TABLES)
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
        if self.population.merchants < len(self.merchants.categories):
            raise ValueError(f"population.merchants ({self.population.merchants}) must be at least the number of "
                             f"merchant categories ({len(self.merchants.categories)}): each needs a shop")
        return self

    @model_validator(mode="after")
    def _enough_beneficiaries(self):
        if self.beneficiaries.per_account.max > self.population.beneficiaries:
            raise ValueError(f"beneficiaries.per_account.max ({self.beneficiaries.per_account.max}) must not exceed "
                             f"population.beneficiaries ({self.population.beneficiaries})")
        return self

    @model_validator(mode="after")
    def _payees_for_transfers(self):
        if self.card_transactions.channels.get("transfer", 0) > 0 and self.beneficiaries.per_account.max < 1:
            raise ValueError(f"beneficiaries.per_account.max must be at least 1 when card_transactions.channels."
                             f"transfer is above 0 ({self.card_transactions.channels['transfer']}): transfers go to "
                             "saved beneficiaries")
        return self

    @model_validator(mode="after")
    def _another_device_for_fraud(self):
        f = self.fraud
        needing = [name for name, on in (("high_velocity", f.high_velocity.enabled),
                                         ("account_takeover", f.account_takeover.enabled),
                                         ("card_fraud_chain", f.card_fraud_chain.enabled
                                          and f.card_fraud_chain.online_share > 0)) if on]
        if needing and self.population.devices < 2:
            raise ValueError(f"population.devices ({self.population.devices}) must be at least 2 while "
                             f"{', '.join(needing)} is enabled: its fraud uses a device other than the account's "
                             "trusted one")
        return self

    def hours_with_rows(self, table: str) -> set[int]:
        """The hours of the day in which rows of an event table can arrive, by the scenario's profiles."""
        every = set(range(24))
        if table in ("web_visits", "applications"):
            visits = {hour for hour, weight in enumerate(self.web_funnel.hourly_weights) if weight > 0}
            return visits if table == "web_visits" else visits | {(hour + 1) % 24 for hour in visits}  # 1–15 min on
        if table == "card_transactions":
            first, _ = self.card_transactions.purchase_hours
            purchases = {first + i for i, weight in enumerate(self.card_transactions.hourly_weights) if weight > 0}
            return every if self.card_transactions.channels.get("atm", 0) > 0 else purchases  # withdrawals: any hour
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
