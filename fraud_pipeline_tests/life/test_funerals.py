"""Funeral collections (`life.funerals`): relatives at other banks pay the organiser within days, a policy often
pays out, then the undertaker is paid and notes are withdrawn — often several times the organiser's income, the
genuine twin of a mule. Measured on the generator's own rows over three months of the default bank (exact
properties; rates within Poisson tolerances)."""

from datetime import date, timedelta

import numpy as np
import pytest

from fraud_pipeline.core.rows import ATM, TRANSFER_IN, TRANSFER_OUT, WITHDRAWAL
from fraud_pipeline.core.timeline import MS_PER_DAY, MS_PER_HOUR, day_start_ms
from fraud_pipeline.engine.bank import Bank
from fraud_pipeline.life.funerals import POLICY_STEP, STEP, funerals_day
from fraud_pipeline.scenario import ScenarioError
from fraud_pipeline_tests.conftest import scaled

DAYS = 90


@pytest.fixture(scope="module")
def funeral_days(scenario):
    world = Bank(scenario).world
    first = date(2026, 1, 1)
    return world, {day: funerals_day(world, day) for day in (first + timedelta(days=i) for i in range(DAYS))}


def test_funerals_arrive_at_their_rate_and_each_is_collected_paid_out_and_withdrawn(scenario, funeral_days):
    world, rows = funeral_days
    k = scenario.inflows.funeral
    kinds = world.beneficiary_type
    funerals, above_income = 0, []
    for day, r in rows.items():
        start = day_start_ms(day)
        for account in np.unique(r.account):
            mine = r.account == account
            credit = mine & (r.kind == TRANSFER_IN)
            policy = credit & (r.cents >= k.policy.amount.min * 100)
            given = credit & ~policy
            funerals += 1
            # contributions: how many, in R50 steps within least..most, from people, over the first days
            assert k.contributors.min <= given.sum() <= k.contributors.max
            assert (r.cents[given] % (STEP * 100) == 0).all()
            assert (r.cents[given] >= k.least * 100).all() and (r.cents[given] <= k.most * 100).all()
            assert (kinds[r.payee[given]] == "individual").all()
            assert (r.event_ms[given] >= start).all() and (r.event_ms[given] < start + k.days * MS_PER_DAY).all()
            # a policy at most once, a round sum from a business, a few days on
            assert policy.sum() <= 1 and (r.cents[policy] % (POLICY_STEP * 100) == 0).all()
            assert (kinds[r.payee[policy]] == "merchant").all()
            assert ((r.event_ms[policy] - start) // MS_PER_DAY >= k.policy.days.min).all()
            assert ((r.event_ms[policy] - start) // MS_PER_DAY <= k.policy.days.max).all()
            received = r.cents[credit].sum()
            # the undertaker: once at most, a business, `part` of it (give or take the typing), days after
            paid = mine & (r.kind == TRANSFER_OUT)
            assert paid.sum() <= 1 and (kinds[r.payee[paid]] == "merchant").all()
            if paid.any():
                part = r.cents[paid].sum() / received
                assert k.undertaker.part.min - 0.02 <= part <= k.undertaker.part.max + 0.02
                # `days` after the start, within the day following at the hours people pay
                assert k.undertaker.days.min <= (r.event_ms[paid][0] - start) // MS_PER_DAY <= k.undertaker.days.max + 1
            # notes: at ATMs within 72 h (and the hour's draw) of the last contribution, at most the cash share
            cash = mine & (r.kind == WITHDRAWAL)
            assert (r.channel[cash] == ATM).all()
            after = r.event_ms[cash] - r.event_ms[given].max()
            assert (after > 0).all() and (after <= 73 * MS_PER_HOUR).all()
            assert r.cents[cash].sum() <= k.cash_share.max * received + k.withdrawal.max * 100
            above_income.append(received > world.income[world.account_customer[account]] * 100)
    organisers = (world.salary_of >= 0).sum() * k.per_customer_per_year / 365.25 * DAYS
    assert abs(funerals - organisers) <= 4 * organisers ** 0.5 + 0.02 * organisers  # Poisson; a few accounts shut
    # the twin of a mule: what the family pays in is more than the organiser's month's income in most funerals
    assert np.mean(above_income) > 0.5


def test_a_funeral_paying_out_more_than_came_in_is_refused_naming_the_fields(scenario):
    with pytest.raises(ScenarioError, match=r"undertaker.part.max \+ cash_share.max \(0.8 \+ 0.4\) must be at most 1"):
        scaled(scenario, inflows={"funeral": {"undertaker": {"part": {"min": 0.3, "max": 0.8}}}})
