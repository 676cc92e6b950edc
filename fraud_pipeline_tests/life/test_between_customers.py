"""Money between our customers (`life.between_customers`), the genuine twins of laundering among them: a share of
credits from another customer passed on to a third within days, and large private payments covered by the payer's
balance. Measured on the generator's own rows for the default bank (exact properties; rates within Poisson
tolerances)."""

from datetime import date, timedelta

import numpy as np

from fraud_pipeline.core.rows import TRANSFER, TRANSFER_IN, TRANSFER_OUT, make
from fraud_pipeline.core.timeline import MS_PER_DAY, MS_PER_HOUR, day_start_ms
from fraud_pipeline.engine.bank import Bank
from fraud_pipeline.life.between_customers import MORNING, between_customers_day
from fraud_pipeline.life.genuine import open_accounts
from fraud_pipeline_tests.conftest import scaled

DAY = date(2026, 1, 5)


def test_a_share_of_credits_from_customers_is_passed_on_to_a_third_within_days(scenario):
    world = Bank(scenario).world
    c = scenario.money.between_customers.passed_on
    receiver = np.flatnonzero(world.salary & open_accounts(world, DAY) & (world.status == 0))[:4000]
    sender = np.roll(receiver, 1)
    start = day_start_ms(DAY)
    cents = np.full(len(receiver), 5_000 * 100)
    cents[:500] = (c.least - 1) * 100  # too small to be passed on
    arriving = make(len(receiver), account=receiver, channel=TRANSFER, kind=TRANSFER_IN, event_ms=start + 3_600_000,
                    arrival_ms=start + 3_600_500, cents=cents, counterparty=sender)
    rows = between_customers_day(world, DAY, arriving, np.zeros(world.n_accounts, np.int64))
    assert (rows.kind == TRANSFER_OUT).all() and (rows.counterparty >= 0).all() and (rows.payee < 0).all()
    n = len(rows)
    assert abs(n - c.share * 3500) <= 4 * (c.share * 3500) ** 0.5  # only those of at least `least`
    by = {a: s for a, s in zip(receiver, sender)}
    assert np.isin(rows.account, receiver[500:]).all()
    assert (rows.counterparty != rows.account).all()  # never a self-transfer, never back to the sender
    assert (rows.counterparty != np.array([by[a] for a in rows.account])).all()
    assert ((rows.cents >= c.part.min * 5_000 * 100 - 5_000) & (rows.cents <= c.part.max * 5_000 * 100 + 5_000)).all()
    offset = rows.event_ms - start
    assert (offset >= MORNING * MS_PER_HOUR).all() and (offset < (c.days.max + 1) * MS_PER_DAY).all()
    assert len(np.unique(offset // MS_PER_DAY)) == c.days.max - c.days.min + 1
    assert (rows.arrival_ms >= rows.event_ms).all()


def test_large_payments_go_to_another_customer_only_when_the_balance_covers_them(scenario):
    busy = scaled(scenario, money={"between_customers": {"large": {"per_customer_per_year": 1.0}}})
    world = Bank(busy).world
    c = busy.money.between_customers.large
    rich = np.full(world.n_accounts, 10**9, np.int64)
    days = [DAY + timedelta(days=i) for i in range(3)]
    found = [between_customers_day(world, d, make(0), rich) for d in days]
    paid = sum(len(r) for r in found)
    expected = 3 / 365.25 * (world.salary_of >= 0).sum()
    assert 0.8 * expected - 4 * expected ** 0.5 <= paid <= expected + 4 * expected ** 0.5  # most are open and active
    for d, r in zip(days, found):
        assert ((r.cents >= c.amount.min * 100 - 5_000) & (r.cents <= c.amount.max * 100 + 5_000)).all()
        assert world.salary[r.account].all() and (r.counterparty >= 0).all() and (r.counterparty != r.account).all()
        assert (r.event_ms // MS_PER_DAY == day_start_ms(d) // MS_PER_DAY).all()
    amounts = np.concatenate([r.cents for r in found]) / 100  # log-uniform: half below the geometric midpoint
    assert abs((amounts < np.sqrt(c.amount.min * c.amount.max)).mean() - 0.5) <= 4 * (0.25 / paid) ** 0.5
    broke = between_customers_day(world, DAY, make(0), np.full(world.n_accounts, c.amount.min * 100 - 1, np.int64))
    assert len(broke) == 0  # nobody pays what their balance does not cover
