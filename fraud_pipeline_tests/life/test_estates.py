"""Estates shared among relatives (`life.estates`), the genuine twin of a dormant account's reactivation: an estate
paid in parts into a dormant account is passed on to people elsewhere, a transfer a day, from days after the last
part. Over 240 days of the default bank's one-offs (its ~1,200 dormant accounts); exact properties per estate, the
share within a binomial tolerance."""

from datetime import timedelta

import numpy as np
import pytest

from fraud_pipeline.core.rows import TRANSFER_OUT
from fraud_pipeline.core.timeline import MS_PER_DAY
from fraud_pipeline.engine.bank import Bank
from fraud_pipeline.life.estates import heirs_paid
from fraud_pipeline.life.genuine import rng_for
from fraud_pipeline.life.income import income_day, one_offs
from fraud_pipeline.world.build import STATUS_NAMES

TYPING = 50 * 100  # cents: a typed amount is within R50 of the one meant


@pytest.fixture(scope="module")
def estates(scenario):
    world = Bank(scenario).world
    days = [scenario.start_date + timedelta(days=i) for i in range(240)]
    return world, days, {day: one_offs(world, day) for day in days}


def test_an_estate_is_the_parts_paid_into_a_dormant_account_its_last_time_and_sum(scenario, estates):
    """Each estate's parts: its account's, its last time and sum, each at its own hour, `from_businesses` of them
    paid by a business (the estate's attorney, an insurer), the rest by people."""
    world, _, by_day = estates
    count, distinct, businesses = 0, [], []
    for rows, (account, last, paid) in by_day.values():
        assert (world.status[account] == STATUS_NAMES.index("dormant")).all()
        for a, t, cents in zip(account, last, paid):
            mine = rows.account == a
            assert mine.sum() >= 1 and rows.event_ms[mine].max() == t and rows.cents[mine].sum() == cents
            # each part at its own payer's hour: not all at the first part's time of day
            clock = rows.event_ms[mine] % MS_PER_DAY
            distinct.append(len(np.unique(clock)) == len(clock))
            days = rows.event_ms[mine] // MS_PER_DAY  # within the estate's span, up to `days` days
            assert days.max() - days.min() < scenario.inflows.one_off.dormant_tranches.days
            payers = world.beneficiary_type[rows.payee[mine]]
            assert set(payers) <= {"individual", "merchant"}
            businesses.extend(payers == "merchant")
            count += 1
    assert count >= 20 and np.mean(distinct) > 0.95
    n, share = len(businesses), scenario.inflows.one_off.dormant_tranches.from_businesses
    assert abs(np.mean(businesses) - share) < 4 * (share * (1 - share) / n) ** 0.5


def test_half_the_estates_are_passed_on_to_relatives_a_transfer_a_day_from_days_after_the_last_part(scenario,
                                                                                                 estates):
    world, days, by_day = estates
    rule = scenario.inflows.one_off.dormant_tranches.shared
    shared = []
    for day in days:
        _, (account, last, paid) = by_day[day]
        shared_accounts, out = heirs_paid(world, day, rng_for(world, day), account, last, paid)
        assert set(shared_accounts) == set(out.account)
        assert (out.kind == TRANSFER_OUT).all() and set(world.beneficiary_type[out.payee]) <= {"individual"}
        assert np.isin(out.account, account).all()
        for a, t, cents in zip(account, last, paid):
            mine = np.sort(out.event_ms[out.account == a])
            shared.append(len(mine) > 0)
            if not len(mine):
                continue
            assert rule.transfers.min <= len(mine) <= rule.transfers.max
            on = mine // MS_PER_DAY - t // MS_PER_DAY
            assert rule.out_days.min <= on[0] <= rule.out_days.max and (np.diff(on) == 1).all()
            sent = out.cents[out.account == a].sum()
            assert rule.part.min * cents - TYPING * len(mine) <= sent <= rule.part.max * cents + TYPING * len(mine)
    n = len(shared)
    assert abs(np.mean(shared) - rule.share) < 4 * (rule.share * (1 - rule.share) / n) ** 0.5 and sum(shared) >= 10


def test_a_shared_estate_goes_to_the_family_and_is_not_also_spent_at_a_business(scenario, estates):
    """`income_day` spends one-offs (`spent_soon`, at businesses or on our customers), but not a shared estate's
    parts: what leaves a shared estate is its transfers to relatives, at most what came in."""
    world, days, by_day = estates
    rule = scenario.inflows.one_off.dormant_tranches.shared
    checked = 0
    for day in days:
        _, (account, last, paid) = by_day[day]
        shared, _ = heirs_paid(world, day, rng_for(world, day), account, last, paid)
        if not len(shared):
            continue
        rows = income_day(world, day)
        for a, cents in zip(account, paid):
            if a not in shared:
                continue
            out = (rows.account == a) & (rows.kind == TRANSFER_OUT)
            assert (rows.payee[out] >= 0).all() and (rows.counterparty[out] < 0).all()  # relatives at other banks
            assert set(world.beneficiary_type[rows.payee[out]]) == {"individual"}
            assert rows.cents[out].sum() <= rule.part.max * cents + TYPING * out.sum()
            checked += 1
    assert checked >= 10
