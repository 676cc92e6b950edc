"""Seed 001's acquisition funnel: visits -> applications -> account openings -> first transactions.

A cohort is everything that follows from one day's visitors, drawn from that day's streams.
Its stages land on later days (an account opens up to a day after the application, its first
transactions up to five days after that), so partition D is assembled from the cohorts of the
days before it, keeping each stage's rows that arrive on D. Days before the calendar start have
no cohort.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import date, timedelta
from functools import lru_cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from faker import Faker

from fraud_pipeline.core import schemas
from fraud_pipeline.core.columns import ids
from fraud_pipeline.core.streams import categorical, stream
from fraud_pipeline.core.timeline import MS_PER_DAY, MS_PER_HOUR, arrival_lag_ms, batch_of, day_start_ms, times_in_hours
from fraud_pipeline.scenario import Scenario

STAGES = ("web_visits", "applications", "new_accounts", "new_account_transactions")
ID_SPACE = 10**6  # ids per cohort and stage
CAMPAIGNS = 60
MS_PER_MINUTE = 60_000


@lru_cache(maxsize=None)
def campaign_pool(seed: int) -> pa.Array:
    """Campaign ids as seed 001 makes them (a word in capitals and three digits), a fixed pool per seed."""
    faker = Faker("en_US")
    faker.seed_instance(seed)
    return pa.array([f"{faker.word().upper()}{faker.random_int(100, 999)}" for _ in range(CAMPAIGNS)])


def lookback_days(scenario: Scenario) -> int:
    """How many days after its visit day the last stage of a cohort can still arrive."""
    f = scenario.web_funnel
    longest_ms = (MS_PER_DAY + f.application_delay_minutes.max * MS_PER_MINUTE + f.opening_delay_hours.max * MS_PER_HOUR
                  + f.first_transaction_delay_days.max * MS_PER_DAY + f.arrival_lag_seconds.max * 1000 * 4)
    return math.ceil(longest_ms / MS_PER_DAY)


def _uniform(rng, bounds, n) -> np.ndarray:
    return rng.uniform(bounds.min, bounds.max, n)


def visitor_numbers(scenario: Scenario, visit_day: date) -> np.ndarray:
    """The numbers of the day's visitor ids (V<date><number>): the day's volume, and ids nothing else may take."""
    f = scenario.web_funnel
    rng = lambda purpose: stream(scenario.seed, "web_funnel", visit_day.isoformat(), purpose)  # noqa: E731
    volume = max(0.0, 1.0 + f.daily_volume_sd * rng("volume").standard_normal())
    return rng("visitor_id").choice(ID_SPACE, round(f.visitors_per_day * volume), replace=False)


def cohort(scenario: Scenario, visit_day: date) -> dict[str, pa.Table]:
    """Every row that follows from `visit_day`'s visitors, whatever day it lands on."""
    f, seed = scenario.web_funnel, scenario.seed
    rng = lambda purpose: stream(seed, "web_funnel", visit_day.isoformat(), purpose)  # noqa: E731
    lag = lambda purpose, n: arrival_lag_ms(rng(purpose), n, f.arrival_lag_seconds.median,  # noqa: E731
                                            f.arrival_lag_seconds.sigma, f.arrival_lag_seconds.max)
    stamp = f"{visit_day:%Y%m%d}"

    numbers = visitor_numbers(scenario, visit_day)
    n = len(numbers)
    visit_ms = np.sort(times_in_hours(rng("visit_time"), n, 0, f.hourly_weights, day_start_ms(visit_day)))
    campaigns = campaign_pool(seed)
    session = np.maximum(rng("session").normal(f.session_seconds.mean, f.session_seconds.sd, n), f.session_seconds.min)
    visitor_id = ids(f"V{stamp}", numbers, 6)
    visits = {
        "visitor_id": visitor_id,
        "event_type": categorical(rng("event_type"), f.event_types, n),
        "campaign_id": campaigns.take(pa.array(rng("campaign").integers(0, len(campaigns), n))),
        "device_type": categorical(rng("device_type"), f.device_types, n),
        "geo": categorical(rng("geo"), f.geo, n),
        "session_duration": np.round(session, 3),
        "event_ms": visit_ms,
    }

    applicant = np.flatnonzero(rng("applies").random(n) < f.application_rate)
    m = len(applicant)
    app_ms = visit_ms[applicant] + np.round(_uniform(rng("app_delay"), f.application_delay_minutes, m)
                                            * MS_PER_MINUTE).astype(np.int64)
    age = rng("age").integers(f.applicant_age.min, f.applicant_age.max + 1, m)
    income = np.round(_uniform(rng("income"), f.annual_income, m))
    approved = (rng("approval").random(m) < f.approval_rate) & (age >= 18)
    otherwise = categorical(rng("not_approved"), f.not_approved_status, m)
    status = pc.if_else(pa.array(approved), "approved", pc.if_else(pa.array(age < 18), "rejected - under age", otherwise))
    app_id = ids(f"P{stamp}", rng("app_id").choice(ID_SPACE, m, replace=False), 6)
    applications = {
        "app_id": app_id,
        "visitor_id": visitor_id.take(pa.array(applicant)),
        "applicant_age": age.astype(np.int32),
        "annual_income": income,
        "employment_status": categorical(rng("employment"), f.employment_status, m),
        "req_credit_limit": np.floor(income / 10).astype(np.int32),
        "application_status": status,
        "event_ms": app_ms,
    }

    opened = np.flatnonzero(approved)
    k = len(opened)
    open_ms = app_ms[opened] + np.round(_uniform(rng("open_delay"), f.opening_delay_hours, k) * MS_PER_HOUR).astype(np.int64)
    limit = np.floor(np.floor(income[opened] / 10) * _uniform(rng("limit"), f.limit_factor, k)).astype(np.int32)
    account_id = ids(f"A{stamp}", rng("account_id").choice(ID_SPACE, k, replace=False), 6)
    accounts = {
        "account_id": account_id,
        "app_id": app_id.take(pa.array(opened)),
        "approved_limit": limit,
        "interest_rate": np.round(_uniform(rng("interest"), f.interest_rate, k), 2),
        "account_status": pa.repeat("active", k),
        "event_ms": open_ms,
    }

    spenders = np.flatnonzero(rng("spends").random(k) < f.first_transaction_rate)
    count = rng("txn_count").integers(f.first_transactions.min, f.first_transactions.max + 1, len(spenders))
    owner = np.repeat(spenders, count)
    t = len(owner)
    txn_ms = open_ms[owner] + np.round(_uniform(rng("txn_delay"), f.first_transaction_delay_days, t) * MS_PER_DAY).astype(np.int64)
    places = [(p.name, c.name, p.population_share / len(p.cities)) for p in scenario.geography.provinces for c in p.cities]
    weights = np.array([w for _, _, w in places])
    place = rng("txn_place").choice(len(places), t, p=weights / weights.sum())
    transactions = {
        "txn_id": ids(f"X{stamp}", rng("txn_id").choice(ID_SPACE, t, replace=False), 6),
        "account_id": account_id.take(pa.array(owner)),
        "amount": np.round(_uniform(rng("txn_amount"), f.first_transaction_amount, t), 2),
        "merchant_cat_code": pa.array(f.mccs).take(pa.array(rng("txn_mcc").integers(0, len(f.mccs), t))),
        "location": pa.repeat(scenario.geography.country_code, t),
        "state": pa.array([p for p, _, _ in places]).take(pa.array(place)),
        "merchant_city": pa.array([c for _, c, _ in places]).take(pa.array(place)),
        "event_ms": txn_ms,
    }

    stages = dict(zip(STAGES, (visits, applications, accounts, transactions)))
    for name, columns in stages.items():
        columns["arrival_ms"] = columns["event_ms"] + lag(f"{name}_lag", len(columns["event_ms"]))
    return {name: pa.table(columns) for name, columns in stages.items()}


def funnel_days(scenario: Scenario, days: list[date]) -> Iterator[tuple[date, dict[str, pa.Table]]]:
    """Each day's four funnel tables: the rows of recent cohorts that arrive on that day.

    Cohorts are generated once per call and reused by the following days of a range.
    """
    cohorts: dict[date, dict[str, pa.Table]] = {}
    for day in days:
        visit_days = [day - timedelta(days=back) for back in range(lookback_days(scenario), -1, -1)]
        visit_days = [v for v in visit_days if v >= scenario.start_date]
        cohorts = {v: cohorts.get(v) or cohort(scenario, v) for v in visit_days}
        yield day, {stage: _arriving_on(day, stage, [cohorts[v][stage] for v in visit_days]) for stage in STAGES}


def _arriving_on(day: date, stage: str, parts: list[pa.Table]) -> pa.Table:
    start = day_start_ms(day)
    rows = pa.concat_tables(parts)
    arrival = rows["arrival_ms"].to_numpy()
    mine = np.flatnonzero((arrival >= start) & (arrival < start + MS_PER_DAY))
    mine = mine[np.argsort(arrival[mine], kind="stable")]
    rows = rows.take(pa.array(mine))
    arrival = rows["arrival_ms"].to_numpy()
    columns = {name: rows[name] for name in rows.column_names if name not in ("event_ms", "arrival_ms")}
    return schemas.TABLES[stage].build({
        **columns,
        "event_time": pa.array(rows["event_ms"].to_numpy(), pa.timestamp("ms")),
        "arrival_time": pa.array(arrival, pa.timestamp("ms")),
        "batch": batch_of(arrival, start),
    })
