"""Orders taken on an account opened for them (`life.orders`), the genuine twin of an account opened to launder:
strangers prepay in rounds from the day after the opening, and each round all but the trader's margin goes to the
supplier within hours. A small bank over 40 days, half its further accounts opening then and half of the debit ones
opened to take orders; exact properties per account, the count within a binomial tolerance."""

from datetime import date, timedelta
from types import SimpleNamespace

import numpy as np
import pytest

from fraud_pipeline.core.rows import ATM, TRANSFER_IN, TRANSFER_OUT, WITHDRAWAL, concat
from fraud_pipeline.core.streams import stream
from fraud_pipeline.core.timeline import MS_PER_DAY, MS_PER_HOUR, day_start_ms
from fraud_pipeline.engine.bank import Bank
from fraud_pipeline.engine.bank_day import blocks_of
from fraud_pipeline.life.cash_out import within_daily_limit
from fraud_pipeline.life.genuine import receives
from fraud_pipeline.life.orders import orders_day
from fraud_pipeline.scenario import ScenarioError
from fraud_pipeline.world.devices import day_number
from fraud_pipeline.world.openings import opened_for
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
    # of the debit accounts that open in the calendar and receive on the day, each with its chance (`_chance`; a sum
    # of Bernoulli counts, within 4 sigma)
    opening = np.concatenate([np.flatnonzero((world.opened_day == day_number(d)) & ~world.credit & receives(world, d))
                              for d in days])
    chance = _chance(s, world)[opening]
    expected, sigma = chance.sum(), (chance * (1 - chance)).sum() ** 0.5
    assert abs(traders - expected) < 4 * sigma and traders >= 30


def _chance(s, world) -> np.ndarray:
    """Per account: its chance to be opened to take orders on (a debit account opening during the run): drawn in one
    lottery with the accounts opened to launder, `aml.mule.recruited.weight` times likelier for holders of the mule
    profile (at most what side hustles and funerals leave), then the orders' share of the lottery's draws."""
    k, new = s.inflows.orders, s.aml.new_account
    later = (world.opened_day >= day_number(s.start_date)) & ~world.credit
    others = s.inflows.side_hustle.opened_for + s.inflows.funeral.opened_for
    laundering = new.share_of_openings * (1 - others - k.opened_for) if new.enabled else 0.0
    weight = profile_weights(world, s.aml.mule.recruited)[world.account_customer]
    drawn = np.minimum((k.opened_for + laundering) * weight / weight[later].mean(), 1 - others)
    return np.where(later, drawn * k.opened_for / (k.opened_for + laundering), 0.0)


def test_order_accounts_and_accounts_opened_to_launder_are_drawn_in_one_lottery_and_lean_alike(scenario):
    """The default's shares on a bigger bank: accounts strangers pay in waves — a trader's for orders, one opened to
    launder — are drawn together, holders of the mule profile likelier, so the profile's share is the same among
    both (drawn in turn, it was half of one and a few per cent of the other: the profile told them apart), well
    above its share of the other openings, and each purpose's share of the openings as set."""
    s = scaled(scenario, population={"customers": 20_000, "accounts": 40_000, "devices": 24_000,
                                     "beneficiaries": 3_000, "block_customers": 5_000}, accounts={"opening_later": 0.5})
    blocks = blocks_of(Bank(s).world)  # drawn per block, as a run draws them

    def joined(per_block) -> np.ndarray:
        return np.concatenate([per_block(w) for w in blocks])

    later = joined(lambda w: (w.opened_day >= day_number(s.start_date)) & ~w.credit)
    profile = joined(lambda w: profile_weights(w, s.aml.mule.recruited)[w.account_customer] > 1)[later]
    orders, laundering = (joined(lambda w: opened_for(w, p))[later] for p in ("orders", "laundering"))
    assert len(blocks) == 4 and not (orders & laundering).any() and laundering.sum() > 300 and orders.sum() > 1_000
    # the shares as set (the default's chances stay below what side hustles and funerals leave, so each block's
    # weights average out): orders `opened_for` of the openings, laundering `share_of_openings` of the rest
    k, others = s.inflows.orders, s.inflows.side_hustle.opened_for + s.inflows.funeral.opened_for
    for drawn, share in ((orders, k.opened_for),
                         (laundering, s.aml.new_account.share_of_openings * (1 - others - k.opened_for))):
        assert abs(drawn.mean() - share) < 4 * (share * (1 - share) / len(drawn)) ** 0.5
    # the profile's share among the order accounts and the laundering ones: a two-proportion z within 4
    a, b = profile[orders].mean(), profile[laundering].mean()
    pooled = profile[orders | laundering].mean()
    z = (a - b) / (pooled * (1 - pooled) * (1 / orders.sum() + 1 / laundering.sum())) ** 0.5
    assert abs(z) < 4
    assert min(a, b) > 1.5 * profile[~(orders | laundering)].mean()  # leaning: likelier among both than elsewhere


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


def test_the_daily_limit_is_one_per_card_and_caps_only_what_passes_it():
    """`within_daily_limit`: cash of the same card meets the same limit (a trader's every round, a new account's
    every wave), each card's drawn within the bounds; what is below it is left as it was."""
    bounds = SimpleNamespace(min=5_000, max=20_000)
    card = np.repeat(np.arange(200), 5)
    rng = lambda purpose: stream(1, "test", purpose)  # noqa: E731 — the callers' rng(purpose) shape
    capped = within_daily_limit(rng, np.full(len(card), 10**9), bounds, card)
    limit = capped.reshape(200, 5)
    assert (limit == limit[:, :1]).all()  # one limit a card, however many rounds
    assert (limit >= 5_000 * 100).all() and (limit <= 20_000 * 100).all() and len(np.unique(limit[:, 0])) == 200
    small = np.arange(len(card)) * 500  # up to R4,995: below every limit, so as it was
    assert np.array_equal(within_daily_limit(rng, small, bounds, card), small)
    mixed = np.where(np.arange(len(card)) % 2, 10**9, small)  # the same cards' limits cap only the large ones
    assert np.array_equal(within_daily_limit(rng, mixed, bounds, card), np.minimum(mixed, capped))
    alone = within_daily_limit(rng, np.full(10, 10**9), bounds)  # without cards, each its own
    assert len(np.unique(alone)) == 10


def test_a_card_limit_of_zero_is_refused_naming_the_field(scenario):
    with pytest.raises(ScenarioError, match=r"inflows\.orders\.cash_limit\.min"):
        scaled(scenario, inflows={"orders": {"cash_limit": {"min": 0, "max": 5000}}})
    with pytest.raises(ScenarioError, match=r"aml\.mule\.cash_limit\.min"):
        scaled(scenario, aml={"mule": {"cash_limit": {"min": -1, "max": 5000}}})
