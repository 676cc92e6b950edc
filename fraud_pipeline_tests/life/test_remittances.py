"""Money home (`life.remittances`, `world.remitters`): migrant workers' remittances to family in neighbouring
countries — the genuine twin of cross-border exits — in four weeks of the default bank and in the world they come
from, against what the scenario configures (tolerances stated per test)."""

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from fraud_pipeline.engine.bank import Bank
from fraud_pipeline.life.remittances import remittances
from fraud_pipeline.scenario.population import OFFSHORE_COUNTRIES


@pytest.fixture(scope="module")
def world(scenario):
    return Bank(scenario).world


@pytest.fixture(scope="module")
def home(scenario, world):
    """Sixty days of payments home from the generator, with the payer's monthly income (currency units)."""
    days = [scenario.start_date + timedelta(days=i) for i in range(60)]
    rows = [(day, remittances(world, day)) for day in days]
    customer = np.concatenate([world.account_customer[r.account] for _, r in rows])
    return pd.DataFrame({"day": np.repeat([d for d, _ in rows], [len(r) for _, r in rows]), "customer": customer,
                         "payee": np.concatenate([r.payee for _, r in rows]),
                         "amount": np.concatenate([r.cents for _, r in rows]) / 100,
                         "event_day": pd.to_datetime(np.concatenate([r.event_ms for _, r in rows]),
                                                     unit="ms").normalize(),
                         "monthly_income": world.income[customer]})


def test_beneficiaries_live_at_home_next_door_or_offshore(scenario, default_month):
    """`abroad_share` of individuals live in a neighbouring country (within 4 standard errors), spread over the
    countries by their weights (5 points); offshore payees sit in offshore centres; everyone else in the region."""
    b = default_month["entities"]["beneficiaries"]
    people = b[b["beneficiary_type"] == "individual"]
    share = scenario.beneficiaries.abroad_share
    abroad = people["country"] != "ZA"
    assert abs(abroad.mean() - share) < 4 * np.sqrt(share * (1 - share) / len(people))
    weights = pd.Series(scenario.travel.cross_border.countries)
    found = people.loc[abroad, "country"].value_counts(normalize=True).reindex(weights.index, fill_value=0)
    assert (abs(found - weights / weights.sum()) < 0.05).all()
    assert set(b.loc[b["beneficiary_type"] == "offshore", "country"]) <= set(OFFSHORE_COUNTRIES)
    assert set(b.loc[b["beneficiary_type"].isin(["merchant", "crypto"]), "country"]) == {"ZA"}


def test_remitters_send_a_share_of_income_home_monthly_and_sometimes_more(scenario, world, home):
    """A remitter pays one family member: each month `share_of_income` of their income (within the typed rounding:
    R100 or 10 %), at least `least`, and now and then a larger payment in `large_amount`; every payment below the
    IFTR threshold."""
    r = scenario.travel.remittances
    assert home["customer"].nunique() > 300
    assert (home["payee"] == world.family_abroad[home["customer"]]).all()
    ratio = home["amount"] / home["monthly_income"]
    slack = np.maximum(100 / home["monthly_income"], 0.1 * ratio)  # typed to R100, R50 or R10
    monthly = ((ratio >= r.share_of_income.min - slack) & (ratio <= r.share_of_income.max + slack)) | (
        (home["amount"] - r.least).abs() <= 50)
    large = home["amount"].between(r.large_amount.min - 50, r.large_amount.max)
    assert (monthly | large).all()
    assert home["amount"].max() <= r.large_amount.max < 19_999.99 and home["amount"].min() >= r.least - 50
    # two months: two monthly payments each (three where a payday falls twice), and the larger needs at their rate,
    # each in 1–6 instalments some days apart (a need started in the 60 days brings all its instalments)
    per_customer = home.groupby("customer").size()
    assert per_customer.median() == 2 and per_customer.max() <= 3 + 2 * r.instalments.max
    remitters = int(((world.family_abroad >= 0) & (world.salary_of >= 0)).sum())
    needs = remitters * r.large_per_year * 60 / 365.25
    expected = needs * (r.instalments.min + r.instalments.max) / 2
    extra = len(home) - 2 * home["customer"].nunique()
    assert abs(extra - expected) < 4 * r.instalments.max * np.sqrt(needs) + 0.05 * home["customer"].nunique()
    # a need's instalments, made on the day it starts: a whole number of its `instalment_days` after the first, at
    # most `instalments.max` of them
    needed = home[large & ~monthly & (home["amount"] >= r.large_amount.min)]
    offset = (needed["event_day"] - pd.to_datetime(needed["day"])).dt.days
    apart = range(r.instalment_days.min, r.instalment_days.max + 1)
    assert set(offset) <= {d * k for d in apart for k in range(r.instalments.max)} and (offset > 0).any()
    assert len(set(offset[offset > 0]) & set(range(1, 7))) > 0  # not only whole weeks


def test_payments_home_are_in_the_data_from_a_known_payee(world, default_month):
    """In four weeks of the default bank: each remitter's payments home are transfers to the family member, who
    lives in a neighbouring country and is a saved payee, from the customer's own device, never a new recipient."""
    t, e = default_month["transactions"], default_month["entities"]
    family = pd.DataFrame({"customer_id": world.customer_id.to_numpy(zero_copy_only=False),
                           "beneficiary_id": world.beneficiary_id.take(np.maximum(world.family_abroad, 0)).to_numpy(
                               zero_copy_only=False)})[world.family_abroad >= 0]
    rows = t[t["transaction_type"] == "transfer"].merge(family, on=["customer_id", "beneficiary_id"])
    assert rows["customer_id"].nunique() > 0.8 * len(family)
    # the family member is a payee the salary account saved when it opened, long before the calendar
    saved = e["account_beneficiaries"].merge(rows[["account_id", "beneficiary_id"]].drop_duplicates())
    assert len(saved) == rows[["account_id", "beneficiary_id"]].drop_duplicates().shape[0]
    assert (pd.to_datetime(saved["added_date"]).dt.date < world.scenario.start_date).all()
    assert (rows["recipient_status"] == "FAVORITE").all() and rows["device_id"].notna().all()
    country = rows["beneficiary_id"].map(e["beneficiaries"].set_index("beneficiary_id")["country"])
    assert set(country) <= set(scenario_countries(e))


def scenario_countries(entities) -> set[str]:
    """The neighbouring countries beneficiaries live in: every country but the region's and offshore centres."""
    return set(entities["beneficiaries"]["country"]) - {"ZA", *OFFSHORE_COUNTRIES}

def test_remitters_are_the_cross_border_customers_paying_their_home_country(scenario, world):
    """In the world: `share_of_cross_border` of the cross-border customers remit (within 4 standard errors), each to
    an individual living in the country they travel to, and no one else does."""
    crosser = world.home_country >= 0
    remitter = world.family_abroad >= 0
    assert not (remitter & ~crosser).any()
    share = scenario.travel.remittances.share_of_cross_border
    found = remitter[crosser].mean()
    assert abs(found - share) < 4 * np.sqrt(share * (1 - share) / crosser.sum())
    codes = np.array([d.country_code for d in scenario.geography.destinations])
    payee = world.family_abroad[remitter]
    assert (world.beneficiary_country[payee] == codes[world.home_country[remitter]]).all()
    assert (world.beneficiary_type[payee] == "individual").all()
