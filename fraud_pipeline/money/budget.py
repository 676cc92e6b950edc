"""One budget per customer: everything a customer pays out in a month is funded by what comes in.

A customer's income is shared out, in expectation over a month, as
- card purchases: how often they buy (their activity, sized so the population buys the scenario's
  point-of-sale and online volume) times what a basket costs — about `money.card_share_of_income`;
- cash: `money.cash_share_of_income`, more for the customers who use ATMs more (the ATM tilts by age
  and affluence shift cash, not only withdrawals);
- transfers (to payees, once-off and first payments, other customers): `money.transfer_share_of_income`;
- debit orders: `money.bills_share_of_income` (salary accounts with billable payees);
- and what is left, which leaves after payday (savings, family, investments: the sweep).
When a customer's purchases and bills leave less than their cash and transfer shares and a margin
(`money.least_left` of income), those shrink to fit: no customer is budgeted beyond their income, and
every customer has something left that absorbs a dearer month.

Amounts follow counts: a withdrawal's (and a transfer's) median amount is the customer's monthly
cash (transfers) over the withdrawals (transfers) they are expected to make a month, whatever
`per_day` or the channel mix — so outflows grow with income, never with the square of activity.
Withdrawals come in seed 003's runs: who withdraws less than a run every three months takes out at most
three months' cash over a run, not years of it at once (and transfers at most a month's budget at once).

Each account is funded: the salary account receives the income and pays, besides its own payments,
the debit orders, the statement of the customer's credit cards, and the top-ups of their other debit
accounts, which it brings back to their target on the business day after payday. Each account has a
target balance — its buffer plus the month's outflows it funds; on that day the salary account sends
on what it holds above its target. Balances therefore revert to their targets: a customer who spent
more than usual saves less that month, one who spent less saves more.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fraud_pipeline.money.activity import bank_totals, cash_tilt, channel_weights
from fraud_pipeline.scenario import Scenario
from fraud_pipeline.scenario.base import CHANNELS, MONTH_DAYS  # CHANNELS: those with a volume
from fraud_pipeline.world.accounts import STATUS_NAMES
from fraud_pipeline.world.devices import NEVER, day_number
from fraud_pipeline.world.remitters import sent_home


CENTS = 100
CASH_SIGMA = 0.6  # log-normal spread of a withdrawal around its median (assumption)
TRANSFER_SIGMA = 0.9  # log-normal spread of a transfer around its median (assumption)
ARRIVAL_CASH = 3  # travel money on arrival abroad, in the customer's usual withdrawals (assumption)
RUN_MONTHS = 3  # a run of withdrawals spends at most this many months of a rare withdrawer's cash (assumption)
TOP_UP_BUFFER = 0.5  # a topped-up account keeps half a month of its own payments besides them (assumption)


@dataclass(frozen=True)
class Budget:
    """Per account, in cents a month unless said otherwise (expected values over a month)."""

    payments: np.ndarray  # what the account pays itself: purchases, cash, transfers and its debit orders
    funds: np.ndarray  # what it pays in all: a salary account also funds the customer's other accounts
    target: np.ndarray  # cents: the balance it holds after payday — its buffer plus what it funds
    cash_median: np.ndarray  # cents: a withdrawal's median amount (before the log-normal spread)
    transfer_median: np.ndarray  # cents: a transfer's median amount
    saved: np.ndarray  # per customer: what is left of the income a month (cents), swept out after payday
    income: np.ndarray  # per customer, cents a month


PER_CUSTOMER = ("saved", "income")  # the Budget's fields per customer; the others are per account


def expected_counts(volume_per_day: float, weight: np.ndarray, total: float) -> np.ndarray:
    """Per account: how many rows a month a channel of `volume_per_day` rows gives it, drawn by `weight` out of the
    bank's `total` weight (`layout.blockwise_sum` of the bank's weights)."""
    return volume_per_day * MONTH_DAYS * weight / total if total > 0 else np.zeros(len(weight))


def monthly_budget(scenario: Scenario, *, income: np.ndarray, account_customer: np.ndarray, spends: np.ndarray,
                   salary: np.ndarray, credit: np.ndarray, funded: np.ndarray, keep: np.ndarray,
                   counts: dict[str, np.ndarray], avg_spend: np.ndarray, cash_tilt: np.ndarray,
                   first_payments: np.ndarray, bills: np.ndarray, sent_home: np.ndarray | None = None) -> Budget:
    """The budget of every account.

    Per customer: `income` (currency units a month), `avg_spend` (a purchase's expected amount), `cash_tilt` (how
    much more of their income than the population's share they take in cash). Per account: `spends` (its payments
    can be approved: active), `salary`, `credit`, `funded` (a debit account the salary account tops up), `keep`
    (cents: a salary account's buffer; the least a funded account is topped up to — its opening savings),
    `counts` (expected rows a month per channel name), `first_payments` (expected first payments to new payees a
    month), `bills` (cents a month of debit orders). Per customer, `sent_home` (cents a month a remitter sends home
    from their salary account: a commitment like the bills; none by default).
    """
    m = scenario.money
    atm = scenario.card_transactions.atm
    run_length = (atm.sequence_length.min + atm.sequence_length.max) / 2
    n_customers = len(income)
    income_cents = np.asarray(income, float) * CENTS
    c = account_customer
    per_customer = lambda values: np.bincount(c, weights=values, minlength=n_customers)  # noqa: E731
    live = spends.astype(float)
    purchases = (counts["pos"] + counts["online"]) * avg_spend[c] * CENTS * live
    withdrawals = counts["atm"] * live
    transfers = (counts["transfer"] + first_payments) * live
    bills = np.asarray(bills, float) * live
    home = np.zeros(n_customers) if sent_home is None else np.asarray(sent_home, float)
    spent = per_customer(purchases) + per_customer(bills) + home
    cash = m.cash_share_of_income * income_cents * cash_tilt * (per_customer(withdrawals) > 0)
    sent = m.transfer_share_of_income * income_cents * (per_customer(transfers) > 0)
    # no customer is budgeted beyond their income less a margin: what is left each month absorbs a dearer month
    room = np.maximum((1 - m.least_left) * income_cents - spent, 0)
    shrink = np.minimum(1.0, room / np.maximum(cash + sent, 1e-9))
    cash, sent = cash * shrink, sent * shrink
    # withdrawals come in runs: who withdraws rarely takes out at most RUN_MONTHS of cash over a run; a month's
    # transfers come in at least one transfer (they save the rest)
    per_withdrawal = cash / np.maximum(per_customer(withdrawals), run_length / RUN_MONTHS)
    per_transfer = sent / np.maximum(per_customer(transfers), 1.0)
    payments = purchases + withdrawals * per_withdrawal[c] + transfers * per_transfer[c] + bills + np.where(
        salary, home[c], 0.0)
    # the salary account pays the statement of the customer's credit cards and tops up their other debit accounts
    credit_owed = per_customer(np.where(credit & ~salary, payments, 0.0))[c]
    topped_up = per_customer(np.where(funded, payments, 0.0))[c]
    funds = payments + np.where(salary, credit_owed + topped_up, 0.0)
    target = np.where(salary, keep + payments + credit_owed,
                      np.where(funded, np.maximum(keep, (1 + TOP_UP_BUFFER) * payments), 0.0))
    saved = np.maximum(income_cents - spent - per_customer(withdrawals) * per_withdrawal
                       - per_customer(transfers) * per_transfer, 0)
    return Budget(payments=payments, funds=funds, target=np.round(target).astype(np.int64),
                  cash_median=per_withdrawal[c] / np.exp(CASH_SIGMA ** 2 / 2),
                  transfer_median=per_transfer[c] / np.exp(TRANSFER_SIGMA ** 2 / 2),
                  saved=saved, income=income_cents)


def of(world) -> Budget:
    """The world's budget (computed once per world)."""
    key = ("budget",)
    if key in world.caches:
        return world.caches[key]
    s = world.scenario
    c = s.card_transactions
    weights = channel_weights(world)
    bank = bank_totals(world).channels  # a block's share of the bank's volume is its share of these
    counts = {name: expected_counts(c.per_day * c.channels.get(name, 0.0), weights[i], bank[i])
              for i, name in enumerate(CHANNELS)}
    counts["atm"] = counts["atm"] + np.where(world.salary, trip_withdrawals_per_month(world)[world.account_customer], 0)
    spends = world.status == STATUS_NAMES.index("active")
    salary_of = world.salary_of[world.account_customer]
    funded = spends & ~world.salary & ~world.credit & (salary_of >= 0)
    start, last = day_number(s.start_date), day_number(s.horizon_end)
    account_of_payee = np.repeat(np.arange(world.n_accounts), np.diff(world.payee_offsets))
    planned = (world.payee_added >= start) & (world.payee_first_paid < NEVER)
    first_payments = np.bincount(account_of_payee[planned], minlength=world.n_accounts) / (
        (last - start + 1) / MONTH_DAYS)
    bills = np.bincount(world.bills["account"].to_numpy(), weights=world.bills["cents"].to_numpy(),
                        minlength=world.n_accounts)
    keep = np.where(world.salary, world.buffer, np.maximum(world.opening, 0))
    found = monthly_budget(s, income=world.income, account_customer=world.account_customer, spends=spends,
                           salary=world.salary, credit=world.credit, funded=funded, keep=keep, counts=counts,
                           avg_spend=world.avg_spend, cash_tilt=cash_tilt(world), first_payments=first_payments,
                           bills=bills, sent_home=sent_home(world))
    world.caches[key] = found
    return found


def trip_withdrawals_per_month(world) -> np.ndarray:
    """Per customer: the `genuine.trip_cash` withdrawals expected a month over the horizon (in usual withdrawals'
    worth: travel money on arrival counts ARRIVAL_CASH)."""
    s = world.scenario
    t = world.trips
    cash = s.travel.trip_cash
    days = (t.last_day - t.first_day + 1).astype(float)
    expected = np.where(t.abroad, ARRIVAL_CASH * cash.on_arrival + cash.per_day * (days - 1), 0.0)
    months = (day_number(s.horizon_end) - day_number(s.start_date) + 1) / MONTH_DAYS
    return np.bincount(t.customer, weights=expected, minlength=world.n_customers) / months
