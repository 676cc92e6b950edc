"""Seed 001's funnel: conversion rates, delays, ordering, ids, and partitions that hold their own day."""

from datetime import date, timedelta

import pandas as pd
import pytest

from fraud_pipeline.core import schemas
from fraud_pipeline.core.findings import event_time_findings, key_findings
from fraud_pipeline.life.funnel import STAGES, cohort, funnel_days

FIRST = date(2026, 1, 1)
DAYS = [FIRST + timedelta(days=i) for i in range(14)]


@pytest.fixture(scope="module")
def partitions(scenario) -> dict[date, dict]:
    return dict(funnel_days(scenario, DAYS))


@pytest.fixture(scope="module")
def stages(partitions) -> dict[str, pd.DataFrame]:
    return {stage: pd.concat([p[stage].to_pandas() for p in partitions.values()], ignore_index=True) for stage in STAGES}


def test_tables_match_their_specs_with_unique_ids(partitions):
    for day, tables in partitions.items():
        for stage, table in tables.items():
            spec = schemas.TABLES[stage]
            assert table.schema == spec.arrow_schema
            assert all(f.passed for f in key_findings(table, spec.primary_key)), (day, stage)


def test_each_partition_holds_exactly_the_rows_arriving_that_day(partitions, scenario):
    lag_ms = round(scenario.web_funnel.arrival_lag_seconds.max * 1000)
    for day, tables in partitions.items():
        for stage, table in tables.items():
            assert all(f.passed for f in event_time_findings(table, day, lag_ms)), (day, stage)


def test_visitor_volume_is_the_same_kind_of_quantity_every_day(partitions, scenario):
    volumes = [tables["web_visits"].num_rows for tables in partitions.values()]
    assert all(v == pytest.approx(scenario.web_funnel.visitors_per_day, rel=0.1) for v in volumes)


def test_conversion_rates_follow_seed_001(stages, scenario):
    f = scenario.web_funnel
    visits, apps = stages["web_visits"], stages["applications"]
    # the 14 days' applications come from the same 14 days' visits, bar a few minutes at the edges
    assert len(apps) / len(visits) == pytest.approx(f.application_rate, abs=0.01)
    adults = apps[apps["applicant_age"] >= 18]
    assert (adults["application_status"] == "approved").mean() == pytest.approx(f.approval_rate, abs=0.02)
    rejected = apps[apps["application_status"] != "approved"]["application_status"].value_counts(normalize=True)
    assert rejected["rejected"] == pytest.approx(f.not_approved_status["rejected"], abs=0.02)


def test_every_stage_follows_its_parent_within_seed_001s_delays(stages, scenario):
    f = scenario.web_funnel
    visits = stages["web_visits"].set_index("visitor_id")["event_time"]
    apps = stages["applications"]
    delay = (apps["event_time"] - apps["visitor_id"].map(visits)).dropna().dt.total_seconds() / 60
    assert delay.between(f.application_delay_minutes.min, f.application_delay_minutes.max).all()
    assert len(delay) > 0.95 * len(apps)  # the rest came from visits before the first day

    approved = apps.set_index("app_id")
    accounts = stages["new_accounts"]
    opened = (accounts["event_time"] - accounts["app_id"].map(approved["event_time"])).dropna().dt.total_seconds() / 3600
    assert opened.between(f.opening_delay_hours.min, f.opening_delay_hours.max).all()
    assert (accounts["app_id"].map(approved["application_status"]).dropna() == "approved").all()
    income = accounts["app_id"].map(approved["annual_income"])
    ratio = (accounts["approved_limit"] / (income // 10)).dropna()
    assert ratio.between(f.limit_factor.min - 0.001, f.limit_factor.max + 0.001).all()
    assert accounts["interest_rate"].between(f.interest_rate.min, f.interest_rate.max).all()

    txns = stages["new_account_transactions"]
    opening = accounts.set_index("account_id")["event_time"]
    after = (txns["event_time"] - txns["account_id"].map(opening)).dropna().dt.total_seconds() / 86400
    assert after.between(f.first_transaction_delay_days.min, f.first_transaction_delay_days.max).all()
    assert len(after) == len(txns)  # on these days every first transaction's account is in the window
    per_account = txns.groupby("account_id").size()
    assert per_account.between(f.first_transactions.min, f.first_transactions.max).all()


def test_first_transaction_rate_and_requested_limits(scenario):
    f = scenario.web_funnel
    cohorts = [cohort(scenario, FIRST + timedelta(days=i)) for i in range(10)]
    accounts = sum(c["new_accounts"].num_rows for c in cohorts)
    spenders = sum(len(set(c["new_account_transactions"]["account_id"].to_pylist())) for c in cohorts)
    assert spenders / accounts == pytest.approx(f.first_transaction_rate, abs=0.02)
    apps = pd.concat([c["applications"].to_pandas() for c in cohorts])
    assert (apps["req_credit_limit"] == apps["annual_income"] // 10).all()
    assert apps["applicant_age"].between(f.applicant_age.min, f.applicant_age.max).all()


def test_the_first_days_have_no_carried_over_cohort(partitions):
    first = partitions[FIRST]
    assert first["new_account_transactions"].num_rows == 0
    assert first["new_accounts"].num_rows < 0.5 * partitions[DAYS[-1]]["new_accounts"].num_rows
    assert all(v.startswith("V20260101") for v in first["applications"]["visitor_id"].to_pylist())


def test_new_account_ids_never_collide_with_the_banks_accounts(stages, world):
    assert not set(stages["new_accounts"]["account_id"]) & set(world["accounts"]["account_id"].to_pylist())


def test_a_day_alone_equals_the_same_day_in_a_range(scenario, partitions):
    day = DAYS[9]
    [(_, alone)] = list(funnel_days(scenario, [day]))
    for stage in STAGES:
        assert alone[stage].equals(partitions[day][stage]), stage
