"""Stokvels (`life.stokvels`): each month every member pays the member whose turn it is; once a cycle the pot comes
in from the club's other members within days, and a share of it leaves in notes and to a shop — the genuine twin
of a mule's fan-in and cash-out. Measured on the generator's own rows over 14 months of the default bank's first
block (exact properties; the shares within stated tolerances)."""

from datetime import date, timedelta

import numpy as np
import pytest

from fraud_pipeline.core.rows import ATM, TRANSFER_IN, TRANSFER_OUT, WITHDRAWAL
from fraud_pipeline.core.timeline import MS_PER_DAY, MS_PER_HOUR, day_start_ms
from fraud_pipeline.engine.bank import Bank
from fraud_pipeline.life.stokvels import STEP, _clubs, stokvels_day

FIRST, MONTHS = date(2026, 1, 1), 14


@pytest.fixture(scope="module")
def club_days(scenario):
    """Every collection day's rows (days 25–28 of 14 months) and the clubs."""
    world = Bank(scenario).world
    days = [date(2026 + (FIRST.month - 1 + m) // 12, (FIRST.month - 1 + m) % 12 + 1, d)
            for m in range(MONTHS) for d in range(25, 29)]
    return world, {day: stokvels_day(world, day) for day in days}, _clubs(world)


def test_members_pay_their_contribution_every_month_but_their_turn(scenario, club_days):
    world, rows, (member, size, slot, collect, contribution, others) = club_days
    k = scenario.inflows.stokvel
    assert abs(member.mean() - k.share) < 4 * np.sqrt(k.share * (1 - k.share) / len(member))
    cents = contribution[member] / 100
    assert (cents % STEP == 0).all() and cents.min() >= k.least and cents.max() <= k.most
    assert ((k.collection_day.min <= collect) & (collect <= k.collection_day.max)).all()
    for day, r in rows.items():
        out = (r.kind == TRANSFER_OUT) & (r.event_ms < day_start_ms(day) + MS_PER_DAY) & np.isin(
            r.payee, others)
        payer = world.account_customer[r.account[out]]
        months = day.year * 12 + day.month - 1
        active = member & (collect == day.day) & (world.salary_of >= 0)
        turn = months % size == slot
        assert set(payer) <= set(np.flatnonzero(active & ~turn))
        assert (r.cents[out] == contribution[payer]).all()  # a fixed amount, not typed
        assert (others[payer] == r.payee[out][:, None]).any(axis=1).all()  # to one of the club
        # nearly every active member pays (an account that is not open or not active does not)
        assert len(payer) >= 0.9 * (active & ~turn).sum() - 3


def test_a_pot_comes_from_the_clubs_other_members_within_days_and_part_of_it_leaves_soon(scenario, club_days):
    world, rows, (member, size, slot, collect, contribution, others) = club_days
    k = scenario.inflows.stokvel
    pots, cash_shares, spent = 0, [], 0
    for day, r in rows.items():
        start = day_start_ms(day)
        pot = r.kind == TRANSFER_IN
        for account in np.unique(r.account[pot]):
            mine = pot & (r.account == account)
            customer = world.account_customer[account]
            # one payment from each of the club's other members (parties at other banks)
            assert sorted(r.payee[mine]) == sorted(others[customer, :size[customer] - 1])
            assert (r.cents[mine] == contribution[customer]).all()
            assert (r.event_ms[mine] >= start).all() and (r.event_ms[mine] < start + k.days * MS_PER_DAY).all()
            last = r.event_ms[mine].max()
            cash = (r.account == account) & (r.kind == WITHDRAWAL)
            assert (r.channel[cash] == ATM).all()
            assert ((r.event_ms[cash] >= last + MS_PER_HOUR) & (r.event_ms[cash] <= last + 72 * MS_PER_HOUR)).all()
            received = r.cents[mine].sum()
            cash_shares.append(r.cents[cash].sum() / received)
            spent += int(((r.account == account) & (r.kind == TRANSFER_OUT) & ~np.isin(r.payee, others[customer])
                          & (r.event_ms > last)).any())
            pots += 1
    # each member's turn comes once in `size` months: pots over 14 months ≈ members × 14 / mean size
    assert pots >= 100, pots
    cash_shares = np.array(cash_shares)
    assert cash_shares.max() <= k.cash_share.max + 0.1  # withdrawals are in the ATM's steps
    assert abs(np.mean(cash_shares) - (k.cash_share.min + k.cash_share.max) / 2) < 0.08
    assert abs(spent / pots - k.spent.share) < 4 * np.sqrt(k.spent.share * (1 - k.spent.share) / pots)


def test_no_club_no_rows(scenario):
    world = Bank(scenario.model_copy(update={"inflows": scenario.inflows.model_copy(update={
        "stokvel": scenario.inflows.stokvel.model_copy(update={"share": 0.0})})})).world
    assert all(len(stokvels_day(world, FIRST + timedelta(days=d))) == 0 for d in range(24, 31))
