"""What a table must satisfy: key uniqueness, foreign keys and allowed values. Pure Arrow, no Dagster.

The expected values come from the scenario (the ages it allows, the categories it names), so a
check fails when the data stops matching the configuration that produced it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fraud_pipeline.generators.columns import luhn_valid
from fraud_pipeline.generators.timeline import batch_of
from fraud_pipeline.reserved import RESERVED_DOMAIN_PATTERN, TEST_CARD_BINS
from fraud_pipeline.scenario import CARD_NETWORK_PREFIXES, PAY_SCHEDULES, Scenario

SAMPLE = 5


@dataclass(frozen=True)
class Between:
    low: object
    high: object

    def failing(self, values: pa.ChunkedArray) -> pa.ChunkedArray:
        return pc.or_(pc.less(values, self.low), pc.greater(values, self.high))

    def __str__(self) -> str:
        return f"between {self.low} and {self.high}"


@dataclass(frozen=True)
class OneOf:
    allowed: tuple

    def failing(self, values: pa.ChunkedArray) -> pa.ChunkedArray:
        return pc.invert(pc.is_in(values, pa.array(self.allowed)))

    def __str__(self) -> str:
        return f"one of {', '.join(map(str, self.allowed))}"


@dataclass(frozen=True)
class Matches:
    pattern: str

    def failing(self, values: pa.ChunkedArray) -> pa.ChunkedArray:
        return pc.invert(pc.match_substring_regex(values, f"^(?:{self.pattern})$"))

    def __str__(self) -> str:
        return f"matching {self.pattern}"


@dataclass(frozen=True)
class Satisfies:
    description: str
    predicate: Callable[[pa.Array], np.ndarray]

    def failing(self, values: pa.ChunkedArray) -> pa.Array:
        return pa.array(~self.predicate(values.combine_chunks()))

    def __str__(self) -> str:
        return self.description


Expectation = "Between | OneOf | Matches | Satisfies | OrNull"


@dataclass(frozen=True)
class Finding:
    """The outcome of one rule over one table: how many rows break it and a few of them."""

    rule: str
    failures: int
    examples: list

    @property
    def passed(self) -> bool:
        return self.failures == 0


def key_findings(table: pa.Table, key: tuple[str, ...]) -> list[Finding]:
    """A key must be complete (no nulls) and unique."""
    nulls = sum(table[c].null_count for c in key)
    counts = table.select(list(key)).group_by(list(key)).aggregate([([], "count_all")])
    repeated = counts.filter(pc.greater(counts["count_all"], 1))
    duplicates = int(pc.sum(repeated["count_all"]).as_py() or 0) - repeated.num_rows
    examples = repeated.slice(0, SAMPLE).select(list(key)).to_pylist()
    return [Finding(f"{'+'.join(key)} has no nulls", nulls, []),
            Finding(f"{'+'.join(key)} is unique", duplicates, examples)]


def foreign_key_finding(values: pa.ChunkedArray, referenced: pa.ChunkedArray, rule: str) -> Finding:
    orphan = pc.invert(pc.is_in(values, referenced))
    orphans = values.filter(orphan)
    return Finding(rule, len(orphans), orphans.unique().slice(0, SAMPLE).to_pylist())


@dataclass(frozen=True)
class OrNull:
    """`expectation`, or null (a column that is empty when it does not apply)."""

    expectation: Expectation

    def failing(self, values: pa.ChunkedArray) -> pa.ChunkedArray:
        return pc.and_(pc.is_valid(values), pc.fill_null(self.expectation.failing(values), False))

    def __str__(self) -> str:
        return f"{self.expectation} or null"


def value_findings(table: pa.Table, expectations: dict[str, Expectation]) -> list[Finding]:
    findings = []
    for column, expectation in expectations.items():
        failing = pc.fill_null(expectation.failing(table[column]), True)  # null fails unless OrNull allows it
        bad = table[column].filter(failing)
        findings.append(Finding(f"{column} {expectation}", len(bad), bad.unique().slice(0, SAMPLE).to_pylist()))
    return findings


def event_time_findings(table: pa.Table, day: date, max_lag_ms: int) -> list[Finding]:
    """A partition holds the rows that arrive on its day; a row arrives after it happens, and in its batch."""
    day_start = np.datetime64(day, "ms")
    arrival = table["arrival_time"].to_numpy().astype("datetime64[ms]")
    event = table["event_time"].to_numpy().astype("datetime64[ms]")
    day_end = day_start + np.timedelta64(1, "D")
    outside = (arrival < day_start) | (arrival >= day_end)
    lag = (arrival - event).astype(np.int64)
    batch = batch_of(arrival.astype(np.int64), day_start.astype(np.int64))
    return [
        Finding("arrival_time within the partition's day", int(outside.sum()), []),
        Finding(f"arrival_time 0–{max_lag_ms} ms after event_time", int(((lag < 0) | (lag > max_lag_ms)).sum()), []),
        Finding("batch is the 3-hour window of arrival_time", int((batch != table["batch"].to_numpy()).sum()), []),
    ]


def order_finding(children: pa.Table, parents: pa.Table, key: str, rule: str) -> Finding:
    """Children must happen after their parent (joined on `key`, the parent's id)."""
    joined = children.select([key, "event_time"]).join(
        parents.select([key, "event_time"]).rename_columns([key, "parent_time"]), key, join_type="inner")
    late = joined.filter(pc.less_equal(joined["event_time"], joined["parent_time"]))
    return Finding(f"{rule} ({joined.num_rows:,} of {children.num_rows:,} rows have their parent stored)",
                   late.num_rows, late[key].slice(0, SAMPLE).to_pylist())


def entity_expectations(scenario: Scenario) -> dict[str, dict[str, Expectation]]:
    """The values each entity table may hold under `scenario`."""
    region, start = scenario.geography, scenario.start_date
    c, a, d, b, m = (scenario.customers, scenario.accounts, scenario.devices, scenario.beneficiaries,
                     scenario.merchants)
    provinces = tuple(p.name for p in region.provinces)
    lat = Between(min(p.bbox[0] for p in region.provinces), max(p.bbox[1] for p in region.provinces))
    lon = Between(min(p.bbox[2] for p in region.provinces), max(p.bbox[3] for p in region.provinces))
    before_start = Between(date(1900, 1, 1), start - timedelta(days=1))
    within_horizon = Between(date(1900, 1, 1), scenario.horizon_end)
    countries = (region.country_code, *(dest.country_code for dest in region.destinations))
    currencies = (region.currency, *(dest.currency for dest in region.destinations))
    if scenario.cards.bin_ranges == "test":  # the published test BINs (fraud_pipeline.reserved)
        first_digits = tuple(b for network in scenario.cards.network for b in TEST_CARD_BINS[network])
        bin_rule = "a published test BIN (" + ", ".join(first_digits) + ")"
    else:
        first_digits = tuple(p for network in scenario.cards.network for p in CARD_NETWORK_PREFIXES[network])
        bin_rule = "a network prefix (" + ", ".join(first_digits) + ")"
    prefixes = "|".join(first_digits)
    return {
        "customers": {
            "sex": OneOf(tuple(c.sex)),
            "email": Matches(rf"[a-z.]+[0-9]*@(?:{RESERVED_DOMAIN_PATTERN})"),  # reserved domains only
            "age": Between(c.age.min, c.age.max),
            "home_province": OneOf(provinces),
            "home_lat": lat,
            "home_lon": lon,
            "spend_tier": OneOf(tuple(c.spend_tiers)),
            "avg_spend": Between(0.01, float("inf")),
            "kyc_level": OneOf(tuple(c.kyc_level)),
            "risk_rating": OneOf(tuple(c.risk_rating)),
            "occupation": OneOf(tuple(c.occupation)),
            "industry": OneOf(tuple(c.industry)),
            "income_bracket": OneOf(tuple(c.income_bracket)),
            "monthly_income": Between(0.0, float("inf")),
            "pay_schedule": OneOf(PAY_SCHEDULES),
            "country_risk": OneOf(tuple(c.country_risk)),
            "customer_since": Between(start - timedelta(days=c.tenure_days.max), start - timedelta(days=c.tenure_days.min)),
        },
        "devices": {
            "os_type": OneOf(tuple(d.os)),
            "device_type": OneOf(("mobile", "desktop", "tablet", "unknown")),
            "first_seen_date": within_horizon,
        },
        "device_history": {"valid_from": within_horizon,
                           "trusted_from": Between(date(1900, 1, 1), scenario.horizon_end
                                                   + timedelta(days=d.new_phone_trust_days.max))},
        "accounts": {
            "account_type": OneOf(tuple(a.account_type)),
            "status": OneOf(tuple(a.status)),
            "currency": OneOf((region.currency,)),
            "opened_date": before_start,
            "closed_date": OrNull(Between(start, start + timedelta(days=a.closing.within_days))),
            "overdraft_limit": Between(0.0, float("inf")),
            "credit_limit": Between(0.0, float("inf")),
        },
        "cards": {
            "card_number": Satisfies(f"16 digits passing the Luhn check, starting with {bin_rule}",
                                     lambda v: pc.and_(pc.match_substring_regex(v, r"^\d{16}$"),
                                                       pc.match_substring_regex(v, f"^(?:{prefixes})")).to_numpy(
                                         zero_copy_only=False) & luhn_valid(v)),
            "network": OneOf(tuple(scenario.cards.network)),
            "card_type": OneOf(tuple(scenario.cards.card_type)),
            "expiry": Matches(r"(0[1-9]|1[0-2])/\d{2}"),
            "issued_date": within_horizon,
        },
        "beneficiaries": {
            "beneficiary_type": OneOf(tuple(b.type)),
            "country_risk": OneOf(tuple(b.country_risk)),
        },
        "account_beneficiaries": {"added_date": within_horizon},
        "merchants": {
            "terminal_type": OneOf(("pos", "atm", "ecommerce")),
            "category": OneOf((*m.categories, "Cash Withdrawal")),
            "mcc": OneOf((*(x.mcc for x in m.categories.values()), m.atm_mcc)),
            "province": OrNull(OneOf(provinces)),
            "country": OneOf(countries),
            "currency": OneOf(currencies),
            "lat": Between(-90.0, 90.0),
            "lon": Between(-180.0, 180.0),
        },
        "customer_merchants": {"role": OneOf(("shop", "web_shop", "atm"))},
        "feature_catalogue": {"column": Matches(r"[a-z][a-z0-9_]*")},
    }


def summary(findings: list[Finding]) -> str:
    failed = [f for f in findings if not f.passed]
    if not failed:
        return f"all {len(findings)} rules hold"
    return "; ".join(f"{f.rule}: {f.failures:,} rows fail (e.g. {f.examples})" for f in failed)
