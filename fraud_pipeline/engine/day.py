"""One day of the bank: genuine life and fraud attempted, authorised and posted, and the state the next day starts
from.

`simulate_day(world, state, day)` is the whole step; `states_from` walks days from a state. A partition
holds the rows that arrive on its day: rows happening late in the day that arrive after midnight are
carried in the state to the next day, never written into it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fraud_pipeline.core import schemas
from fraud_pipeline.core.columns import earlier_equal, ids, nullable
from fraud_pipeline.core.keys import label_key, numbers_of_rows
from fraud_pipeline.aml.cases import aml_day, case_ids, case_table
from fraud_pipeline.aml.reports import report_table
from fraud_pipeline.aml.networks import receiver_roles
from fraud_pipeline.core.labels import AML_ROLES, AML_TYPOLOGIES, SCENARIOS, episode_ids, episode_kind
from fraud_pipeline.core.rows import (ATM, CHANNELS, CREDIT_TYPES, INTEREST, NONE, PURCHASE, REFUND,
                                      TRANSACTION_ID_SPACE, TRANSFER, TRANSFER_IN, TRANSFER_OUT, TYPES, Rows, concat,
                                      make)
from fraud_pipeline.core.streams import stream
from fraud_pipeline.core.timeline import MS_PER_DAY, arrival_lag_ms, batch_of, day_start_ms
from fraud_pipeline.fraud import scenarios as fraud
from fraud_pipeline.life import clickstream
from fraud_pipeline.life.business_costs import fixed_costs, monthly_fixed_costs
from fraud_pipeline.life.income import income_day, payroll_of
from fraud_pipeline.life.remittances import remittances
from fraud_pipeline.life.between_customers import between_customers_day
from fraud_pipeline.life.funerals import funerals_day
from fraud_pipeline.life.orders import orders_day
from fraud_pipeline.life.lump_sums import lump_sums_day
from fraud_pipeline.life.rent import rent_day
from fraud_pipeline.life.stokvels import stokvels_day
from fraud_pipeline.life.genuine import (SCHEDULED_HOURS, days_after_payday, due_today, genuine_day, open_accounts,
                                         settles)
from fraud_pipeline.money import budget
from fraud_pipeline.money.ledger import (APPROVED, DECLINE_REASONS, Posted, card_catalogue, card_in_use, card_numbers,
                                         post, remember, status_on)
from fraud_pipeline.money.state import Blocks, Cards, State
from fraud_pipeline.world.build import STATUS_NAMES, World
from fraud_pipeline.world.devices import NEVER, day_number

REPLACEMENT_VALIDITY_MONTHS = 36
OVERNIGHT_BATCH_MS = (1_800_000, 7_200_000)  # 00:30–02:00: transfers between our accounts reach the payee
REFUND_DAYS = (1, 14)


@dataclass
class Day:
    """What a day produces: its tables, and the state the next day starts from."""

    transactions: pa.Table
    fraud_transactions: pa.Table
    fraud_episodes: pa.Table
    aml_cases: pa.Table
    aml_reports: pa.Table
    account_balances: pa.Table
    card_events: pa.Table
    customer_events: pa.Table
    opening: pa.Table  # account_id, balance: each account at the start of the day
    state: State
    outbox: Rows  # credits of the day's transfers to the bank's accounts, for the next day; `account` is the bank's


def simulate_day(world: World, state: State, day: date) -> Day:
    if state.day != day:
        raise ValueError(f"the state is the start of {state.day}, not of {day}")
    end = day_start_ms(day) + MS_PER_DAY
    genuine = genuine_day(world, day)
    attempted = fraud.fraud_day(world, state, day, genuine)
    laundering, pending = aml_day(world, day, state.pending)  # the credits our takeovers paid our mules: theirs
    others = concat([pending, genuine, income_day(world, day), fixed_costs(world, day), remittances(world, day),
                     stokvels_day(world, day),
                     rent_day(world, day), funerals_day(world, day), orders_day(world, day),
                     between_customers_day(world, day, pending, state.balance),
                     lump_sums_day(world, day, state.balance), repayments(world, state, day),
                     sweeps(world, state, day), interest(world, state, day), laundering.rows])
    # takeovers are sized on the day's other rows as they post (cards blocked today included); sizing may end an
    # episode earlier, and so its block
    attempted = fraud.size_takeovers(world, _apply_blocks(world, state, attempted.blocks, end)[0], day, others,
                                     attempted)
    state, blocked_today = _apply_blocks(world, state, attempted.blocks, end)
    candidates = concat([others, attempted.rows])
    del others
    del genuine  # each copy of a day's rows is a few hundred MB at a million a day: keep one alive at a time
    today = candidates.take(np.flatnonzero(candidates.arrival_ms < end))
    later = candidates.take(np.flatnonzero(candidates.arrival_ms >= end))
    del candidates
    posted = _give_up(post(world, state, today, day), world.scenario.card_transactions.declined_attempts_per_day)
    del today
    approved = posted.decline == APPROVED
    posted_rows = posted.rows
    internal_later = _internal_credits(world, posted_rows, approved, day)
    refunds = _refunds(world, posted_rows, approved, day)
    pool = fraud.captures(world, state, posted_rows, approved, posted.card, day)
    next_state = State(
        day=day + timedelta(days=1), balance=posted.end_balance,
        statement=_statements(world, state, posted.end_balance, day),
        learned=remember(state.learned, posted.keys[posted.new_recipient & approved]),
        entity_blocked_ms=state.entity_blocked_ms, cards=state.cards,
        pending=concat([later, refunds]), pool=fraud.remaining_pool(state.pool, pool, attempted, day),
        blocks=state.blocks)
    numbers = numbers_of_rows(label_key(world.scenario.seed, "transaction_ids", day.isoformat()), world.block_number,
                              world.n_blocks, len(posted_rows), TRANSACTION_ID_SPACE)
    is_fraud = posted_rows.scenario >= 0
    genuine, fraudulent = np.flatnonzero(~is_fraud), np.flatnonzero(is_fraud)
    transaction_ids = ids(f"T{day:%Y%m%d}", numbers, 8)
    events, sessions = clickstream.customer_events(world, day, posted_rows, transaction_ids)
    row_ids = (transaction_ids, sessions)
    return Day(
        transactions=_transactions(world, state, posted_rows, posted, day, row_ids, genuine),
        fraud_transactions=_transactions(world, state, posted_rows, posted, day, row_ids, fraudulent),
        fraud_episodes=fraud.episode_table(world, card_numbers(world, state), attempted.records),
        aml_cases=case_table(world, laundering),
        aml_reports=report_table(world, day, laundering, posted_rows, approved),
        account_balances=_balances(world, next_state, posted_rows, posted, day),
        card_events=_card_events(world, next_state, blocked_today, day),
        customer_events=events,
        opening=_opening(world, state, day),
        state=next_state, outbox=internal_later)


def _give_up(posted: Posted, limit: int) -> Posted:
    """The posted day without the genuine attempts a customer would not make: after `limit` declined attempts on an
    account in a day, its later declined genuine attempts are dropped (approved ones stay: a smaller purchase still
    goes through). Declined rows move no balance, so every balance_after stays as posted. Fraud attempts stay:
    fraudsters do retry; so do laundering's (a case's rows are all in `aml_cases`' count). Withdrawals stay too: at a machine people retry smaller amounts, and a withdrawal may be
    where a card was skimmed (the anchor of cash abroad)."""
    declined = np.flatnonzero((posted.decline != APPROVED) & (posted.rows.scenario < 0) & (posted.rows.aml_case < 0)
                              & (posted.rows.channel != ATM))
    dropped = declined[earlier_equal(posted.rows.account[declined]) >= limit]  # rows are in arrival order
    if len(dropped) == 0:
        return posted
    keep = np.ones(len(posted.decline), bool)
    keep[dropped] = False
    keep = np.flatnonzero(keep)
    return Posted(order=posted.order[keep], rows=posted.rows.take(keep), card=posted.card[keep],
                  decline=posted.decline[keep], balance_after=posted.balance_after[keep],
                  new_recipient=posted.new_recipient[keep], has_recipient=posted.has_recipient[keep],
                  keys=posted.keys[keep], end_balance=posted.end_balance)


def _apply_blocks(world: World, state: State, new_blocks: Blocks, end: int) -> tuple[State, Blocks]:
    """Block every card whose fraud the bank learns of before the day ends, and order its replacement (it reaches
    the customer some days later). Returns the state with them, and the blocks applied."""
    blocks = state.blocks.add(new_blocks)
    due = np.flatnonzero(blocks.block_ms < end)
    applied, waiting = blocks.take(due), blocks.take(np.flatnonzero(blocks.block_ms >= end))
    entity_blocked = state.entity_blocked_ms.copy()
    cards = state.cards
    n_entity = len(entity_blocked)
    first_issued = len(cards.account)
    if len(applied.card):
        applied = applied.take(np.lexsort((applied.episode, applied.block_ms)))  # earliest report first
        catalogue_blocked = np.concatenate([entity_blocked, cards.blocked_ms])
        already = catalogue_blocked[applied.card] < NEVER
        keep = ~already & ~_duplicate(applied.card)  # a card is blocked once, by its first reported episode
        applied = applied.take(np.flatnonzero(keep))
        entity = applied.card < n_entity
        entity_blocked[applied.card[entity]] = applied.block_ms[entity]
        replacement = cards.blocked_ms.copy()
        replacement[applied.card[~entity] - n_entity] = applied.block_ms[~entity]
        cards = Cards(cards.account, cards.sequence, cards.active_ms, cards.expiry_month, cards.replaces, replacement)
        rng = stream(world.scenario.seed, "card_replacements", state.day.isoformat(), *world.block_key)
        delivery = world.scenario.cards.replacement_days
        days = rng.integers(delivery.min, delivery.max + 1, len(applied.card))
        # the account's replacements so far, then today's in order (World.replacement_number's `number`)
        sequence = (np.bincount(cards.account[:first_issued], minlength=world.n_accounts)[applied.account]
                    + earlier_equal(applied.account))
        month = (applied.block_ms // MS_PER_DAY).astype("datetime64[D]").astype("datetime64[M]").astype(np.int64) + 1970 * 12
        cards = cards.add(Cards(account=applied.account, sequence=sequence,
                                active_ms=applied.block_ms + days * MS_PER_DAY,
                                expiry_month=month + REPLACEMENT_VALIDITY_MONTHS, replaces=applied.card,
                                blocked_ms=np.full(len(applied.card), NEVER, np.int64)))
    state = State(day=state.day, balance=state.balance, statement=state.statement, learned=state.learned,
                  entity_blocked_ms=entity_blocked, cards=cards, pending=state.pending, pool=state.pool, blocks=waiting)
    return state, applied


def _duplicate(values: np.ndarray) -> np.ndarray:
    """True for every occurrence of a value after its first."""
    _, first = np.unique(values, return_index=True)
    mask = np.ones(len(values), bool)
    mask[first] = False
    return mask


def repayments(world: World, state: State, day: date) -> Rows:
    """Two days after payday, a customer pays their active credit card's statement from their salary account (a
    transfer between two of our accounts): in full, or as much as the account holds. A customer whose income is
    paid elsewhere (no salary account here) pays it in full from their other bank (a credit from outside). And an
    account that closes the day after tomorrow is settled today, so nothing is left in it or owed on it when it
    closes: what it owes comes from the salary account, what it holds goes to it."""
    after = days_after_payday(world, day)
    owed = -np.minimum(state.statement, 0)
    active = world.status == STATUS_NAMES.index("active")
    credit_account = np.flatnonzero(world.credit & (owed > 0) & settles(world, day) & active
                                    & (after[world.account_customer] == 2) & (world.closed_day != day_number(day) + 2))
    payer = world.salary_of[world.account_customer[credit_account]]
    elsewhere = credit_account[payer < 0]
    keep = (payer >= 0) & (payer != credit_account)
    payer, credit_account = payer[keep], credit_account[keep]
    # in full when the salary account holds it, else what it holds (the rest stays on the card)
    cents = np.minimum(owed[credit_account], np.maximum(state.balance[payer], 0))
    # closing the day after tomorrow (the last day a transfer to it still settles): settle it with the salary account
    closing = np.flatnonzero((world.closed_day == day_number(day) + 2) & active & ~world.salary)
    partner = world.salary_of[world.account_customer[closing]]
    closing, partner = closing[partner >= 0], partner[partner >= 0]
    balance = state.balance[closing]
    pays_off = balance < 0
    payer = np.concatenate([payer, partner[pays_off], closing[~pays_off & (balance > 0)]])
    counterparty = np.concatenate([credit_account, closing[pays_off], partner[~pays_off & (balance > 0)]])
    cents = np.concatenate([cents, np.minimum(-balance[pays_off], np.maximum(state.balance[partner[pays_off]], 0)),
                            balance[~pays_off & (balance > 0)]])
    payer, counterparty, cents = payer[cents > 0], counterparty[cents > 0], cents[cents > 0]
    n, n_elsewhere = len(payer), len(elsewhere)
    rng = stream(world.scenario.seed, "repayments", day.isoformat(), *world.block_key)
    event = day_start_ms(day) + rng.integers(1, 5, n + n_elsewhere) * 3_600_000 + rng.integers(0, 3_600_000,
                                                                                               n + n_elsewhere)
    delivery = world.scenario.card_transactions.arrival_lag_seconds
    lag = arrival_lag_ms(rng, n + n_elsewhere, delivery.median, delivery.sigma, delivery.max)
    account = np.concatenate([payer, elsewhere])
    return make(n + n_elsewhere, account=account, channel=TRANSFER,
                kind=np.r_[np.full(n, TRANSFER_OUT), np.full(n_elsewhere, TRANSFER_IN)],
                event_ms=event, arrival_ms=event + lag, cents=np.concatenate([cents, owed[elsewhere]]),
                counterparty=np.r_[world.bank_accounts(counterparty), np.full(n_elsewhere, NONE)],
                place=len(world.merchant_id) + world.home_city[world.account_customer[account]])


def sweeps(world: World, state: State, day: date) -> Rows:
    """The business day after payday (`budget`) — and on the day one opens, that one — a salary account tops each
    of the customer's other debit accounts up to its target (a transfer between two of our accounts), then sends
    `money.savings_sweep` of what it still holds above its own target — what the months leave over — to the
    customer's savings payee. Sized on the day's opening balances less the payments already set for the coming days
    (a business's takings owed to its wholesalers, a one-off's spending) and a business's month's payroll, so
    balances revert to their targets whatever earlier months did."""
    plan = budget.of(world)
    due = due_today(world, day)[world.schedule[world.account_customer], 1] & open_accounts(world, day) & (
        world.status == STATUS_NAMES.index("active"))
    payer = world.salary_of[world.account_customer]
    payer_ok = (payer >= 0) & due[np.maximum(payer, 0)]
    # an account that opens today is funded today, whatever the day: its holder moves money in to start it
    opens = (world.opened_day == day_number(day)) & (payer >= 0)
    funded = np.flatnonzero(((due & payer_ok) | opens) & settles(world, day) & ~world.salary & ~world.credit
                            & (plan.target > state.balance))
    top_up = plan.target[funded] - state.balance[funded]
    paid = np.bincount(payer[funded], weights=top_up, minlength=world.n_accounts).astype(np.int64)
    saver = np.flatnonzero(due & world.salary & (world.sweep_payee >= 0))
    debit = np.flatnonzero(~np.isin(state.pending.kind, CREDIT_TYPES) & (state.pending.account >= 0))
    owed = np.bincount(state.pending.account[debit], weights=state.pending.cents[debit], minlength=world.n_accounts)
    staff, wage = payroll_of(world)  # a business keeps its month's payroll (paid on the 25th) and fixed costs
    owed += np.where(world.business, (wage * staff[1] + monthly_fixed_costs(world))[world.account_customer], 0)
    excess = np.round((state.balance[saver] - paid[saver] - owed[saver] - plan.target[saver])
                      * world.scenario.money.savings_sweep).astype(np.int64)
    saver, excess = saver[excess > 0], excess[excess > 0]
    rng = stream(world.scenario.seed, "sweeps", day.isoformat(), *world.block_key)
    n = len(funded) + len(saver)
    account = np.concatenate([payer[funded], saver])
    event = day_start_ms(day) + rng.integers(SCHEDULED_HOURS[0] * 3_600_000, SCHEDULED_HOURS[1] * 3_600_000, n)
    delivery = world.scenario.card_transactions.arrival_lag_seconds
    return make(n, account=account, channel=TRANSFER, kind=TRANSFER_OUT, event_ms=event,
                arrival_ms=event + arrival_lag_ms(rng, n, delivery.median, delivery.sigma, delivery.max),
                cents=np.concatenate([top_up, excess]).astype(np.int64),
                counterparty=np.concatenate([world.bank_accounts(funded), np.full(len(saver), NONE)]),
                payee=np.concatenate([np.full(len(funded), NONE), world.sweep_payee[saver]]),
                place=len(world.merchant_id) + world.home_city[world.account_customer[account]])


def interest(world: World, state: State, day: date) -> Rows:
    """On the month's last day, each open savings account's interest: `money.savings_interest` a year, a twelfth of
    it on the day's opening balance (none on a balance at or below zero), credited in the day's first hour."""
    if (day + timedelta(days=1)).month == day.month:
        return make(0)
    rate = world.scenario.money.savings_interest / 12
    account = np.flatnonzero(world.savings & open_accounts(world, day) & (state.balance > 0))
    cents = np.round(state.balance[account] * rate).astype(np.int64)
    account, cents = account[cents > 0], cents[cents > 0]
    n = len(account)
    rng = stream(world.scenario.seed, "interest", day.isoformat(), *world.block_key)
    event = day_start_ms(day) + rng.integers(0, SCHEDULED_HOURS[0] * 3_600_000, n)
    delivery = world.scenario.card_transactions.arrival_lag_seconds
    return make(n, account=account, channel=TRANSFER, kind=INTEREST, event_ms=event,
                arrival_ms=event + arrival_lag_ms(rng, n, delivery.median, delivery.sigma, delivery.max), cents=cents,
                place=len(world.merchant_id) + world.home_city[world.account_customer[account]])


def _internal_credits(world: World, rows: Rows, approved: np.ndarray, day: date) -> Rows:
    """The credit each approved transfer to one of our accounts makes on the payee's account: in the bank's
    overnight batch after the day (so a day's postings never wait on each other). The payee's account may be in
    another block: `account` is the bank's account number, and the bank's day routes each credit to its block
    (`Day.outbox`). A laundering transfer's credit is the case's, with the receiver's role in it."""
    source = np.flatnonzero(approved & (rows.counterparty >= 0) & ~np.isin(rows.kind, CREDIT_TYPES))
    s = rows.take(source)
    rng = stream(world.scenario.seed, "internal_credits", day.isoformat(), *world.block_key)
    n = len(source)
    event = day_start_ms(day) + MS_PER_DAY + rng.integers(*OVERNIGHT_BATCH_MS, n)
    delivery = world.scenario.card_transactions.arrival_lag_seconds
    bank = world.directory
    return make(n, account=s.counterparty, channel=TRANSFER, kind=TRANSFER_IN, event_ms=event,
                arrival_ms=event + arrival_lag_ms(rng, n, delivery.median, delivery.sigma, delivery.max),
                cents=s.cents, counterparty=world.bank_accounts(s.account),
                place=len(world.merchant_id) + bank.home_city[bank.account_customer[s.counterparty]],
                scenario=s.scenario, episode=s.episode, label_ms=s.label_ms, aml_case=s.aml_case,
                aml_role=receiver_roles(world, s.aml_case, s.counterparty))


def _refunds(world: World, rows: Rows, approved: np.ndarray, day: date) -> Rows:
    """A share of approved purchases is refunded some days later, to the same card."""
    rng = stream(world.scenario.seed, "refunds", day.isoformat(), *world.block_key)
    purchase = np.flatnonzero(approved & (rows.kind == PURCHASE) & (rows.scenario < 0))
    chosen = purchase[rng.random(len(purchase)) < world.scenario.money.refund_rate]
    p = rows.take(chosen)
    n = len(chosen)
    later = day_start_ms(day) + rng.integers(*REFUND_DAYS, n, endpoint=True) * MS_PER_DAY + rng.integers(
        8 * 3_600_000, 20 * 3_600_000, n)
    full = rng.random(n) < 0.7
    cents = np.where(full, p.cents, np.maximum(np.round(p.cents * rng.uniform(0.1, 0.9, n)), 1)).astype(np.int64)
    original = np.where(full, p.original_cents, np.round(p.original_cents * cents / np.maximum(p.cents, 1))).astype(
        np.int64)
    return make(n, account=p.account, channel=p.channel, kind=REFUND, event_ms=later, arrival_ms=later + 2000,
                cents=cents, original_cents=original, currency=p.currency, merchant=p.merchant, place=p.place,
                card=True)


def _statements(world: World, state: State, balance: np.ndarray, day: date) -> np.ndarray:
    """A credit account's statement is its balance at the end of each month."""
    if (day + timedelta(days=1)).day != 1:
        return state.statement
    return np.where(world.credit, balance, state.statement)


def card_tables(world: World, state: State) -> dict[str, pa.Table]:
    """Every card issued by the end of the state's day: numbers (`cards`), when each was blocked (`blocked`) and
    the first instant it no longer works (`expiry`)."""
    numbers = card_numbers(world, state)
    _, _, expiry, blocked = card_catalogue(world, state)
    was_blocked = blocked < NEVER
    return {"cards": pa.table({"card_number": numbers}),
            "blocked": pa.table({"card_number": numbers.filter(pa.array(was_blocked)),
                                 "blocked_at": pa.array(blocked[was_blocked], pa.timestamp("ms"))}),
            "expiry": pa.table({"card_number": numbers, "expires_at": pa.array(expiry, pa.timestamp("ms"))})}


def _transactions(world: World, state: State, posted_rows: Rows, posted: Posted, day: date,
                  row_ids: tuple[pa.Array, pa.Array], keep: np.ndarray) -> pa.Table:
    """The posted rows at positions `keep` (arrival order) as transaction columns; `row_ids`: every posted row's
    transaction id and web session id. Built per table (genuine, fraud) rather than filtered from one: half the peak
    memory."""
    s = world.scenario
    r = posted_rows.take(keep)
    decline, card = posted.decline[keep], posted.card[keep]
    n = len(r)
    start = day_start_ms(day)
    credit = np.isin(r.kind, CREDIT_TYPES)
    n_merchants = len(world.merchant_id)
    at_merchant = r.place < n_merchants
    city = np.where(at_merchant, 0, r.place - n_merchants)
    merchant_place = np.where(at_merchant, r.place, 0)
    lat = np.where(at_merchant, world.merchant_lat[merchant_place], world.city_lat[city])
    lon = np.where(at_merchant, world.merchant_lon[merchant_place], world.city_lon[city])
    currencies = pa.array(world.currencies)
    home = world.currencies.index(s.geography.currency)
    episode_id = episode_ids(r.episode)
    return schemas.CARD_TRANSACTIONS.build({
        "transaction_id": row_ids[0].take(pa.array(keep)),
        "event_time": pa.array(r.event_ms, pa.timestamp("ms")),
        "arrival_time": pa.array(r.arrival_ms, pa.timestamp("ms")),
        "batch": batch_of(r.arrival_ms, start),
        "card_number": card_numbers(world, state).take(nullable(card)),
        "account_id": world.account_id.take(pa.array(r.account)),
        "customer_id": world.customer_id.take(pa.array(world.account_customer[r.account])),
        "channel": pa.array(CHANNELS).take(pa.array(r.channel.astype(np.int64))),
        "transaction_type": pa.array(TYPES).take(pa.array(r.kind.astype(np.int64))),
        "direction": _labelled(("debit", "credit"), credit),
        "merchant_id": world.merchant_id.take(nullable(r.merchant)),
        "category": world.category_name.take(nullable(r.merchant)),
        "mcc": world.mcc.take(nullable(r.merchant)),
        "beneficiary_id": world.beneficiary_id.take(nullable(r.payee)),
        "counterparty_account_id": world.directory.account_id.take(nullable(r.counterparty)),
        "amount": r.cents / 100,
        "currency": pa.repeat(s.geography.currency, n),
        "original_amount": r.original_cents / 100,
        "original_currency": currencies.take(pa.array(np.where(r.currency >= 0, r.currency, home))),
        "lat": lat, "lon": lon,
        "city": pc.if_else(pa.array(at_merchant), world.merchant_city.take(pa.array(merchant_place)),
                           world.city_name.take(pa.array(city))),
        "province": pc.if_else(pa.array(at_merchant), world.merchant_province.take(pa.array(merchant_place)),
                               world.city_province.take(pa.array(city))),
        "country": pc.if_else(pa.array(at_merchant), world.merchant_country.take(pa.array(merchant_place)),
                              world.city_country.take(pa.array(city))),
        "device_id": world.device_id.take(nullable(r.device)),
        "ip_address": world.ip_text(r.ip),
        "session_id": row_ids[1].take(pa.array(keep)),
        "recipient_status": pa.array(["FAVORITE", "NEW_RECIPIENT"]).take(
            pa.array(posted.new_recipient[keep].astype(np.int8), mask=~posted.has_recipient[keep])),
        "status": _labelled(("approved", "declined"), decline != APPROVED),
        "decline_reason": pa.array(DECLINE_REASONS).take(nullable(decline)),
        "balance_after": posted.balance_after[keep] / 100,
        "is_fraud": r.scenario >= 0,
        "fraud_scenario": pa.array(SCENARIOS).take(nullable(r.scenario)),
        "fraud_episode_id": episode_id,
        "label_available_at": pa.array(r.label_ms, pa.timestamp("ms"), mask=r.label_ms < 0),
        "aml_typology": pa.array(AML_TYPOLOGIES).take(nullable(episode_kind(r.aml_case))),
        "aml_case_id": case_ids(r.aml_case),
        "aml_role": pa.array(AML_ROLES).take(nullable(r.aml_role.astype(np.int64))),
    })


def _labelled(names: tuple[str, str], flag: np.ndarray) -> pa.Array:
    """names[1] where `flag`, else names[0]: a take, not a numpy string array (a fraction of the memory)."""
    return pa.array(names).take(pa.array(flag.astype(np.int8)))


def _opened(world: World, day: date) -> np.ndarray:
    """The accounts opened by `day` (the day's opening balances and end-of-day balances hold these)."""
    return np.flatnonzero(world.opened_day <= day_number(day))


def _opening(world: World, state: State, day: date) -> pa.Table:
    """Each account open on `day` at the day's start: account_id, balance."""
    accounts = _opened(world, day)
    return pa.table({"account_id": world.account_id.take(pa.array(accounts)), "balance": state.balance[accounts] / 100})


def _balances(world: World, state: State, r: Rows, posted: Posted, day: date) -> pa.Table:
    """Each account open by the end of the day (`state` is the next day's start): none before the day it opens."""
    end = day_start_ms(day) + MS_PER_DAY - 1
    accounts = _opened(world, day)
    status = status_on(world, day)[accounts]
    balance = state.balance[accounts]
    available = np.where(np.isin(status, [STATUS_NAMES.index("frozen"), STATUS_NAMES.index("closed")]), 0,
                         np.maximum(balance + world.limit[accounts], 0))
    card = card_in_use(world, state, accounts, np.full(len(accounts), end))
    _, _, expiry, blocked = card_catalogue(world, state)
    card_status = np.where(blocked[card] <= end, "blocked", np.where(expiry[card] <= end, "expired", "active"))
    approved = posted.decline == APPROVED
    credit = np.isin(r.kind, CREDIT_TYPES)
    per_account = lambda w: np.bincount(r.account, weights=w, minlength=world.n_accounts)[accounts]  # noqa: E731
    return schemas.ACCOUNT_BALANCES.build({
        "account_id": world.account_id.take(pa.array(accounts)),
        "balance": balance / 100,
        "available": available / 100,
        "statement_balance": pa.array(state.statement[accounts] / 100, mask=~world.credit[accounts]),
        "status": pa.array(STATUS_NAMES).take(pa.array(status)),
        "card_number": card_numbers(world, state).take(pa.array(card)),
        "card_status": card_status,
        "credits": per_account(np.where(approved & credit, r.cents, 0)) / 100,
        "debits": per_account(np.where(approved & ~credit, r.cents, 0)) / 100,
        "declined": per_account(~approved).astype(np.int32),
    })


def _card_events(world: World, state: State, blocked: Blocks, day: date) -> pa.Table:
    """Renewals issued today (they work from the day's start), cards blocked today, replacements that reach their
    customer today (ordered when the card was blocked), and cards that expired at midnight."""
    start, today = day_start_ms(day), day_number(day)
    numbers = card_numbers(world, state)
    n_entity = len(world.card_number)
    _, _, expiry, _ = card_catalogue(world, state)
    issued = np.flatnonzero((state.cards.active_ms >= start) & (state.cards.active_ms < start + MS_PER_DAY))
    # entity cards issued today: renewals, and the first card of an account that opens today
    renewals = np.flatnonzero((world.card_issue_day == today) & (today > day_number(world.scenario.start_date) - 1))
    first_card = _replaced(world)[renewals] < 0
    expired = np.flatnonzero(expiry == start)
    replacement = n_entity + issued
    card = np.concatenate([renewals, blocked.card, replacement, expired])
    event = np.repeat(["issued", "blocked", "issued", "expired"], [len(renewals), len(blocked.card), len(issued),
                                                                    len(expired)])
    reason = np.repeat(["renewal", "fraud_reported", "fraud_reported", "expiry"],
                       [len(renewals), len(blocked.card), len(issued), len(expired)])
    reason[:len(renewals)][first_card] = "new_account"
    replaces = np.concatenate([np.full(len(renewals), -1), np.full(len(blocked.card), -1),
                               state.cards.replaces[issued], np.full(len(expired), -1)])
    replaces[:len(renewals)] = _replaced(world)[renewals]
    time = np.concatenate([np.full(len(renewals), start), blocked.block_ms, state.cards.active_ms[issued],
                           np.full(len(expired), start)])
    account = np.concatenate([world.card_account, state.cards.account])[card]
    month = np.concatenate([world.card_expiry_month, state.cards.expiry_month])
    has_expiry = event == "issued"
    expiry_text = _month_year(month[card])
    episode = np.concatenate([np.full(len(renewals), NONE), blocked.episode, np.full(len(issued) + len(expired), NONE)])
    order = np.lexsort((card, time))
    return schemas.CARD_EVENTS.build({
        "event_time": pa.array(time[order], pa.timestamp("ms")),
        "card_number": numbers.take(pa.array(card[order])),
        "account_id": world.account_id.take(pa.array(account[order])),
        "customer_id": world.customer_id.take(pa.array(world.account_customer[account[order]])),
        "event": event[order],
        "reason": reason[order],
        "replaces_card_number": numbers.take(nullable(replaces[order])),
        "expiry": pa.array(np.asarray(expiry_text, object)[order], pa.string(), mask=~has_expiry[order]),
        "fraud_episode_id": episode_ids(episode[order]),
    })


def _replaced(world: World) -> np.ndarray:
    """For each entity card, the entity card it renews (-1 for a first card)."""
    key = ("replaced",)
    if key not in world.caches:
        replaces = np.full(len(world.card_number), -1)
        # renewals follow their account's earlier card in issue order
        order = np.lexsort((world.card_issue_day, world.card_account))
        same = np.r_[False, world.card_account[order][1:] == world.card_account[order][:-1]]
        replaces[order[same]] = order[np.flatnonzero(same) - 1]
        world.caches[key] = replaces
    return world.caches[key]


def _month_year(month: np.ndarray) -> list[str]:
    return [f"{m % 12 + 1:02d}/{(m // 12) % 100:02d}" for m in np.asarray(month, np.int64)]
