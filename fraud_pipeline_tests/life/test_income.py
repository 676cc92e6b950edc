"""Money from outside the bank (`life.income`): income by kind, cash banked, side hustles and one-offs — the
genuine twins laundering hides among — measured in four weeks of the default bank and in the generators'
own output, against what the scenario configures (tolerances stated per test)."""

from datetime import timedelta

import numpy as np
import pytest

from fraud_pipeline.core.rows import TRANSFER_IN
from fraud_pipeline.core.timeline import MS_PER_DAY, day_start_ms
from fraud_pipeline.engine.bank import Bank
from fraud_pipeline.life.genuine import SCHEDULED_HOURS
from fraud_pipeline.life.income import BRANCH_HOURS, one_offs, side_hustles
from fraud_pipeline.world import calendar
from fraud_pipeline.world.build import STATUS_NAMES
from fraud_pipeline.world.spending import volume_scale

@pytest.fixture(scope="module")
def credits(default_month):
    """Approved credits from outside the bank, with the holder's occupation and the payer's beneficiary type."""
    t = default_month["transactions"]
    e = default_month["entities"]
    rows = t[(t["direction"] == "credit") & t["counterparty_account_id"].isna() & (t["status"] == "approved")]
    rows = rows.merge(e["customers"][["customer_id", "occupation"]], on="customer_id")
    return rows.merge(e["beneficiaries"][["beneficiary_id", "beneficiary_type"]], on="beneficiary_id", how="left")


def test_income_arrives_as_the_occupations_kind(scenario, credits, default_month):
    """Salaries, pensions and grants go only to the occupations paid that way, and every occupation's kind is seen;
    a student's allowance is a transfer from one individual outside the bank, the same parent for every student
    all month."""
    kinds = scenario.customers.income_kind
    for kind in ("salary", "pension", "grant", "client_payment"):
        paid = set(credits.loc[credits["transaction_type"] == kind, "occupation"])
        assert paid == {o for o, k in kinds.items() if k == kind}, kind
    # the allowance is a standing order in the night batch (someone else may pay a student the same amount by day;
    # a mule's victim may too)
    students = credits[(credits["occupation"] == "student") & (credits["transaction_type"] == "transfer_in")
                       & credits["event_time"].dt.hour.between(*SCHEDULED_HOURS, inclusive="left")]
    income = default_month["entities"]["customers"].set_index("customer_id")["monthly_income"]
    allowance = students[np.isclose(students["amount"], students["customer_id"].map(income))]
    assert allowance["customer_id"].nunique() > 100
    assert set(allowance["beneficiary_type"]) == {"individual"}
    assert allowance.groupby("customer_id")["beneficiary_id"].nunique().max() == 1
    # not everyone's parent is the same person: parents are drawn per student
    assert allowance["beneficiary_id"].nunique() > 0.9 * allowance["customer_id"].nunique()


def test_grants_stay_within_the_cap(scenario, default_month):
    """The unemployed's income never exceeds `income_cap` (times the volume scale every income carries)."""
    e = default_month["entities"]["customers"]
    unemployed = e.loc[e["occupation"] == "unemployed", "monthly_income"]
    cap = scenario.customers.income_cap["unemployed"] * volume_scale(scenario)
    assert len(unemployed) > 1000 and unemployed.max() <= round(cap, -1) + 10
    assert (e.loc[e["occupation"] == "salaried", "monthly_income"] > cap).mean() > 0.5  # the cap is the grant's only


def test_cash_takings_are_banked_as_notes_at_an_atm_or_at_a_branch(scenario, credits):
    """Each occupation banks its configured share of client payments as cash, less for payments over
    `cash_deposits.large` (`in_notes`; within 4 standard errors, plus the side hustles' cash, which every
    occupation banks: 3 points at most); an ATM deposit is whole notes within the
    ATM's limit at one of the customer's ATMs, on any day and at any hour, a branch deposit falls in counter hours
    of a business day; no payer is named for cash."""
    c = scenario.inflows.cash_deposits
    income = credits[credits["transaction_type"].isin(["client_payment", "cash_deposit"])]
    for occupation, share in scenario.customers.cash_takings.items():
        rows = income[income["occupation"] == occupation]
        cash = (rows["transaction_type"] == "cash_deposit").mean()
        share = share * np.minimum(1, (c.large / rows["amount"]) ** 2).mean()
        error = np.sqrt(share * (1 - share) / len(rows))
        assert len(rows) > 200 and -4 * error < cash - share < 4 * error + 0.03, (occupation, cash, share)
    cash = credits[credits["transaction_type"] == "cash_deposit"]
    per_customer = cash.groupby("occupation").size() / credits.groupby("occupation")["customer_id"].nunique()
    takings = list(scenario.customers.cash_takings)
    others = [o for o in per_customer.index if o not in takings]
    assert len(others) > 3 and per_customer[others].max() < 0.5 * per_customer[takings].min()
    assert cash["beneficiary_id"].isna().all()
    atm = cash[cash["channel"] == "atm"]
    branch = cash[cash["channel"] == "branch"]
    assert set(cash["channel"]) == {"atm", "branch"}
    assert (np.round(atm["amount"] * 100) % round(c.atm_note * 100) == 0).all()
    assert atm["amount"].max() <= c.atm_max and atm["merchant_id"].notna().all()
    assert atm.groupby("customer_id")["merchant_id"].nunique().max() > 1  # not only the home ATM
    assert (atm["event_time"].dt.day_of_week >= 5).mean() > 0.1 and (atm["event_time"].dt.hour < 6).mean() > 0.01
    assert atm["card_number"].notna().all() and branch["card_number"].isna().all()
    assert branch["merchant_id"].isna().all() and (branch["amount"] % 1 == 0).all()
    hours = branch["event_time"].dt.hour
    assert hours.between(BRANCH_HOURS[0], BRANCH_HOURS[1] - 1).all()
    assert all(calendar.is_business_day(scenario, d) for d in set(branch["event_time"].dt.date))
    # an ATM unless the amount is over its limit (a business's takings), or the day is not a business day (side
    # hustles' cash)
    atm_share = len(atm) / (len(atm) + (branch["amount"] <= c.atm_max).sum())
    assert c.atm_share - 0.08 < atm_share <= c.atm_share + 0.1


def test_genuine_cash_over_the_reporting_threshold_is_a_few_deposits_a_day(scenario, default_month):
    """Genuine deposits over the FIC's cash threshold (each one a cash threshold report) are 2–12 a day per 20,000
    customers: the FIC received 4.5 million such reports in 2021/22 at the old R25,000 threshold, about 8 a day per
    20,000 banked adults (§7 of the AML anchors); a business banks large sums at a branch, and notes up to R40,000
    at an ATM, so deposits of R40,000–R49,999 are no rarer than those over the threshold (the twin of a front's
    deposits kept below it)."""
    t = default_month["transactions"]
    genuine = t[(t["transaction_type"] == "cash_deposit") & t["aml_typology"].isna()]
    days = t["event_time"].dt.date.nunique()
    per_day = 20_000 / len(default_month["entities"]["customers"]) / days
    over = (genuine["amount"] > scenario.aml.cash_threshold).sum() * per_day
    below = genuine["amount"].between(40_000, scenario.aml.cash_threshold).sum() * per_day
    assert 2 < over < 12 and below > over, (over, below)


def test_client_payments_come_mostly_from_regular_clients(credits):
    """A self-employed customer's clients pay again (a regular client pool), but not only they: in four weeks (about
    four payments each, 70 % from 3–8 regular clients) some pairs repeat, most pay once; no client payment is below
    R50. Were every payer drawn from the 27,000 individuals and businesses, a pair would repeat about once in
    7,000."""
    clients = credits[credits["transaction_type"] == "client_payment"]
    pairs = clients.groupby(["customer_id", "beneficiary_id"]).size()
    assert 0.05 < (pairs >= 2).mean() < 0.3 and (pairs == 1).mean() > 0.5
    assert clients["amount"].min() >= 50


def test_side_hustles_are_paid_by_many_unrelated_people(scenario, credits):
    """About `side_hustle.share` of customers are paid by three or more individuals outside the bank in four weeks
    (the genuine fan-in), the stokvel members whose turn it was (`life.stokvels`: a member's turn comes once in a
    club's size in months) and the landlords with three or more tenants (`life.rent`); the customers with one or two such payers are the family-supported and the
    one-offs."""
    senders = credits[(credits["transaction_type"] == "transfer_in") & (credits["beneficiary_type"] == "individual")]
    fan_in = senders.groupby("customer_id")["beneficiary_id"].nunique()
    many = (fan_in >= 3).sum() / scenario.population.customers
    h = scenario.inflows.side_hustle
    k = scenario.inflows.stokvel
    turns = k.share * np.mean(1 / np.arange(k.members.min, k.members.max + 1))  # pots a month per customer
    r = scenario.inflows.rent
    landlords = r.share * np.mean(np.arange(r.tenants.min, r.tenants.max + 1) >= 3)
    # a seller with a month's count c receives Poisson(c × 28 / 30.44) payments: most of them three or more
    assert 0.6 * h.share < many < 1.05 * h.share + 1.2 * (turns + landlords), many
    assert fan_in.max() >= 15


@pytest.fixture(scope="module")
def bank(scenario):
    return Bank(scenario)


def test_one_offs_are_rare_large_and_within_their_cap(scenario, bank):
    """Over 240 days of the default bank (enough split one-offs into its ~1,200 dormant accounts): one-offs come at
    `per_customer_per_year` to salary accounts and at `dormant_per_year` to dormant accounts (each within 4 Poisson
    standard errors of the expectation), typed as people type amounts, at most `max`, with a lognormal median near
    `amount.median`; each names a payer outside the bank, `from_businesses` of them a business; into dormant
    accounts, `dormant_tranches.share` of them in parts from distinct payers."""
    world = bank.world
    o = scenario.inflows.one_off
    days = [scenario.start_date + timedelta(days=i) for i in range(240)]
    rows = [one_offs(world, day)[0] for day in days]
    assert all((r.kind == TRANSFER_IN).all() and (r.payee >= 0).all() for r in rows)
    # the one-offs' payers (a day's own, not an estate's parts): `from_businesses` of them a business
    own = np.concatenate([r.payee[~(world.status == STATUS_NAMES.index("dormant"))[r.account]] for r in rows])
    business = world.beneficiary_type[own] == "merchant"
    share = o.from_businesses
    assert abs(business.mean() - share) < 4 * np.sqrt(share * (1 - share) / len(own)), business.mean()
    # a one-off paid in parts is one one-off: count each account's first part of a day (the day's own)
    first = [r.take(np.flatnonzero(r.event_ms < day_start_ms(day) + MS_PER_DAY)) for r, day in zip(rows, days)]
    cents = np.concatenate([r.cents for r in first])
    account = np.concatenate([r.account for r in first])
    dormant = world.status == STATUS_NAMES.index("dormant")
    eligible = (world.salary_of >= 0).sum()  # active accounts: most of them (bounds below allow for the rest)
    expected = eligible * o.per_customer_per_year * len(days) / 365.25
    found = int((~dormant[account]).sum())
    assert world.salary[account[~dormant[account]]].all()
    assert 0.85 * expected - 4 * np.sqrt(expected) < found < expected + 4 * np.sqrt(expected)
    # parked in dormant accounts (open ones: most of them)
    expected = dormant.sum() * o.dormant_per_year * len(days) / 365.25
    found = int(dormant[account].sum())
    assert 0.9 * expected - 4 * np.sqrt(expected) < found < expected + 4 * np.sqrt(expected)
    assert cents.max() <= o.max * 100
    assert 0.7 * o.amount.median < np.median(cents[~dormant[account]]) / 100 < 1.3 * o.amount.median
    # into dormant accounts, `dormant_tranches.share` of one-offs come in 2–5 parts from as many payers, the later
    # ones within `days`
    t = o.dormant_tranches
    parts = np.concatenate([r.account for r in rows])
    split = np.isin(account[dormant[account]], parts[np.bincount(parts, minlength=world.n_accounts)[parts] > 1])
    assert abs(split.mean() - t.share) < 4 * np.sqrt(t.share * (1 - t.share) / len(split)), split.mean()
    distinct_payers = []
    for r, day in zip(rows, days):
        woken = dormant[r.account]
        counts = np.bincount(r.account[woken], minlength=world.n_accounts)
        assert counts.max(initial=0) <= t.count.max
        late = (r.event_ms - day_start_ms(day)) // MS_PER_DAY
        assert late.max(initial=0) < t.days and (late[~woken] == 0).all()
        for a in np.unique(r.account[woken & (counts[r.account] > 1)]):
            mine = r.account == a
            distinct_payers.append(len(set(r.payee[mine])) == mine.sum())
    assert len(distinct_payers) > 10 and np.mean(distinct_payers) > 0.95  # payers drawn among thousands


def test_side_hustle_payments_follow_the_configured_counts_and_amounts(scenario, bank):
    """A seller's payments over 60 days average (min + max) / 2 a month (within 10 %), and the amounts' median is
    `amount.median` within the typed rounding (15 %)."""
    world = bank.world
    h = scenario.inflows.side_hustle
    days = [scenario.start_date + timedelta(days=i) for i in range(60)]
    rows = [side_hustles(world, day) for day in days]
    account = np.concatenate([r.account for r in rows])
    cents = np.concatenate([r.cents for r in rows])
    sellers = len(np.unique(account))
    per_month = len(account) / sellers / (len(days) / 30.4375)
    mean = (h.payments_per_month.min + h.payments_per_month.max) / 2
    assert abs(per_month - mean) < 0.1 * mean, per_month
    assert abs(np.median(cents) / 100 - h.amount.median) < 0.15 * h.amount.median
    assert abs(sellers / world.n_customers - h.share) < 0.25 * h.share


def test_one_offs_are_often_soon_partly_paid_out(scenario, bank):
    """`spent_soon` on 4,000 one-offs: the configured share is paid out (4 standard errors), `part` of the credit
    (within the typed rounding), to a business outside the bank or (`to_customers` of them) to another of our
    customers, from the credited account, `days` after the
    credit and at least an hour after it, within the day following, at the hours people pay: a credit at 22:00 is
    paid on mostly by day, not in the small hours."""
    from fraud_pipeline.core.rows import TRANSFER_OUT, make
    from fraud_pipeline.core.timeline import MS_PER_DAY, day_start_ms
    from fraud_pipeline.life.income import spent_soon

    world = bank.world
    rule = scenario.inflows.spent_soon.one_off
    day = scenario.start_date + timedelta(days=40)
    n, amount = 4000, 10_000_000
    start = day_start_ms(day) + 22 * 3_600_000
    account = np.arange(n) % world.n_accounts
    out = spent_soon(world, day, make(n, account=account, kind=TRANSFER_IN, event_ms=start, cents=np.full(n, amount)))
    ours = out.payee < 0
    assert (out.kind == TRANSFER_OUT).all() and set(world.beneficiary_type[out.payee[~ours]]) == {"merchant"}
    assert (out.counterparty[~ours] < 0).all() and (out.counterparty[ours] >= 0).all()
    assert (out.counterparty[ours] != world.bank_accounts(out.account[ours])).all()  # never a self-transfer
    # the payee's account is open the day after the transfer, when it settles: no credit bounces, no money is lost
    assert (world.directory.closed_day[out.counterparty[ours]] > out.event_ms[ours] // MS_PER_DAY + 1).all()
    assert abs(ours.mean() - rule.to_customers) < 4 * np.sqrt(rule.to_customers * (1 - rule.to_customers) / len(out))
    assert np.isin(out.account, account).all()
    assert abs(len(out) / n - rule.share) < 4 * np.sqrt(rule.share * (1 - rule.share) / n)
    part = out.cents / amount
    assert part.min() >= rule.part.min - 0.005 and part.max() <= rule.part.max + 0.005
    delay = (out.event_ms - start) / MS_PER_DAY
    assert delay.min() >= 1 / 24 and delay.max() < rule.days.max + 1 + 1 / 24
    whole_days = set(np.floor(delay).astype(int))
    assert set(range(rule.days.min, rule.days.max + 1)) <= whole_days <= set(range(rule.days.min, rule.days.max + 2))
    hourly = np.asarray(scenario.card_transactions.hourly["transfer"], float)
    small_hours = np.isin(out.event_ms % MS_PER_DAY // 3_600_000, range(6)).mean()
    assert small_hours < 1.5 * hourly[:6].sum() / hourly.sum() + 0.01


def test_a_traders_deposit_with_a_suppliers_money_is_mostly_sent_on(scenario, bank):
    """`_supplier_money` on 4,000 banked takings of R2,000: the configured share, less where the notes would be many
    (`in_notes`), is banked with `stock` months of the trader's income and that money (`part` of it, typed to R100 at most) paid to a business outside the bank `days`
    later; the rest are banked as they are; the budget is untouched (what comes in for the supplier goes out
    within 5 %)."""
    from fraud_pipeline.core.rows import CASH_DEPOSIT, CLIENT_PAYMENT, make
    from fraud_pipeline.core.streams import stream
    from fraud_pipeline.core.timeline import MS_PER_DAY, day_start_ms
    from fraud_pipeline.life.income import _supplier_money

    world = bank.world
    c = scenario.inflows.spent_soon.supplier
    day = scenario.start_date + timedelta(days=40)  # a business day (Tuesday 10 February)
    n, takings = 4000, 200_000
    start = day_start_ms(day) + 22 * 3_600_000
    account = np.flatnonzero(world.salary)[:n]
    rows = make(n, account=account, kind=CLIENT_PAYMENT, event_ms=start, cents=np.full(n, takings))
    rng = lambda purpose: stream(1, "test", purpose)  # noqa: E731
    banked, paid = _supplier_money(world, rng, rows, np.arange(n), day)
    assert (banked.kind == CASH_DEPOSIT).all()
    with_stock = banked.cents > takings + 20_000
    # less often the more notes it would make (`in_notes`), over the stock's uniform range
    notes = takings + np.outer(world.income[world.account_customer[account]] * 100,
                               np.linspace(c.stock.min, c.stock.max, 101))
    share = c.share * np.minimum(1, (scenario.inflows.cash_deposits.large * 100 / notes) ** 2).mean()
    assert share < c.share and abs(with_stock.mean() - share) < 4 * np.sqrt(share * (1 - share) / n)
    assert len(paid) == with_stock.sum() and set(world.beneficiary_type[paid.payee]) == {"merchant"}
    deposit = banked.cents[with_stock]  # in the order the payments were made
    stock = deposit - takings  # notes or rands: within a note of the money banked for the supplier
    income = world.income[world.account_customer[paid.account]] * 100
    assert (stock >= c.stock.min * income - 1_000).all() and (stock <= c.stock.max * income + 1_000).all()
    assert (paid.cents <= stock * c.part.max + 10_000).all() and (paid.cents >= stock * c.part.min - 10_000).all()
    assert abs(paid.cents.sum() / stock.sum() - (c.part.min + c.part.max) / 2) < 0.05
    delay = (paid.event_ms - banked.event_ms[with_stock]) / MS_PER_DAY
    assert delay.min() >= 1 / 24 and delay.max() < c.days.max + 1 + 1 / 24


def test_a_business_pays_its_wholesalers_within_days_and_its_staff_a_fixed_wage_on_payday(scenario, bank):
    """`business_outgoings` on 4,000 credits to 40 business accounts, R6,000 of each owed: all but `wages_share` and
    the fixed costs' shares of it to one of the business's 1–3 wholesalers (within the typing, R100),
    0–`paid_on.max` days after the credit and not before it, each day of that range seen. `payroll` on the 25th (Friday 23 January: the 25th is a Sunday):
    every open, active business account pays each of its staff their fixed wage — the same every month — as many
    staff as the wage bill pays at about `wage`, together `wages_share` of the turnover beyond the owner's income
    (to the rand a member); on other days nothing."""
    from datetime import date

    from fraud_pipeline.core.streams import stream
    from fraud_pipeline.core.timeline import MS_PER_DAY, day_start_ms
    from fraud_pipeline.life.genuine import open_accounts
    from fraud_pipeline.life.income import business_outgoings, payroll

    world = bank.world
    b = scenario.customers.business
    day = scenario.start_date + timedelta(days=40)
    n, owed = 4000, 600_000
    start = day_start_ms(day) + 15 * 3_600_000
    account = np.flatnonzero(world.business)[np.arange(n) % 40]  # 100 credits each of 40 businesses
    rng = lambda purpose: stream(1, "test", purpose)  # noqa: E731
    out = business_outgoings(world, day, rng, account, np.full(n, start), np.full(n, owed))
    assert len(out) == n and set(world.beneficiary_type[out.payee]) == {"merchant"}
    assert b.set_aside == b.wages_share + sum(cost.share for cost in b.fixed_costs.values()) < 1
    assert np.abs(out.cents - owed * (1 - b.set_aside)).max() <= 10_000
    delay = (out.event_ms - start) / MS_PER_DAY
    assert delay.min() >= 1 / 144 and delay.max() < b.paid_on.max + 1
    assert set(((out.event_ms - day_start_ms(day)) // MS_PER_DAY).tolist()) == set(range(b.paid_on.min,
                                                                                          b.paid_on.max + 1))
    customer = world.account_customer[out.account]
    assert max(len(set(out.payee[customer == c])) for c in np.unique(customer)) == 3  # the same 1–3 wholesalers

    paydays = [date(2026, 1, 23), date(2026, 2, 25), date(2026, 3, 25)]
    paid = [payroll(world, d) for d in paydays]
    assert len(payroll(world, date(2026, 1, 22))) == len(payroll(world, date(2026, 1, 25))) == 0
    first = paid[0]
    businesses = np.flatnonzero(world.business & open_accounts(world, paydays[0])
                                & (world.status == STATUS_NAMES.index("active")))
    assert set(first.account) == set(businesses) and set(world.beneficiary_type[first.payee]) == {"individual"}
    owner = world.account_customer[businesses]
    bill = b.wages_share * (world.turnover[owner] - world.income[owner])
    total = np.bincount(first.account, weights=first.cents, minlength=world.n_accounts)[businesses] / 100
    staff = np.bincount(first.account, minlength=world.n_accounts)[businesses]
    assert (np.abs(total - bill) <= staff).all()
    assert (staff == np.clip(np.ceil(bill / b.wage), b.staff.min, b.staff.max)).all()
    assert staff.max() > 5 and np.median(total / staff) <= b.wage
    january = set(zip(first.account, first.payee, first.cents))
    for later in paid[1:]:  # the same people, the same wages (of the businesses still open and active)
        assert set(zip(later.account, later.payee, later.cents)) <= january and len(later) > 0.95 * len(first)
