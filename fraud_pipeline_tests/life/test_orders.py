"""Orders taken on an account opened for them (`life.orders`), the genuine twin of an account opened to launder:
strangers prepay in rounds from the day after the opening, and each round all but the trader's margin goes to the
supplier within hours. A small bank over 40 days, half its further accounts opening then and half of the debit ones
opened to take orders; exact properties per account, the count within a binomial tolerance."""

from datetime import date, timedelta

import numpy as np
import pytest

from fraud_pipeline.core.rows import ATM, TRANSFER_IN, TRANSFER_OUT, WITHDRAWAL, concat
from fraud_pipeline.core.timeline import MS_PER_DAY, MS_PER_HOUR, day_start_ms
from fraud_pipeline.engine.bank import Bank
from fraud_pipeline.life.genuine import receives
from fraud_pipeline.life.income import opened_for
from fraud_pipeline.life.orders import orders_day
from fraud_pipeline.scenario import ScenarioError
from fraud_pipeline.world.devices import day_number
from fraud_pipeline.world.profiles import profile_weights
from fraud_pipeline_tests.conftest import scaled

FIRST, DAYS = date(2026, 1, 1), 40
TYPING = 50 * 100  # cents: a typed amount, or a withdrawal in the ATM's steps, is within R50 of the one meant


@pytest.fixture(scope="module")
def orders(scenario):
    s = scaled(scenario, end_date=FIRST + timedelta(days=DAYS - 1),
               population={"customers": 2_000, "accounts": 4_000, "devices": 2_400, "beneficiaries": 3_000},
               accounts={"opening_later": 0.5}, inflows={"orders": {"opened_for": 0.5}})
    world = Bank(s).world
    days = [FIRST + timedelta(days=i) for i in range(DAYS)]
    return s, world, days, {day: orders_day(world, day) for day in days}


def test_order_accounts_are_prepaid_by_strangers_in_rounds_and_pay_the_supplier_all_but_a_margin(orders):
    s, world, days, by_day = orders
    k = s.inflows.orders
    kinds = world.beneficiary_type
    flagged = opened_for(world, "orders")
    traders = 0
    for day, r in by_day.items():
        opening = np.flatnonzero(flagged & (world.opened_day == day_number(day)) & receives(world, day))
        assert np.array_equal(np.unique(r.account), opening)  # every order account opening today, and only those
        traders += len(opening)
        opened = day_start_ms(day)
        for account in opening:
            mine = r.account == account
            credit, out = mine & (r.kind == TRANSFER_IN), mine & (r.kind != TRANSFER_IN)
            # prepayments from people at other banks, from the day after the opening, typed within least..most
            assert (kinds[r.payee[credit]] == "individual").all()
            assert r.event_ms[credit].min() >= opened + k.first_days.min * MS_PER_DAY
            assert credit.sum() >= k.rounds.min * k.buyers.min
            assert (r.cents[credit] >= k.least * 100 - TYPING).all()
            assert (r.cents[credit] <= k.most * 100 + TYPING).all()
            # the last round starts within first_days + (rounds − 1) × every_days of the opening's next day
            horizon = (1 + k.first_days.max + (k.rounds.max - 1) * k.every_days.max) * MS_PER_DAY
            assert r.event_ms[credit].max() <= opened + horizon + k.arrive_hours * MS_PER_HOUR
            assert r.event_ms[mine].max() <= opened + horizon + (k.arrive_hours + k.paid_hours.max) * MS_PER_HOUR
            # the supplier: notes at ATMs or transfers to a person or a business, after the round's prepayments
            cash, sent = mine & (r.kind == WITHDRAWAL), mine & (r.kind == TRANSFER_OUT)
            assert (out == cash | sent).all() and (r.channel[cash] == ATM).all()
            assert set(kinds[r.payee[sent]]) <= {"individual", "merchant", "crypto"}
            assert r.event_ms[out].min() >= r.event_ms[credit].min() + k.paid_hours.min * MS_PER_HOUR
            received, paid = r.cents[credit].sum(), r.cents[out].sum()
            # all but the margin, give or take each transfer's typing and each withdrawal's ATM step
            assert (1 - k.margin.max) * received - TYPING * out.sum() <= paid
            assert paid <= (1 - k.margin.min) * received + TYPING * out.sum()
    # of the debit accounts that open in the calendar and receive on the day, each with its chance: half on average,
    # `traders.weight` times as likely for holders of the traders' profile, at most what the other purposes leave
    # (a sum of Bernoulli counts, within 4 sigma)
    opening = np.concatenate([np.flatnonzero((world.opened_day == day_number(d)) & ~world.credit & receives(world, d))
                              for d in days])
    chance = _chance(s, world)[opening]
    expected, sigma = chance.sum(), (chance * (1 - chance)).sum() ** 0.5
    assert abs(traders - expected) < 4 * sigma and traders >= 30


def _chance(s, world) -> np.ndarray:
    """Per account: its chance to be opened to take orders on (a debit account opening during the run)."""
    k = s.inflows.orders
    later = (world.opened_day >= day_number(s.start_date)) & ~world.credit
    weight = profile_weights(world, k.traders)[world.account_customer]
    others = s.inflows.side_hustle.opened_for + s.inflows.funeral.opened_for
    return np.where(later, np.minimum(k.opened_for * weight / weight[later].mean(), 1 - others), 0.0)


def test_traders_may_lean_to_a_profile_the_share_over_all_openings_as_set(scenario):
    """With `inflows.orders.traders.weight` 4, holders of its profile open an account for orders four times as often
    as the others, the share over all the accounts opening during the run as set (the default's weight is 1)."""
    s = scaled(scenario, population={"customers": 20_000, "accounts": 40_000, "devices": 24_000,
                                     "beneficiaries": 3_000}, accounts={"opening_later": 0.5},
               inflows={"orders": {"traders": {"age": {"min": 20, "max": 39}, "income_below": 10000, "weight": 4}}})
    world = Bank(s).world
    k = s.inflows.orders
    assert k.traders.weight == 4 and scenario.inflows.orders.traders.weight == 1
    later = (world.opened_day >= day_number(s.start_date)) & ~world.credit
    trader = opened_for(world, "orders")[later]
    profile = (profile_weights(world, k.traders)[world.account_customer] > 1)[later]
    rate_in, rate_out = trader[profile].mean(), trader[~profile].mean()
    n_in, n_out = profile.sum(), (~profile).sum()
    assert min(n_in, n_out) > 1_000
    # the rates' ratio within 4 sigma of `weight` (delta method on the two binomial rates)
    ratio_sigma = k.traders.weight * ((1 - rate_in) / (rate_in * n_in) + (1 - rate_out) / (rate_out * n_out)) ** 0.5
    assert abs(rate_in / rate_out - k.traders.weight) < 4 * ratio_sigma
    share_sigma = (k.opened_for * (1 - k.opened_for) / len(trader)) ** 0.5
    assert abs(trader.mean() - k.opened_for) < 4 * share_sigma


def test_a_rounds_notes_stay_within_the_cards_daily_limit_at_one_atm_or_the_usual_ones(scenario):
    """A round's withdrawals come to at most the card's daily limit (`cash_limit`); with `home_atm` 1 all of an
    account's are at the ATM nearest home, with 0 spread over the holder's usual ATMs. Rounds 10–14 days apart and
    paid within 2 hours, so a round's notes are the withdrawals within days of each other."""
    base = {"end_date": FIRST + timedelta(days=DAYS - 1),
            "population": {"customers": 2_000, "accounts": 4_000, "devices": 2_400, "beneficiaries": 3_000},
            "accounts": {"opening_later": 0.5}}
    orders = {"opened_for": 0.5, "cash_share": {"min": 1.0, "max": 1.0}, "every_days": {"min": 10, "max": 14},
              "paid_hours": {"min": 1, "max": 2}, "cash_limit": {"min": 4000, "max": 6000}}
    atms = {}
    for home in (1.0, 0.0):
        s = scaled(scenario, **base, inflows={"orders": {**orders, "home_atm": home}})
        world = Bank(s).world
        rows = concat([orders_day(world, FIRST + timedelta(days=i)) for i in range(DAYS)])
        cash = rows.kind == WITHDRAWAL
        atms[home] = []
        for account in np.unique(rows.account[cash]):
            mine = cash & (rows.account == account)
            times, cents = rows.event_ms[mine], rows.cents[mine]
            order = np.argsort(times)
            round_of = np.cumsum(np.r_[0, np.diff(times[order]) > 5 * MS_PER_DAY])
            assert np.bincount(round_of, weights=cents[order]).max() <= 6000 * 100
            atms[home].append(len(np.unique(rows.merchant[mine])))
            customer = world.account_customer[account]
            assert set(rows.merchant[mine]) <= set(world.habits.atms[customer][world.habits.atms[customer] >= 0])
    assert len(atms[1.0]) >= 20 and max(atms[1.0]) == 1
    assert np.mean(np.array(atms[0.0]) > 1) > 0.3


def test_an_order_round_is_a_wave_several_strangers_prepaying_within_hours_then_passed_on(orders):
    """What makes it the twin of a mule's wave: every outflow comes `paid_hours` after a prepayment (its round's
    last), and the prepayments of most accounts span days (rounds `every_days` apart). Unlike a mule's next layer,
    a trader's suppliers are the same every round."""
    s, world, _, by_day = orders
    k = s.inflows.orders
    rows = concat(list(by_day.values()))
    spans, repeat_custom, transfers = [], [], []
    for account in np.unique(rows.account):
        mine = rows.account == account
        paid_in = np.sort(rows.event_ms[mine & (rows.kind == TRANSFER_IN)])
        out = rows.event_ms[mine & (rows.kind != TRANSFER_IN)]
        since = out[:, None] - paid_in[None, :]
        low, high = k.paid_hours.min * MS_PER_HOUR, k.paid_hours.max * MS_PER_HOUR
        assert ((since >= low) & (since <= high)).any(1).all()
        spans.append((paid_in[-1] - paid_in[0]) / MS_PER_DAY)
        # the trader pays the same suppliers every round but for `new_supplier` of the transfers
        sent = (mine & (rows.kind == TRANSFER_OUT)).sum()
        suppliers = len(np.unique(rows.payee[mine & (rows.kind == TRANSFER_OUT)]))
        transfers.append((sent, suppliers))
        repeat_custom.append(sent > suppliers)
    # at least two rounds each, `every_days` apart: the prepayments of most accounts span days
    assert np.mean(np.array(spans) > 1) > 0.7 and np.median(spans) >= 2 * k.every_days.min
    assert np.mean(repeat_custom) > 0.5  # most traders paid a supplier more than once
    # the distinct suppliers: at most the regular ones plus the new ones (a binomial count, 4 sigma above)
    sent, suppliers = np.array(transfers).T
    regular = np.minimum(sent, k.transfers.max).sum()
    p = k.new_supplier
    assert suppliers.sum() <= regular + p * sent.sum() + 4 * (sent.sum() * p * (1 - p)) ** 0.5


def test_opened_for_shares_above_one_or_a_margin_of_everything_are_refused_naming_the_fields(scenario):
    shares = r"opened_for shares of side_hustle, funeral, orders \(0.25 \+ 0.05 \+ 0.8\) must sum to at most 1"
    with pytest.raises(ScenarioError, match=shares):
        scaled(scenario, inflows={"orders": {"opened_for": 0.8}})
    with pytest.raises(ScenarioError, match=r"margin \(0.5..1.0\) must lie in \[0, 1\)"):
        scaled(scenario, inflows={"orders": {"margin": {"min": 0.5, "max": 1.0}}})
