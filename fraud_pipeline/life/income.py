"""Money that comes into the bank from outside: income by kind, side hustles, large one-offs, and cash banked.

Income arrives as its kind (`customers.income_kind`, by occupation): a salary, a pension, a social grant, a
parent's transfer from another bank (a student's allowance) or client payments (the self-employed's: several a
month on business days, each from whoever the client is). A share of client payments is cash the customer banks
(`customers.cash_takings`): notes at a deposit-taking ATM near home, or at a branch. Besides income, some
customers are paid by many unrelated people through other banks (a side hustle) and a few receive a large
one-off (a car sold, a bonus, an inheritance: `inflows`). These are the genuine twins of laundering's shapes
(issue 24, `docs/aml-design.md` step 3): fan-in of unrelated payers, a sudden large credit, cash banked in notes.

A credit's payer outside the bank is a beneficiary row (`beneficiary_id` of a credit names who sent it): parents
are individuals, clients individuals or businesses. Salaries, pensions and grants name no payer yet (employers
come with business customers, step 2). Everything lands in the customer's salary account, so the budget's sweep
(`engine.day.sweeps`) carries what is left over out again and balances stay near their targets.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np

from fraud_pipeline.core.columns import positions
from fraud_pipeline.core.rows import (ATM, BRANCH, CASH_DEPOSIT, CLIENT_PAYMENT, GRANT, NONE, PENSION, SALARY,
                                      TRANSFER, TRANSFER_IN, Rows, concat, make)
from fraud_pipeline.core.splits import uneven_shares
from fraud_pipeline.core.streams import stream
from fraud_pipeline.core.timeline import MS_PER_DAY, MS_PER_HOUR, arrival_lag_ms, day_start_ms, times_in_hours
from fraud_pipeline.scenario.base import MONTH_DAYS
from fraud_pipeline.scenario.population import INCOME_KINDS, PAY_SCHEDULES
from fraud_pipeline.world import calendar, spending
from fraud_pipeline.world.build import STATUS_NAMES, World
from fraud_pipeline.life.card_takings import last_weeks_sales, settlements, terminals
from fraud_pipeline.life.cash_out import in_hours
from fraud_pipeline.life.between_customers import other_customers
from fraud_pipeline.life.estates import days_of_parts, heirs_paid
from fraud_pipeline.life.payments import beneficiaries_of, individuals_or_businesses, outside_parties, transfers_out
from fraud_pipeline.life.genuine import (city_place, open_accounts, paid_today, pays, receives, rng_for,
                                         scheduled_times, usual_atm)
from fraud_pipeline.world.devices import day_number
from fraud_pipeline.world.openings import opened_for

# the transaction type of each income kind (INCOME_KINDS order)
KIND_TYPES = np.array([SALARY, PENSION, GRANT, TRANSFER_IN, CLIENT_PAYMENT])
IRREGULAR_SIGMA = 0.3  # log-normal spread of an irregular earner's month around their income (assumption)
PAY_SIGMA = 0.04  # log-normal spread of a month's net salary around the income (assumption: overtime, deductions)
BRANCH_HOURS = (9, 15)  # a branch's counter hours on a weekday (assumption: SA banks' usual 09:00–15:30)
# when notes are banked at an ATM, by hour: mostly by day, some in the evening and at night (assumption)
ATM_DEPOSIT_HOURS = np.r_[np.full(6, 0.15), np.ones(4), np.full(8, 2.0), np.ones(4), np.full(2, 0.4)]
ATM_DEPOSIT_DELAY_DAYS = 3  # takings reach an ATM the day they are paid or on one of the next two (weekends too)
CLIENTS = (3, 8)  # a self-employed customer's regular clients (assumption): most payments come from them
SUPPLIERS = (1, 3)  # a trader's wholesalers (assumption)
REGULAR_CLIENT_SHARE = 0.7  # ... the rest from one-off clients
LEAST_CLIENT_PAYMENT = 5000  # cents: the smallest client payment (R50)
PEOPLE_AND_BUSINESSES = ("individual", "merchant")


def income_day(world: World, day: date) -> Rows:
    """Every credit from outside the bank that happens on `day` (event time), with its arrival time: income, side
    hustles' payments and one-offs; then what is soon paid out of banked cash and one-offs (`_supplier_money`,
    `spent_soon`, an estate shared among relatives `life.estates.heirs_paid`: event times today or in the days
    after, which the bank's day carries until they arrive)."""
    earned, to_suppliers = income(world, day)
    large, estates = one_offs(world, day)
    shared, heirs = heirs_paid(world, day, rng_for(world, day), *estates)
    spendable = large.take(np.flatnonzero(~np.isin(large.account, shared)))  # a shared estate goes to the family
    rows = concat([earned, side_hustles(world, day), large, to_suppliers, spent_soon(world, day, spendable), heirs,
                   payroll(world, day), settlements(world, day), wholesale_of_card_sales(world, day)])
    lag = world.scenario.card_transactions.arrival_lag_seconds
    rows.arrival_ms = rows.event_ms + arrival_lag_ms(rng_for(world, day)("income_lag"), len(rows), lag.median,
                                                     lag.sigma, lag.max)
    return rows


def wholesale_of_card_sales(world: World, day: date) -> Rows:
    """What businesses pay their wholesalers out of last week's card sales (`card_takings.last_weeks_sales`), on the
    week's first business day: what the owner does not keep of the week's settlements, one payment per business
    (`business_outgoings`, 0–3 days after the start of the day)."""
    sales = last_weeks_sales(world, day)
    keeps = np.round(sales.cents / turnover_multiple(world)[world.account_customer[sales.account]])
    account, which = np.unique(sales.account, return_inverse=True)
    owed = np.round(np.bincount(which, sales.cents - keeps, len(account))).astype(np.int64)
    return business_outgoings(world, day, lambda purpose: rng_for(world, day)(f"card_wholesale_{purpose}"),
                              account, np.full(len(account), day_start_ms(day)), owed)


def spent_soon(world: World, day: date, large: Rows) -> Rows:
    """What people pay out of a large credit within days (`inflows.spent_soon.one_off`): a share of the one-offs
    `large` buys a car, settles a debt or is invested — a transfer of `part` of the credit to a business outside the
    bank, or (`to_customers` of them) to another of our customers (a relative's house deposit, a private seller), `days`
    after it (then a few hours into the day), from the customer's device. With the suppliers paid from
    banked cash (`_supplier_money`), the genuine twin of a mule's rapid exit: without it a credit followed by its
    own size going out would be laundering's alone."""
    rng = rng_for(world, day)
    c = world.scenario.inflows.spent_soon.one_off
    spent = large.take(np.flatnonzero(rng("spent").random(len(large)) < c.share))
    # open until the latest such transfer settles: `days` after a credit, within the day following, then overnight
    ours = other_customers(world, day, rng, "spent_ours", spent.account, NONE,
                           spent.event_ms // MS_PER_DAY + c.days.max + 2)
    ours = np.where(rng("spent_to_ours").random(len(spent)) < c.to_customers, ours, NONE)
    business = outside_parties(world, rng("spent_payee"), len(spent), ("merchant",))
    return paid_on(world, day, rng, "spent", spent.account, spent.event_ms, spent.cents, c,
                   np.where(ours >= 0, NONE, business), ours)


def paid_on(world: World, day: date, rng, purpose: str, account: np.ndarray, after_ms: np.ndarray,
            cents: np.ndarray, rule, payee: np.ndarray, counterparty: np.ndarray | None = None) -> Rows:
    """Transfers from `account` to the businesses `payee` outside the bank (or, where `payee` is NONE, to the bank's
    accounts `counterparty`): `rule.part` of `cents`, typed, `rule.days`
    after `after_ms` and at least an hour after that, within the day following, at the hours people pay (a credit
    late at night is paid on the next morning, not an hour later), from the customer's device (drawn on `day`); the
    draws are the streams `purpose`_part, _days, _time, _hour, _ms, _device and _typed."""
    n = len(account)
    part = rng(f"{purpose}_part").uniform(rule.part.min, rule.part.max, n)
    days = rng(f"{purpose}_days").integers(rule.days.min, rule.days.max + 1, n)
    earliest = after_ms + days * MS_PER_DAY + MS_PER_HOUR
    planned = earliest + rng(f"{purpose}_time").integers(0, 7 * MS_PER_HOUR, n)
    event = in_hours(world, rng, purpose, planned, earliest, earliest + MS_PER_DAY - 1, "transfer")
    return transfers_out(world, day, rng, purpose, account, event, np.round(cents * part), payee, counterparty)


def cash_takings(world: World) -> np.ndarray:
    """Per customer: the share of their client payments they bank in notes (`customers.cash_takings` by occupation;
    0 for occupations it does not name)."""
    c = world.scenario.customers
    return np.array([c.cash_takings.get(o, 0.0) for o in c.occupation])[world.occupation]


def in_notes(world: World, cents: np.ndarray) -> np.ndarray:
    """Per payment of `cents`: how likely it is to be paid in notes, relative to a small one — 1 up to
    `inflows.cash_deposits.large`, falling as (large / amount)² above it, since large sums are paid by EFT."""
    large = world.scenario.inflows.cash_deposits.large * 100
    return np.minimum(1.0, (large / np.maximum(cents, 1)) ** 2)


def income_kinds(world: World) -> np.ndarray:
    """Per customer: how their income arrives, an index into INCOME_KINDS (from their occupation)."""
    c = world.scenario.customers
    return np.array([INCOME_KINDS.index(c.income_kind[o]) for o in c.occupation], np.int64)[world.occupation]


def income(world: World, day: date) -> tuple[Rows, Rows]:
    """Incomes on their paydays, each as its kind; irregular earners' client payments on random business days, a
    share of them cash banked (`bank_cash`), and of those a share banked with a supplier's money, which is paid on
    within days (`_supplier_money`). Returns (the credits, the payments to suppliers)."""
    s, rng = world.scenario, rng_for(world, day)
    salary_account = np.flatnonzero(world.salary & open_accounts(world, day))
    customer = world.account_customer[salary_account]
    paid = paid_today(world, day)[customer]
    cents = np.round(world.income[customer] * 100).astype(np.int64)
    account, amount = salary_account[paid], cents[paid]
    irregular = world.schedule[customer] == PAY_SCHEDULES.index("irregular")
    if irregular.any() and calendar.is_business_day(s, day):
        month = stream(s.seed, "genuine", f"{day:%Y-%m}", "irregular", *world.block_key)
        business_days = [d for d in (day.replace(day=1) + timedelta(days=i) for i in range(31))
                         if d.month == day.month and calendar.is_business_day(s, d)]
        credits = s.customers.irregular_credits
        today, part = _credits_today(month, len(salary_account), credits, credits.max, business_days, day)
        # a good month and a lean one: the month's total varies around the income (mean 1; assumption)
        swing = month.lognormal(-IRREGULAR_SIGMA ** 2 / 2, IRREGULAR_SIGMA, len(salary_account))
        today &= irregular
        # a business is paid more often: `customers.business.credits` a month, at most one a business day
        business = np.flatnonzero(irregular & world.business[salary_account])
        if len(business):
            more = stream(s.seed, "genuine", f"{day:%Y-%m}", "business_credits", *world.block_key)
            today[business], part[business] = _credits_today(more, len(business), s.customers.business.credits,
                                                              len(business_days), business_days, day)
        account = np.concatenate([account, salary_account[today]])
        amount = np.concatenate([amount, np.round(cents[today] * swing[today] * part[today]).astype(np.int64)])
    n = len(account)
    customer = world.account_customer[account]
    kind = KIND_TYPES[income_kinds(world)[customer]]
    # net pay moves a little from month to month (overtime, shifts, deductions), to the cent: mean the income
    waged = kind == SALARY
    amount[waged] = np.round(amount[waged] * rng("pay_variation").lognormal(
        -PAY_SIGMA ** 2 / 2, PAY_SIGMA, int(waged.sum()))).astype(np.int64)
    event = scheduled_times(rng("income_time"), n, day)
    payer = np.full(n, NONE)
    # a client pays when they pay (EFTs clear through the day), not in the bank's night batch
    paid_by_client = kind == CLIENT_PAYMENT
    event[paid_by_client] = times_in_hours(rng("client_time"), int(paid_by_client.sum()), 0,
                                           s.card_transactions.hourly["transfer"], day_start_ms(day))
    family = kind == TRANSFER_IN
    payer[family] = parents(world)[customer[family]]
    clients = np.flatnonzero(kind == CLIENT_PAYMENT)
    payer[clients] = _client_payers(world, rng, customer[clients])
    # a business that takes cards is paid that part of its turnover by its acquirer (`card_takings.settlements`)
    amount[clients] = np.maximum(np.round(amount[clients] * (1 - terminals(world)[1][customer[clients]])),
                                 LEAST_CLIENT_PAYMENT)
    # a business's clients pay its turnover: the owner keeps their income of it and pays the rest on
    kept = amount[clients]
    amount[clients] = np.round(kept * turnover_multiple(world)[customer[clients]]).astype(np.int64)
    rows = make(n, account=account, channel=TRANSFER, kind=kind, event_ms=event, cents=amount, payee=payer,
                place=city_place(world, world.home_city[customer]))
    banked = clients[rng("income_cash").random(len(clients))
                     < cash_takings(world)[customer[clients]] * in_notes(world, amount[clients])]
    owed = amount[clients] - kept  # before the cash is banked (`_supplier_money` adds stock money to `rows` in place)
    rows, to_suppliers = _supplier_money(world, rng, rows, banked, day)
    business = clients[owed > 0]
    paid_on = business_outgoings(world, day, lambda purpose: rng(f"business_{purpose}"), rows.account[business],
                                 rows.event_ms[business], owed[owed > 0])
    return rows, concat([to_suppliers, paid_on])


def _credits_today(month: np.random.Generator, n: int, credits, shares: int, business_days: list[date],
                   day: date) -> tuple[np.ndarray, np.ndarray]:
    """For `n` earners on `day`, one of the month's `business_days`: whether a client pays today, and that payment's
    share of the month's takings — `credits` (an IntRange, at most one a business day) payments a month on distinct
    business days, their shares the first of `shares` Dirichlet draws. Draws from `month` (the month's stream):
    the counts, the days, then the shares."""
    count = np.minimum(month.integers(credits.min, credits.max + 1, n), len(business_days))
    chosen = month.random((n, len(business_days))).argsort(axis=1) < count[:, None]
    share = month.dirichlet(np.ones(shares), n)
    position = business_days.index(day)
    slot = chosen[:, :position + 1].sum(axis=1) - 1
    part = share[np.arange(n), np.minimum(slot, shares - 1)]
    return chosen[:, position], part / np.take_along_axis(np.cumsum(share, axis=1), (count - 1)[:, None], 1)[:, 0]


def payroll(world: World, day: date) -> Rows:
    """On the private sector's payday (`day_25`), each open, active business account pays its staff their fixed
    monthly wages (`payroll_of`), from the business owner's device, through the day's transfer hours."""
    if calendar.days_since_payday(world.scenario, "day_25", day) != 0:
        return make(0)
    rng = rng_for(world, day)
    account = np.flatnonzero(world.business & open_accounts(world, day)
                             & (world.status == STATUS_NAMES.index("active")))
    staff, wage = payroll_of(world)
    customer = world.account_customer[account]
    count = (wage[customer] > 0) * staff[1][customer]
    payer = np.repeat(account, count)
    who = np.repeat(customer, count)
    payee = staff[0][who, positions(count)]
    start = np.full(len(payer), day_start_ms(day))
    event = in_hours(world, rng, "payroll", start, start, start + MS_PER_DAY - 1, "transfer")
    return transfers_out(world, day, rng, "payroll", payer, event, wage[who], payee, typed=False)


def payroll_of(world: World) -> tuple[tuple[np.ndarray, np.ndarray], np.ndarray]:
    """Per customer: their business's staff — ((customers, staff.max) beneficiary rows, how many are employed:
    the month's wage bill at about `wage` each, within `staff`) — and each one's fixed monthly wage in cents: the
    bill (`wages_share` of what the business pays on in a month, its turnover less the owner's income) split evenly,
    in whole rand; 0 for customers without a business."""
    key = ("payroll",)
    if key not in world.caches:
        b = world.scenario.customers.business
        people = regular_pool(world, "staff", (b.staff.min, b.staff.max), ("individual",))[0]
        bill = b.wages_share * np.maximum(world.turnover - world.income, 0.0)
        employed = np.clip(np.ceil(bill / b.wage), b.staff.min, b.staff.max).astype(np.int64)
        world.caches[key] = ((people, employed), (np.floor(bill / employed) * 100).astype(np.int64))
    return world.caches[key]


def turnover_multiple(world: World) -> np.ndarray:
    """Per customer: what their clients pay a month over what they keep — their business's turnover over their
    income (`customers.monthly_turnover`), 1 for customers without a business."""
    return np.where(world.income > 0, world.turnover / np.maximum(world.income, 1e-9), 1.0)


def business_outgoings(world: World, day: date, rng, account: np.ndarray, after_ms: np.ndarray,
                       cents: np.ndarray) -> Rows:
    """A business's payments to its wholesalers out of its takings (`customers.business`): of each credit to
    `account` at `after_ms`, of `cents` (what its owner does not keep) all but the `wages_share` set aside for the
    month's payroll (`payroll`) and the shares of its fixed costs (`life.business_costs`; together `set_aside`)
    leaves `paid_on` days later at an hour people pay, to one of the business's wholesalers (the trader's suppliers
    of `_supplier_money`), typed, from the owner's device. With the payroll, the genuine twin of a front's and of
    untyped laundering's outgoings: money many times the owner's income passing
    through to suppliers and wages."""
    b = world.scenario.customers.business
    n = len(account)
    later = (after_ms // MS_PER_DAY + rng("days").integers(b.paid_on.min, b.paid_on.max + 1, n)) * MS_PER_DAY
    event = in_hours(world, rng, "wholesale", later, np.maximum(later, after_ms + MS_PER_HOUR // 6),
                     later + MS_PER_DAY - 1, "transfer")
    wholesaler = regular_parties(world, "suppliers", rng, world.account_customer[account], SUPPLIERS, ("merchant",),
                                 1.0)
    return transfers_out(world, day, rng, "wholesale", account, event, np.round(cents * (1 - b.set_aside)),
                         wholesaler)


def _supplier_money(world: World, rng, rows: Rows, banked: np.ndarray, day: date) -> tuple[Rows, Rows]:
    """`rows` with those at `banked` banked as cash (`bank_cash`), a `supplier.share` of them together with stock
    money (`stock` times the trader's monthly income: what they collect to pay a wholesaler), and the payments of
    that money to a supplier (`part` of it, `days` after the deposit, a few hours into the day, to one of the
    trader's 1–3 wholesalers outside the bank, from the trader's device). The stock money comes in and goes out, so
    the budget is untouched: the genuine twin of deposit-and-send (a deposit followed by most of it going out)."""
    c = world.scenario.inflows.spent_soon.supplier
    income = world.income[world.account_customer[rows.account[banked]]] * 100
    money = np.round(income * rng("stock_size").uniform(c.stock.min, c.stock.max, len(banked)))
    # the more notes in all, the likelier the wholesaler is paid by EFT instead (`in_notes`)
    with_stock = rng("stock").random(len(banked)) < c.share * in_notes(world, rows.cents[banked] + money)
    stock, money = banked[with_stock], money[with_stock]
    rows.cents[stock] += money.astype(np.int64)
    rows = bank_cash(world, rng, rows, banked, day)
    account = rows.account[stock]
    payee = regular_parties(world, "suppliers", rng, world.account_customer[account], SUPPLIERS, ("merchant",), 1.0)
    return rows, paid_on(world, day, rng, "supplier", account, rows.event_ms[stock], money, c, payee)


def bank_cash(world: World, rng, rows: Rows, banked: np.ndarray, day: date, atm_share: float | None = None,
              branch_elsewhere: float | None = None) -> Rows:
    """`rows` with those at `banked` turned into cash the customer banks: notes at one of their usual ATMs that day or
    on one of the next two, at any hour (up to `atm_max`), or at a branch in counter hours that day (at the row's
    `place`, or for `branch_elsewhere` of them at a branch in another
    town of the province); in notes either way, a whole number of `atm_note` (the smallest). `atm_share`,
    `branch_elsewhere`: default `inflows.cash_deposits`' own. Laundering's cash
    placement calls it too (`aml.placement`): one way to bank notes."""
    c = world.scenario.inflows.cash_deposits
    atm_share = c.atm_share if atm_share is None else atm_share
    branch_elsewhere = c.branch_elsewhere if branch_elsewhere is None else branch_elsewhere
    n = len(banked)
    note = round(c.atm_note * 100)
    cents = rows.cents[banked]
    # branches count cash on business days; on other days the notes go into an ATM (at most its limit)
    open_branch = calendar.is_business_day(world.scenario, day)
    at_atm = ((rng("cash_where").random(n) < atm_share) & (cents <= round(c.atm_max * 100)) | (not open_branch)) & (
        cents >= note)  # a boolean mask (`~` of Python's bool is an integer)
    # notes, whole numbers of the smallest, at an ATM (up to its limit) and at a counter alike (floored: what a
    # teller counts never exceeds what was brought, so a deposit kept below a threshold stays below it)
    cents = np.maximum(np.where(at_atm, np.minimum(cents, round(c.atm_max * 100)), cents) // note * note, note)
    customer = world.account_customer[rows.account[banked]]
    atm = usual_atm(world, customer, rng("cash_atm").random(n))
    start = day_start_ms(day)
    branch_time = start + rng("cash_branch_time").integers(BRANCH_HOURS[0] * MS_PER_HOUR, BRANCH_HOURS[1] * MS_PER_HOUR,
                                                           n)
    atm_time = times_in_hours(rng("cash_atm_time"), n, 0, ATM_DEPOSIT_HOURS, start) + rng("cash_atm_day").integers(
        0, ATM_DEPOSIT_DELAY_DAYS, n) * MS_PER_DAY
    rows.kind[banked] = CASH_DEPOSIT
    rows.channel[banked] = np.where(at_atm, ATM, BRANCH)
    rows.cents[banked] = cents
    rows.original_cents[banked] = cents
    rows.payee[banked] = NONE
    rows.merchant[banked] = np.where(at_atm, atm, NONE)
    rows.place[banked] = np.where(at_atm, atm, rows.place[banked])
    rows.card[banked] = at_atm
    rows.event_ms[banked] = np.where(at_atm, atm_time, branch_time)
    elsewhere = banked[~at_atm & (rng("cash_elsewhere").random(n) < branch_elsewhere)]
    home = world.home_city[world.account_customer[rows.account[elsewhere]]]
    rows.place[elsewhere] = city_place(world, other_towns(world, rng("cash_town"), home, 1)[:, 0])
    return rows


def other_towns(world: World, rng: np.random.Generator, home: np.ndarray, k: int) -> np.ndarray:
    """(len(home), k): for each row, `k` towns of its `home` city's province other than it, in a random order —
    distinct while the province has them, then repeating (the home town itself in a province of one)."""
    key = ("province_towns",)
    if key not in world.caches:
        n_cities = len(world.city_lat) - len(world.foreign_shops)
        province = np.asarray(world.city_province.to_pylist()[:n_cities], object)
        world.caches[key] = [np.flatnonzero((province == province[h]) & (np.arange(n_cities) != h))
                             for h in range(n_cities)]
    towns = world.caches[key]
    found = np.empty((len(home), k), np.int64)
    for i, h in enumerate(home):  # a handful of rows a day
        others = towns[h] if len(towns[h]) else np.array([h])
        found[i] = others[rng.permutation(len(others))][np.arange(k) % len(others)]
    return found


def side_hustles(world: World, day: date) -> Rows:
    """Payments from other banks' customers to the `inflows.side_hustle.share` of customers who sell something:
    each month's count drawn per seller, a day's count Poisson, each payment from an unrelated individual (a random
    beneficiary row), in the day's transfer hours, typed as people type amounts; `cash_share` of them paid in notes
    the seller banks (`bank_cash`)."""
    s, rng = world.scenario, rng_for(world, day)
    h = s.inflows.side_hustle
    seller, per_month = side_hustlers(world)
    account = world.salary_of.copy()
    # a customer who opened an account for it during the run is paid into that one, from the day after it opens
    opened = np.flatnonzero(opened_for(world, "side_hustle") & pays(world, day))
    seller[world.account_customer[opened]] = True
    account[world.account_customer[opened]] = opened
    seller &= account >= 0
    seller[seller] &= receives(world, day)[np.maximum(account, 0)[seller]]
    count = rng("hustle_count").poisson(np.where(seller, per_month / MONTH_DAYS, 0.0))
    customer = np.repeat(np.arange(world.n_customers), count)
    n = len(customer)
    cents = spending.typed_amount(rng("hustle_typed"), rng("hustle_amount").lognormal(np.log(h.amount.median * 100),
                                                                                      h.amount.sigma, n))
    event = times_in_hours(rng("hustle_time"), n, 0, s.card_transactions.hourly["transfer"], day_start_ms(day))
    rows = make(n, account=account[customer], channel=TRANSFER, kind=TRANSFER_IN, event_ms=event, cents=cents,
                payee=outside_parties(world, rng("hustle_payer"), n, ("individual",)),
                place=city_place(world, world.home_city[customer]))
    cash = np.flatnonzero(rng("hustle_cash").random(n) < h.cash_share)  # paid in notes, banked later
    return bank_cash(world, lambda purpose: rng(f"hustle_{purpose}"), rows, cash, day)


def side_hustlers(world: World) -> tuple[np.ndarray, np.ndarray]:
    """Per customer: whether they sell something on the side (`inflows.side_hustle.share`), and how many payments a
    month their buyers make (`payments_per_month`) — the same all year (copies: callers may change them)."""
    key = ("side_hustlers",)
    if key not in world.caches:
        h = world.scenario.inflows.side_hustle
        static = stream(world.scenario.seed, "income", "side_hustle", *world.block_key)
        seller = static.random(world.n_customers) < h.share
        world.caches[key] = (seller, static.integers(h.payments_per_month.min, h.payments_per_month.max + 1,
                                                     world.n_customers))
    seller, per_month = world.caches[key]
    return seller.copy(), per_month


def one_offs(world: World, day: date) -> tuple[Rows, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Large credits from outside (`inflows.one_off`): each customer with a salary account here has
    `per_customer_per_year` of them a year, and each dormant account `dormant_per_year` (money parked in an old
    account: the genuine twin of a dormant account's reactivation), lognormal amounts up to `max`, from an
    individual (a car's buyer) or, `from_businesses` of them, a business (an employer's bonus, an insurer's claim,
    a dealer, a tax refund), through the day. A share of those
    into dormant accounts come in parts (`dormant_tranches`: an estate or a policy paid out by several payers): the
    first part that day, the others on days after it within a span of 1..`days` days (as a dormant layer's credits,
    `estates.days_of_parts`), each from its own payer (`from_businesses` of them
    a business), the amount split unevenly among them. Returns the credits, and per estate paid in parts its account,
    last part's time (ms) and cents."""
    s, rng = world.scenario, rng_for(world, day)
    o = s.inflows.one_off
    salary = world.salary_of
    eligible = (salary >= 0) & receives(world, day)[np.maximum(salary, 0)]
    customer = np.flatnonzero(eligible & (rng("one_off").random(world.n_customers) < o.per_customer_per_year / 365.25))
    dormant = open_accounts(world, day) & (world.status == STATUS_NAMES.index("dormant"))
    woken = np.flatnonzero(dormant & (rng("one_off_dormant").random(world.n_accounts) < o.dormant_per_year / 365.25))
    account = np.r_[salary[customer], woken]
    customer = world.account_customer[account]
    n = len(account)
    cents = np.minimum(rng("one_off_amount").lognormal(np.log(o.amount.median * 100), o.amount.sigma, n),
                       o.max * 100)
    cents = spending.typed_amount(rng("one_off_typed"), cents)  # as the payer typed it
    event = times_in_hours(rng("one_off_time"), n, 0, s.card_transactions.hourly["transfer"], day_start_ms(day))
    t = o.dormant_tranches
    estate = np.flatnonzero((np.arange(n) >= len(account) - len(woken)) & (rng("tranches").random(n) < t.share))
    parts = rng("tranche_count").integers(t.count.min, t.count.max + 1, len(estate))
    whose = np.repeat(estate, parts)
    share = uneven_shares(rng("tranche_share"), whose)
    span = rng("tranche_span").integers(1, t.days + 1, len(estate))
    later = days_of_parts(lambda p: rng(f"tranche_{p}"), parts, span)
    # each later part at its own payer's hour of its day
    hour = times_in_hours(rng("tranche_time"), len(whose), 0, s.card_transactions.hourly["transfer"],
                          day_start_ms(day))
    row = np.r_[np.setdiff1d(np.arange(n), estate), whose]
    cents = np.r_[np.delete(cents, estate), spending.typed_amount(rng("tranche_typed"), cents[whose] * share)]
    event = np.r_[np.delete(event, estate), np.where(later == 0, event[whose], hour + later * MS_PER_DAY)]
    # an estate's parts mostly from its attorney's trust account, an insurer or a fund; other one-offs from a business
    # (`from_businesses`: a bonus, an insurer, a dealer, a refund) or a person
    payer = np.r_[individuals_or_businesses(world, lambda p: rng(f"one_off_{p}"), len(row) - len(whose),
                                            o.from_businesses),
                  individuals_or_businesses(world, lambda p: rng(f"tranche_{p}"), len(whose), t.from_businesses)]
    rows = make(len(row), account=account[row], channel=TRANSFER, kind=TRANSFER_IN, event_ms=event, cents=cents,
                payee=payer, place=city_place(world, world.home_city[customer[row]]))
    part_of = np.repeat(np.arange(len(estate)), parts)  # the parts are the last rows, estate by estate
    last = np.zeros(len(estate), np.int64)
    np.maximum.at(last, part_of, event[len(row) - len(whose):])
    paid = np.bincount(part_of, weights=cents[len(row) - len(whose):], minlength=len(estate))
    return rows, (account[estate], last, paid)


def parents(world: World) -> np.ndarray:
    """Per customer: the beneficiary row (an individual) who pays them if their income is family money — the same
    parent every month."""
    key = ("parents",)
    if key not in world.caches:
        people = beneficiaries_of(world, ("individual",))
        u = stream(world.scenario.seed, "income", "parents", *world.block_key).random(world.n_customers)
        world.caches[key] = people[(u * len(people)).astype(np.int64)] if len(people) else np.full(
            world.n_customers, NONE)
    return world.caches[key]


def _client_payers(world: World, rng, customer: np.ndarray) -> np.ndarray:
    """Who pays each client payment of `customer`: mostly one of the customer's regular clients (`CLIENTS`, the same
    all year), else a one-off client."""
    return regular_parties(world, "clients", rng, customer, CLIENTS, PEOPLE_AND_BUSINESSES, REGULAR_CLIENT_SHARE)


def regular_parties(world: World, purpose: str, rng, customer: np.ndarray, count: tuple[int, int],
                     kinds: tuple[str, ...], regular_share: float) -> np.ndarray:
    """Per row of `customer`: one of the customer's `count` regular parties outside the bank (beneficiaries of the
    types `kinds`, drawn once per customer for `purpose`, the same all year) with probability `regular_share`,
    else a party of those types met once."""
    regular, how_many = regular_pool(world, purpose, count, kinds)
    n = len(customer)
    which = (rng(f"{purpose}_slot").random(n) * how_many[customer]).astype(np.int64)
    once = outside_parties(world, rng(f"{purpose}_once"), n, kinds)
    return np.where(rng(f"{purpose}_regular").random(n) < regular_share, regular[customer, which], once)


def regular_pool(world: World, purpose: str, count: tuple[int, int], kinds: tuple[str, ...]) -> tuple[np.ndarray,
                                                                                                      np.ndarray]:
    """Each customer's regular parties outside the bank for `purpose` — ((customers, count[1]) beneficiary rows of
    the types `kinds`, how many of them each customer has, `count[0]`…`count[1]`) — drawn once, the same all year."""
    key = ("regular", purpose)
    if key not in world.caches:
        static = stream(world.scenario.seed, "income", purpose, *world.block_key)
        pool = beneficiaries_of(world, kinds)
        regular = pool[static.integers(0, max(len(pool), 1), (world.n_customers, count[1]))] if len(pool) else \
            np.full((world.n_customers, count[1]), NONE)
        world.caches[key] = (regular, static.integers(count[0], count[1] + 1, world.n_customers))
    return world.caches[key]
