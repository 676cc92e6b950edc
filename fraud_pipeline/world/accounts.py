"""Accounts, their cards and their saved payees: the money side of the world, as it stands at the start and as
it is planned to change over the horizon (card renewals, payees added by their owners, accounts that close).

A customer's first account is their salary account: income is paid into it (into their first
active account if it is not active). Debit accounts may have an arranged overdraft, credit accounts
a credit limit; both are sized on the owner's income, as is the opening balance, so spending and
balances agree with the money that comes in.
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from fraud_pipeline.core import columns as col, keys, schemas
from fraud_pipeline.core.reserved import TEST_CARD_BINS
from fraud_pipeline.core.streams import categorical, choose, distinct_per_row, stream
from fraud_pipeline.scenario import Scenario
from fraud_pipeline.scenario.population import CARD_NETWORK_PREFIXES, PAY_SCHEDULES
from fraud_pipeline.world import calendar
from fraud_pipeline.world.devices import block_device_plan, by_block, day_number
from fraud_pipeline.world.layout import Layout
from fraud_pipeline.world.remitters import cross_border_homes, family_abroad

DENORMALISED_CUSTOMER_COLUMNS = ("kyc_level", "risk_rating", "pep_flag", "occupation", "industry",
                                 "income_bracket", "country_risk")
BANK_BINS_PER_NETWORK = 3  # cards.bin_ranges: realistic
SERIAL_SPACE = 10**9  # the nine digits between a 6-digit BIN and the check digit, unique across every BIN
FIRST_CARDS = SERIAL_SPACE // 2  # serials below: cards issued before the start; above: cards issued later
SCRAMBLE = 387_420_489  # 3**18: coprime with FIRST_CARDS, so later serials are a permutation with no visible order
RENEWED_VALIDITY_MONTHS = 36
STATUS_NAMES = ("active", "dormant", "frozen", "closed")  # an account's status; closed from its closing day
PRODUCTS = ("current", "savings", "credit_card", "business")  # `account_type`: seed 004's names where they fit
TRANSACTIONAL = (PRODUCTS.index("current"), PRODUCTS.index("business"))  # debit accounts income is paid into


def _log_uniform(rng: np.random.Generator, low: float, high: float, n: int) -> np.ndarray:
    return np.exp(rng.uniform(np.log(low), np.log(high), n))


def accounts(scenario: Scenario, customers: pa.Table, devices: pa.Table) -> pa.Table:
    """The bank's accounts: each block's (`accounts_of_block`)."""
    return by_block(scenario, customers, devices, accounts_of_block)


def accounts_of_block(scenario: Scenario, block: int, customers: pa.Table, devices: pa.Table) -> pa.Table:
    """Block `block`'s accounts (`Layout.account_span`): every customer's first account opens the day they join;
    the block's share of further accounts opens later, each for one of its customers. `customers`: the block's;
    `devices`: the block's own (`devices.devices_of_block`).

    Accounts are numbered in opening order within the block. A customer's accounts share their trusted phone at
    the start."""
    config, seed = scenario.accounts, scenario.seed
    rng = lambda purpose: stream(seed, "accounts", purpose, block)  # noqa: E731
    first_account, end_account = Layout.of(scenario).account_span(block)
    n, n_customers = end_account - first_account, customers.num_rows
    owner = np.concatenate([np.arange(n_customers), rng("owner").integers(0, n_customers, n - n_customers)])
    first = np.arange(n) < n_customers

    since = customers["customer_since"].to_numpy()[owner].astype("datetime64[D]")
    start = np.datetime64(scenario.start_date, "D")
    tenure = (start - since).astype(int)
    later = (rng("opened").random(n) * tenure).astype(int)
    opened = since + np.where(first, 0, later).astype("timedelta64[D]")
    status = categorical(rng("status"), config.status, n).to_numpy(zero_copy_only=False)
    # `opening_later` of the further accounts of customers whose first account is active (their income is paid into
    # it) open during the horizon instead, on a day drawn uniformly; an account opens active
    horizon_days = (np.datetime64(scenario.horizon_end, "D") - start).astype(int) + 1
    in_run = ~first & (status[owner] == "active") & (rng("opening_later").random(n) < config.opening_later)
    opened = np.where(in_run, start + rng("opened_in_run").integers(0, horizon_days, n).astype("timedelta64[D]"),
                      opened)
    status = pa.array(np.where(in_run, "active", status))
    order = np.lexsort((rng("order").random(n), opened))
    owner, opened, first, in_run = owner[order], opened[order], first[order], in_run[order]
    status = status.take(pa.array(order))
    active = pc.equal(status, "active").to_numpy(zero_copy_only=False)
    income = customers["monthly_income"].to_numpy()[owner]
    # a customer's first account is a debit account (income needs a transactional account); later ones are credit
    # cards often enough that `card_type.credit` of all accounts are, where the population allows
    later_share = min(1.0, scenario.cards.card_type.get("credit", 0.0) * n / max(int((~first).sum()), 1))
    is_credit = ~first & (rng("card_type").random(n) < later_share)
    # (never one opened during the run: its holder's first account, active, opened before it)
    salary = salary_accounts(owner, active, is_credit, n_customers)
    # customers close other accounts than the one their income is paid into; one opened during the run stays open
    closes = active & ~salary & ~in_run & (rng("closing").random(n) < config.closing.share)
    closed = start + rng("closed_day").integers(
        0, config.closing.within_days, n).astype("timedelta64[D]")
    credit_limit = np.where(is_credit, np.round(income * rng("credit_limit").uniform(
        scenario.cards.credit_limit_of_income.min, scenario.cards.credit_limit_of_income.max, n), -2), 0.0)
    is_credit &= credit_limit > 0  # a limit that rounds to nothing (the smallest incomes): a debit account
    business = customers["monthly_turnover"].is_valid().to_numpy(zero_copy_only=False)[owner]
    product = account_products(first, salary, is_credit, business)
    has_overdraft = np.isin(product, TRANSACTIONAL) & (rng("overdraft").random(n) < config.overdraft_share)
    overdraft = np.where(has_overdraft, np.round(income * rng("overdraft_size").uniform(
        config.overdraft_of_income.min, config.overdraft_of_income.max, n), -2), 0.0)
    # Opening balances, as the month's budget leaves them (`budget`): a salary account holds its buffer plus what
    # it will still pay until the next payday; a credit account owes about a month of its purchases (the last
    # statement, repaid after payday); other accounts hold savings.
    buffer = salary_buffers(scenario, income, block)
    schedule = pc.index_in(customers["pay_schedule"], pa.array(PAY_SCHEDULES)).to_numpy(zero_copy_only=False)[owner]
    left_of_cycle = np.array([_cycle_left(scenario, name) for name in PAY_SCHEDULES])[schedule]
    month_left = left_of_cycle * income * scenario.money.spent_share
    # irregular earners' savings are swept on the month's first business days: before that they hold the month's
    # payments and last month's savings, about a month's income
    month_left = np.where(schedule == PAY_SCHEDULES.index("irregular"), income, month_left)
    # what a salary account keeps above its target between sweeps: it sends on `savings_sweep` of the excess, so
    # the month's savings S settle at S × (1 / savings_sweep - 1) above it
    month_left += (1 - scenario.money.spent_share) * income * (1 / scenario.money.savings_sweep - 1)
    savings = income * _log_uniform(rng("savings"), 0.1, 6.0, n)  # months of income (assumption)
    weight = card_weights(scenario, card_roles(salary, is_credit, product == PRODUCTS.index("savings")),
                          status.to_numpy(zero_copy_only=False))
    card_spend = scenario.money.card_share_of_income * income * weight / np.maximum(
        np.bincount(owner, weights=weight, minlength=n_customers)[owner], 1e-12)
    owed = np.minimum(rng("owed").uniform(0.5, 1.5, n) * card_spend, credit_limit)
    # a business account also holds its working capital: a month of payroll and fixed costs, which the sweep leaves
    # it (`engine.day.sweeps`), so wages on the 25th and rent on the 1st are paid before the month's takings are in
    turnover = customers["monthly_turnover"].fill_null(0.0).to_numpy()[owner]
    capital = np.where(product == PRODUCTS.index("business"),
                       scenario.customers.business.set_aside * np.maximum(turnover - income, 0.0), 0.0)
    # an account that opens during the run holds nothing at the start: the salary account funds it on the day
    opening = np.where(in_run, 0.0,
                       np.where(salary, buffer + month_left, np.where(is_credit, -owed, savings)) + capital)
    average = np.where(salary, buffer + 0.5 * income * scenario.money.spent_share,
                       np.where(is_credit, -owed, savings)) + capital

    phone = block_device_plan(scenario, block).first_phone
    owner_index = pa.array(owner)
    denormalised = {c: customers[c].take(owner_index) for c in DENORMALISED_CUSTOMER_COLUMNS}
    return schemas.ACCOUNTS.build({
        "account_id": col.ids("A", first_account + np.arange(n), col.id_width(scenario.population.accounts)),
        "customer_id": customers["customer_id"].take(owner_index),
        "account_type": pa.array(PRODUCTS).take(pa.array(product)),
        "status": status,
        "avg_balance": np.round(average, 2),
        "currency": pa.repeat(scenario.geography.currency, n),
        "opened_date": opened,
        "closed_date": pa.array(closed, mask=~closes),
        "trusted_device_id": devices["device_id"].take(pa.array(phone[owner])),
        "salary_account": salary,
        "overdraft_limit": overdraft,
        "credit_limit": credit_limit,
        "opening_balance": np.round(opening, 2),
        **denormalised,
    })


def _cycle_left(scenario: Scenario, schedule: str) -> float:
    """The share of a pay cycle still to run when the calendar starts (irregular earners: the whole month)."""
    if schedule == "irregular":
        return 1.0
    start = scenario.start_date
    since = calendar.days_since_payday(scenario, schedule, start)
    following = start.replace(day=28) + timedelta(days=7)
    upcoming = calendar.payday(scenario, schedule, following.year, following.month) \
        if calendar.payday(scenario, schedule, start.year, start.month) <= start else \
        calendar.payday(scenario, schedule, start.year, start.month)
    length = since + (upcoming - start).days
    return (upcoming - start).days / max(length, 1)


def salary_accounts(owner: np.ndarray, active: np.ndarray, credit: np.ndarray, n_customers: int) -> np.ndarray:
    """Each customer's income goes to their first active debit account (in opening order); none if they have none
    (their income is paid at another bank, which also pays their card here)."""
    rows = np.arange(len(owner))
    candidate = np.where(active & ~credit, rows, len(owner))
    first = np.full(n_customers, len(owner))
    np.minimum.at(first, owner, candidate)
    return first[owner] == rows


def salary_buffers(scenario: Scenario, income: np.ndarray, block: int) -> np.ndarray:
    """Per account of block `block`: the buffer it keeps beyond the month's payments, if it is a salary account —
    `buffer_months` of its owner's `income` (log-uniform). The accounts table and the world draw the same
    numbers."""
    months = scenario.accounts.buffer_months
    return np.asarray(income, float) * _log_uniform(stream(scenario.seed, "accounts", "buffer", block), months.min,
                                                    months.max, len(income))


def account_products(first: np.ndarray, salary: np.ndarray, is_credit: np.ndarray,
                     business: np.ndarray) -> np.ndarray:
    """Per account, its product (an index into `PRODUCTS`): a credit card's account; a business account — the one a
    business owner's clients pay (`business`: the holder has a business); a cheque (current) account — a customer's
    first, or the one their income is paid into; or a savings account — a later debit account. (Seed 004 drew the
    label on its own: a "savings" account with a credit limit.)"""
    current = first | salary
    return np.where(is_credit, 2, np.where(salary & business, 3, np.where(current, 0, 1))).astype(np.int64)


def card_roles(salary: np.ndarray, credit: np.ndarray, savings: np.ndarray) -> np.ndarray:
    """Per account, its role in the customer's card activity (`card_weights`): 0 the salary account, 1 a credit
    card, 3 a savings account, 2 any other (a current account the income is not paid into)."""
    return np.where(salary, 0, np.where(credit, 1, np.where(savings, 3, 2)))


def card_weights(scenario: Scenario, role: np.ndarray, status: np.ndarray) -> np.ndarray:
    """How much of a customer's card activity each account carries (`account_weight`), by `card_roles`; dormant
    accounts carry none, frozen ones keep trying now and then (a tenth of theirs)."""
    w = scenario.card_transactions.account_weight
    weight = np.array([w.salary, w.credit, w.other, w.savings])[role]
    return np.where(status == "dormant", 0.0, np.where(status == "frozen", 0.1 * weight, weight))


def cards(scenario: Scenario, accounts: pa.Table) -> pa.Table:
    """The bank's cards: each block's (`cards_of_block`), from the bank's accounts."""
    layout = Layout.of(scenario)
    spans = layout.account_spans()
    return pa.concat_tables([cards_of_block(scenario, b, accounts.slice(first, end - first))
                             for b, (first, end) in enumerate(spans)])


def cards_of_block(scenario: Scenario, block: int, accounts: pa.Table) -> pa.Table:
    """Block `block`'s cards (`accounts`: the block's): one card per account at the start (BIN + serial + Luhn
    digit), then its renewals over the horizon: a new number, issued some weeks before the old one expires, valid
    three years. BINs: the published test BINs of the card's network (cards.bin_ranges: test), or three random
    ones per network in live ranges, the bank's (realistic); an account's cards keep its BIN. Serials are unique
    across all BINs, so a few BINs number any bank: a first card's is a keyed bijection of its account's number,
    a later card's `later_serial`."""
    config, n, seed = scenario.cards, accounts.num_rows, scenario.seed
    rng = lambda purpose: stream(seed, "cards", purpose, block)  # noqa: E731
    first_account = Layout.of(scenario).account_span(block)[0]
    networks, network_index = choose(rng("network"), config.network, n)
    if config.bin_ranges == "test":
        bins = np.array([[int(b) for b in TEST_CARD_BINS[network]] for network in networks], np.int64)
    else:
        bins = _bank_bins(stream(seed, "cards", "bins"), networks)
    bin_of_card = bins[network_index, rng("bin").integers(0, bins.shape[1], n)]
    expiry_months = rng("expiry").integers(config.validity_months.min, config.validity_months.max + 1, n)
    start_month = scenario.start_date.year * 12 + scenario.start_date.month - 1
    opened = accounts["opened_date"].to_numpy().astype("datetime64[D]")
    before_start = np.datetime64(scenario.start_date, "D") - np.timedelta64(1, "D")
    # a card lasts three years: issued that long before its expiry — or, for an account younger than that (or one
    # that opens during the run), when the account opened, and then it expires three years after
    opened_month = opened.astype("datetime64[M]").astype(np.int64) + 1970 * 12
    young = (opened_month > start_month + expiry_months - RENEWED_VALIDITY_MONTHS) | (opened > before_start)
    expiry_months = np.where(young, opened_month + RENEWED_VALIDITY_MONTHS - start_month, expiry_months)
    issued = np.where(young, opened, np.minimum(_month_start(start_month + expiry_months - RENEWED_VALIDITY_MONTHS),
                                                before_start))
    closed = accounts["closed_date"].to_numpy(zero_copy_only=False)
    closed = np.where(pd.isna(closed), np.datetime64("2262-01-01"), closed).astype("datetime64[D]")

    account = [np.arange(n)]
    serial = [keys.permute(keys.label_key(seed, "first_card_serials"), first_account + account[0], FIRST_CARDS)]
    expiry, issue_day, replaces = [start_month + expiry_months], [issued], [np.full(n, -1)]
    horizon = np.datetime64(scenario.horizon_end, "D")
    rows, sequence = np.arange(n), 1  # the global rows of the newest generation
    while True:  # renewal generations; a one-year horizon has at most one
        lead = rng(f"renewal_lead_{sequence}").integers(config.renewal_days_before_expiry.min,
                                                        config.renewal_days_before_expiry.max + 1, len(rows))
        due = _month_start(expiry[-1] + 1) - lead.astype("timedelta64[D]")  # before the expiry month ends
        keep = (due <= horizon) & (due < closed[account[-1]])
        if not keep.any():
            break
        account.append(account[-1][keep])
        serial.append(later_serial(first_account + account[-1], renewal_slot(sequence), scenario.population.accounts))
        expiry.append(expiry[-1][keep] + RENEWED_VALIDITY_MONTHS)
        issue_day.append(due[keep])
        replaces.append(rows[keep])
        rows = sum(len(a) for a in account[:-1]) + np.arange(int(keep.sum()))
        sequence += 1

    account, serial = np.concatenate(account), np.concatenate(serial)
    payload = bin_of_card[account] * 10**9 + serial
    number = pc.cast(pa.array(payload * 10 + col.luhn_check_digit(payload, 15)), pa.string())
    replaces = np.concatenate(replaces)
    months = np.concatenate(expiry)
    return schemas.CARDS.build({
        "card_number": number,
        "account_id": accounts["account_id"].take(pa.array(account)),
        "customer_id": accounts["customer_id"].take(pa.array(account)),
        "network": pa.array(networks).take(pa.array(network_index[account])),
        "card_type": pc.if_else(pc.greater(accounts["credit_limit"].take(pa.array(account)), 0), "credit", "debit"),
        "expiry": col.month_year(scenario.start_date, months - start_month),
        "issued_date": np.concatenate(issue_day),
        "replaces_card_number": number.take(pa.array(replaces, mask=replaces < 0)),
    })


def later_serial(account: np.ndarray, slot: int | np.ndarray, n_accounts: int) -> np.ndarray:
    """The serial of a card issued after the start, by its account and slot (`renewal_slot`, `replacement_slot`):
    slot × accounts + account numbers every (account, slot) once, and an affine map modulo FIRST_CARDS (a bijection:
    SCRAMBLE is coprime with it) spreads that over the later half of the serial space, so numbers show no order. No
    account runs out of slots before the space does: 200 slots per account at 2.5 million accounts (2 million
    customers), 20,000 at the default 25,000. Raises ValueError when the space is spent."""
    x = np.asarray(slot, np.int64) * n_accounts + np.asarray(account, np.int64)
    if x.size and int(x.max()) >= FIRST_CARDS:
        raise ValueError(f"card serial space spent: slot {int(np.max(slot))} of {n_accounts:,} accounts needs more "
                         f"than {FIRST_CARDS:,} later serials")
    return FIRST_CARDS + (x * SCRAMBLE + 7919) % FIRST_CARDS


def renewal_slot(generation: int | np.ndarray) -> int | np.ndarray:
    """An account's `generation`-th renewal (1, 2, …) takes the even slots."""
    return 2 * (np.asarray(generation) - 1)


def replacement_slot(number: int | np.ndarray) -> int | np.ndarray:
    """An account's `number`-th replacement after fraud (0, 1, …) takes the odd slots: never a renewal's serial."""
    return 2 * np.asarray(number) + 1


def _month_start(absolute_month: np.ndarray) -> np.ndarray:
    return (np.asarray(absolute_month) - 1970 * 12).astype("datetime64[M]").astype("datetime64[D]")


def _bank_bins(rng: np.random.Generator, networks: list[str]) -> np.ndarray:
    rows = []
    for network in networks:
        prefixes = CARD_NETWORK_PREFIXES[network]
        chosen = [prefixes[i] for i in rng.integers(0, len(prefixes), BANK_BINS_PER_NETWORK)]
        rows.append([int(p) * 10 ** (6 - len(p)) + int(rng.integers(0, 10 ** (6 - len(p)))) for p in chosen])
    return np.array(rows, dtype=np.int64)


def account_beneficiaries(scenario: Scenario, block: int, accounts: pa.Table, beneficiaries: pa.Table,
                          planned: pa.Table | None = None) -> pa.Table:
    """The payees each of block `block`'s `accounts` saved before the start (per_account), and those it saves over
    the horizon: new payees of its owner's life (new_per_month, a few high-risk for honest reasons), a remitter's
    family abroad (saved on the salary account when it opened), and `planned` extra rows (account_id,
    beneficiary_id, added_date) that other plans add. `beneficiaries`: the bank's."""
    config, seed = scenario.beneficiaries, scenario.seed
    rng = lambda purpose: stream(seed, "account_beneficiaries", purpose, block)  # noqa: E731
    n_accounts, n_payees = accounts.num_rows, beneficiaries.num_rows
    picks = distinct_per_row(rng("pick"), n_accounts, config.per_account.max, n_payees)
    keep = np.arange(config.per_account.max)[None, :] < rng("count").integers(
        config.per_account.min, config.per_account.max + 1, n_accounts)[:, None]
    account_index, _ = np.nonzero(keep)
    opened = accounts["opened_date"].to_numpy()[account_index].astype("datetime64[D]")
    open_days = (np.datetime64(scenario.start_date, "D") - opened).astype(int)
    # saved while the account was open before the start (one that opens later saves its payees as it goes)
    added = opened + (rng("added").random(account_index.size) * open_days).astype("timedelta64[D]")
    was_open = open_days > 0
    before = (account_index[was_open], picks[keep][was_open], added[was_open])

    start, last = day_number(scenario.start_date), day_number(scenario.horizon_end)
    months = (last - start + 1) / (365.25 / 12)
    new_count = rng("new_count").poisson(config.new_per_month * months, n_accounts)
    account = np.repeat(np.arange(n_accounts), new_count)
    closed = accounts["closed_date"].to_numpy(zero_copy_only=False)
    high_risk = beneficiaries["is_high_risk"].to_numpy(zero_copy_only=False)

    def one_of(pool: np.ndarray, purpose: str) -> np.ndarray:
        picked = rng(purpose).integers(0, max(len(pool), 1), len(account))
        return pool[picked] if len(pool) else picked % n_payees

    payee = np.where(rng("new_risky").random(len(account)) < config.new_high_risk_share,
                     one_of(np.flatnonzero(high_risk), "risky_pick"), one_of(np.flatnonzero(~high_risk), "ordinary_pick"))
    day = (start + rng("new_day").integers(0, last - start + 1, len(account))).astype("datetime64[D]")
    still_open = (pd.isna(closed[account]) | (day < closed[account].astype("datetime64[D]"))) & (
        day >= accounts["opened_date"].to_numpy()[account].astype("datetime64[D]"))
    parts = [before, (account[still_open], payee[still_open], day[still_open]),
             families_abroad(scenario, block, accounts, beneficiaries)]
    if planned is not None and planned.num_rows:
        parts.append((col.row_of(planned["account_id"], accounts["account_id"]),
                      col.row_of_id(planned["beneficiary_id"], beneficiaries["beneficiary_id"]),
                      planned["added_date"].to_numpy().astype("datetime64[D]")))
    account, payee, added = (np.concatenate(columns) for columns in zip(*parts))
    # an account saves a payee once: the earliest addition stands (ties: the order above)
    by_date = np.lexsort((added.astype("datetime64[D]").astype(np.int64), account))
    account, payee, added = account[by_date], payee[by_date], added[by_date]
    links = _first_of_each(account, payee)
    account, payee, added = account[links], payee[links], added[links]
    return schemas.ACCOUNT_BENEFICIARIES.build({
        "account_id": accounts["account_id"].take(pa.array(account)),
        "beneficiary_id": beneficiaries["beneficiary_id"].take(pa.array(payee)),
        "added_date": added.astype("datetime64[D]"),
    })


def families_abroad(scenario: Scenario, block: int, accounts: pa.Table,
                     beneficiaries: pa.Table) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(account row, beneficiary row, added date) of each remitter's family abroad (`remitters.family_abroad`): on
    their salary account, saved when it opened."""
    first, end = Layout.of(scenario).customer_span(block)
    family = family_abroad(scenario, block, cross_border_homes(scenario, block, end - first),
                           beneficiaries["country"].to_numpy(zero_copy_only=False),
                           beneficiaries["beneficiary_type"].to_numpy(zero_copy_only=False))
    salary = np.flatnonzero(accounts["salary_account"].to_numpy(zero_copy_only=False))
    payee = family[col.id_numbers(accounts["customer_id"].take(pa.array(salary))) - first]
    salary, payee = salary[payee >= 0], payee[payee >= 0]
    return salary, payee, accounts["opened_date"].to_numpy()[salary].astype("datetime64[D]")


def _first_of_each(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Positions of the first row of each distinct (a, b) pair, in row order (what pandas' drop_duplicates keeps)."""
    pairs = np.argsort(a.astype(np.int64) * (int(b.max(initial=0)) + 1) + b, kind="stable")  # a pair's rows in order
    a_sorted, b_sorted = a[pairs], b[pairs]
    starts = np.ones(len(pairs), bool)
    starts[1:] = (a_sorted[1:] != a_sorted[:-1]) | (b_sorted[1:] != b_sorted[:-1])
    return np.sort(pairs[starts])
