"""Backyard rent (`life.rent`): each tenant pays their landlord a fixed round rent on their own day early in the
month, and the landlord withdraws a share of the month's rent within three days of its last payment — often
several times the landlord's own income, the genuine twin of a mule's senders. Measured on the generator's own
rows over three months of the default bank (exact properties; shares within stated tolerances)."""

from datetime import date

import numpy as np
import pytest

from fraud_pipeline.core.rows import ATM, TRANSFER_IN, WITHDRAWAL
from fraud_pipeline.core.timeline import MS_PER_DAY, MS_PER_HOUR, day_start_ms
from fraud_pipeline.engine.bank import Bank
from fraud_pipeline.life.rent import STEP, _lettings, rent_day


@pytest.fixture(scope="module")
def rent_days(scenario):
    world = Bank(scenario).world
    days = [date(2026, month, d) for month in (1, 2, 3) for d in range(1, 29)]
    return world, {day: rent_day(world, day) for day in days}, _lettings(world)


def test_tenants_pay_a_fixed_round_rent_on_their_own_day(scenario, rent_days):
    world, rows, (landlord, tenants, pay_day, rent, tenant, _) = rent_days
    k = scenario.inflows.rent
    assert abs(landlord.mean() - k.share) < 4 * np.sqrt(k.share * (1 - k.share) / len(landlord))
    assert (rent % (STEP * 100) == 0).all() and rent.min() >= k.amount.min * 100 and rent.max() <= k.amount.max * 100
    for day, r in rows.items():
        paid = r.kind == TRANSFER_IN
        customer = world.account_customer[r.account[paid]]
        assert landlord[customer].all()
        assert ((r.event_ms[paid] >= day_start_ms(day)) & (r.event_ms[paid] < day_start_ms(day) + MS_PER_DAY)).all()
        for c, payee, cents in zip(customer, r.payee[paid], r.cents[paid]):
            slot = np.flatnonzero((tenant[c, :tenants[c]] == payee) & (pay_day[c, :tenants[c]] == day.day)
                                  & (rent[c, :tenants[c]] == cents))
            assert len(slot) >= 1  # one of the landlord's tenants, on their day, their rent
        if day.day > k.pay_day.max:
            assert len(r) == 0
    # every month each open landlord's every tenant pays once
    for month in (1, 2, 3):
        paid = sum(int((r.kind == TRANSFER_IN).sum()) for d, r in rows.items() if d.month == month)
        expected = tenants[landlord & (world.salary_of >= 0)].sum()
        assert 0.9 * expected <= paid <= expected


def test_the_landlord_takes_a_share_out_in_notes_within_three_days(scenario, rent_days):
    world, rows, (landlord, tenants, pay_day, rent, tenant, _) = rent_days
    k = scenario.inflows.rent
    shares, above_income = [], []
    for day, r in rows.items():
        cash = r.kind == WITHDRAWAL
        assert (r.channel[cash] == ATM).all()
        for account in np.unique(r.account[cash]):
            c = world.account_customer[account]
            last = np.where(np.arange(pay_day.shape[1]) < tenants[c], pay_day[c], 0).max()
            assert last == day.day  # on the month's last rent day
            mine = cash & (r.account == account)
            last_rent = r.event_ms[(r.kind == TRANSFER_IN) & (r.account == account)].max()
            after = r.event_ms[mine] - last_rent
            assert ((after >= MS_PER_HOUR) & (after <= 72 * MS_PER_HOUR)).all()
            month = rent[c, :tenants[c]].sum()
            shares.append(r.cents[mine].sum() / month)
            above_income.append(month / 100 > world.income[c])
    shares = np.array(shares)
    assert len(shares) >= 500
    assert shares.max() <= k.cash_share.max + 0.15  # withdrawals are in the ATM's steps
    assert abs(shares.mean() - (k.cash_share.min + k.cash_share.max) / 2) < 0.08
    assert np.mean(above_income) > 0.2  # a month's rent is often more than the landlord's income
