"""Accounts that hold money: balances explained by the rows across days, authorisation with declines, the pay
calendar, and the lifecycle of accounts and cards — recomputed from the stored tables of four weeks of the
default bank, plus a small bank over 90 days and the state's determinism however a range is split."""

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from fraud_pipeline.engine.bank import Bank
from fraud_pipeline.engine.bank_day import BankState
from fraud_pipeline.life.income import PAY_SIGMA
from fraud_pipeline.world import calendar
from fraud_pipeline_tests.conftest import SMALL_POPULATION, scaled

CENTS = 100


@pytest.fixture(scope="module")
def month(default_month):
    return default_month


@pytest.fixture(scope="module")
def stream(month):
    """The labelled stream of the four weeks (genuine and fraud rows) in posting order, with each row's signed
    approved amount and the balance before it."""
    rows = pd.concat([month["transactions"], month["fraud"]], ignore_index=True)
    rows = rows.sort_values(["account_id", "arrival_time", "event_time"], kind="stable").reset_index(drop=True)
    approved = rows["status"] == "approved"
    rows["signed"] = np.where(rows["direction"] == "credit", 1, -1) * rows["amount"] * approved
    opening = month["entities"]["accounts"].set_index("account_id")["opening_balance"]
    rows["before"] = rows.groupby("account_id")["balance_after"].shift(1).fillna(rows["account_id"].map(opening))
    return rows


def _cents(values) -> np.ndarray:
    return np.round(np.asarray(values, float) * CENTS).astype(np.int64)


def test_balance_after_chains_from_the_opening_balance_through_four_weeks(month, stream):
    """Across days (not only within one): each row's balance_after is the one before plus the row when approved,
    unchanged when declined; each day's account_balances is the last balance_after by then."""
    assert (_cents(stream["balance_after"]) == _cents(stream["before"]) + _cents(stream["signed"])).all()
    balances = month["balances"]
    last = stream.assign(date=stream["arrival_time"].dt.date).groupby(["account_id", "date"])["balance_after"].last()
    end_of_day = balances.set_index(["account_id", "date"])["balance"]
    assert (_cents(end_of_day.reindex(last.index)) == _cents(last)).all()
    # an account without rows on a day keeps the day before's balance
    by_account = balances.sort_values(["account_id", "date"])
    quiet = by_account["declined"].eq(0) & by_account["credits"].eq(0) & by_account["debits"].eq(0)
    previous = by_account.groupby("account_id")["balance"].shift(1)
    assert (_cents(by_account["balance"][quiet & previous.notna()]) == _cents(previous[quiet & previous.notna()])).all()


def test_approved_debits_stay_within_funds_and_declines_would_not(month, stream):
    limits = month["entities"]["accounts"].set_index("account_id")
    floor = -(stream["account_id"].map(limits["overdraft_limit"]) + stream["account_id"].map(limits["credit_limit"]))
    debit = stream["direction"] == "debit"
    approved = stream["status"] == "approved"
    assert (_cents(stream.loc[debit & approved, "balance_after"]) >= _cents(floor[debit & approved])).all()
    short = stream[stream["decline_reason"] == "insufficient_funds"]
    assert len(short) > 0
    assert (_cents(short["before"]) - _cents(short["amount"]) < _cents(floor[short.index])).all()
    # declined rows carry their reason and leave the balance where it was
    declined = stream[~approved]
    assert declined["decline_reason"].notna().all() and stream.loc[approved, "decline_reason"].isna().all()
    assert (_cents(declined["balance_after"]) == _cents(declined["before"])).all()
    assert set(declined["decline_reason"]) <= {"insufficient_funds", "card_blocked", "card_expired", "account_frozen",
                                               "account_closed"}
    # money in always posts, except to a closed account
    credits = stream[stream["direction"] == "credit"]
    assert ((credits["status"] == "approved") | (credits["decline_reason"] == "account_closed")).all()
    # declines are a real but small part of the authorisation stream (January's 0.47 %: the year's first month has
    # the fewest, as balances start where the budget leaves them; the solvency report's later months 1.0–1.3 %)
    assert 0.003 < (~approved).mean() < 0.08


def test_frozen_dormant_and_closed_accounts_follow_their_status(month, stream):
    accounts = month["entities"]["accounts"].set_index("account_id")
    status = stream["account_id"].map(accounts["status"])
    frozen = stream[(status == "frozen") & (stream["direction"] == "debit")]
    assert len(frozen) > 0 and (frozen["status"] == "declined").all()
    assert set(frozen["decline_reason"]) <= {"account_frozen", "card_blocked", "card_expired"}
    # dormant accounts are silent but for money parked in them now and then (`inflows.one_off.dormant_per_year`)
    # and what is soon paid out of it, each debit after the account's first credit
    dormant = stream[status == "dormant"]
    parked = dormant[dormant["direction"] == "credit"]
    assert len(parked) > 0 and set(parked["transaction_type"]) == {"transfer_in"}
    assert parked["beneficiary_id"].notna().all()
    paid = dormant[dormant["direction"] == "debit"]
    # to a party outside the bank or to another of our customers (`inflows.spent_soon.one_off.to_customers`)
    assert set(paid["transaction_type"]) <= {"transfer"}
    assert (paid["beneficiary_id"].notna() != paid["counterparty_account_id"].notna()).all()
    first_credit = parked.groupby("account_id")["event_time"].min()
    assert (paid["event_time"].to_numpy() > paid["account_id"].map(first_credit).to_numpy()).all()
    closed = accounts[accounts["closed_date"].notna()]
    assert len(closed) > 0
    closing = stream["account_id"].map(pd.to_datetime(accounts["closed_date"]))
    after = stream[closing.notna() & (stream["arrival_time"] >= closing)]
    assert (after["status"] == "declined").all() and set(after["decline_reason"]) <= {"account_closed"}
    # account_balances carries the day's status, and a closed account has nothing available
    balances = month["balances"]
    shut = balances[balances["status"] == "closed"]
    assert len(shut) > 0 and (shut["available"] == 0).all()
    assert (shut["date"] >= shut["account_id"].map(pd.to_datetime(accounts["closed_date"]).dt.date)).all()


def test_cards_stop_at_expiry_are_renewed_before_and_blocked_cards_are_declined(month, stream):
    cards = month["entities"]["cards"].set_index("card_number")
    events = month["card_events"]
    catalogue = pd.concat([cards["expiry"], events.loc[events["event"] == "issued"].set_index("card_number")["expiry"]])
    catalogue = catalogue[~catalogue.index.duplicated()]  # renewals are in both
    expiry = pd.to_datetime("01/" + catalogue.str.slice(0, 3) + "20" + catalogue.str.slice(3), format="%d/%m/%Y")
    ends = (expiry + pd.offsets.MonthBegin(1)).reindex(stream["card_number"]).to_numpy()
    used = stream[stream["card_number"].notna() & (stream["direction"] == "debit")]
    late = used[used["arrival_time"].to_numpy() >= ends[used.index]]
    assert (late["status"] == "declined").all()
    # a renewal (issued before expiry, a new number) takes over: the old number is not used after it is issued
    renewals = cards[cards["replaces_card_number"].notna()]
    renewals = renewals[pd.to_datetime(renewals["issued_date"]).dt.date.between(date(2026, 1, 1), date(2026, 1, 28))]
    assert len(renewals) > 0
    issued = pd.to_datetime(renewals.set_index("replaces_card_number")["issued_date"])
    old_after = used[used["card_number"].isin(issued.index)]
    assert (old_after["arrival_time"] < old_after["card_number"].map(issued)).all()
    assert set(events.loc[events["reason"] == "renewal", "card_number"]) == set(renewals.index)
    # blocked cards: no card payment approved after the block (transfers from the app go on), a replacement
    # (linked to it) reaching the customer days later
    blocked = events[events["event"] == "blocked"].set_index("card_number")["event_time"]
    assert len(blocked) > 0
    on_blocked = used[used["card_number"].isin(blocked.index) & (used["channel"] != "transfer")]
    after_block = on_blocked[on_blocked["arrival_time"] >= on_blocked["card_number"].map(blocked)]
    assert len(after_block) > 0 and (after_block["status"] == "declined").all()
    # (the account's own state is checked first: a frozen or closed account says so)
    assert set(after_block["decline_reason"]) <= {"card_blocked", "account_frozen", "account_closed"}
    assert (after_block["decline_reason"] == "card_blocked").mean() > 0.9
    replacements = events[(events["event"] == "issued") & (events["reason"] == "fraud_reported")]
    reached = blocked[blocked < blocked.max() - pd.Timedelta(days=7)]  # their replacement reached them in the month
    assert set(reached.index) <= set(replacements["replaces_card_number"]) <= set(blocked.index)
    assert not replacements["card_number"].isin(cards.index).any()


def test_income_arrives_on_the_pay_calendar(scenario, month):
    """Each customer's income, whatever its kind (`life.income`), on their schedule's payday: salaries, pensions,
    grants and a student's allowance from a parent (a transfer in naming the parent); irregular earners' client
    payments, some banked as cash, on business days."""
    t = month["transactions"]
    customers = month["entities"]["customers"].set_index("customer_id")
    own_income = t["amount"].to_numpy() == t["customer_id"].map(customers["monthly_income"]).to_numpy()
    # a parent's allowance: the whole income, from a named payer at another bank (a side hustle's payment can be
    # exactly the income too, now and then: those few are off payday)
    allowance = (t["transaction_type"] == "transfer_in") & t["beneficiary_id"].notna() & own_income & t[
        "aml_case_id"].isna()  # a mule's victim may pay a typed amount equal to a student's allowance
    salary = t[t["transaction_type"].isin(["salary", "pension", "grant"]) | allowance]
    day = salary["event_time"].dt.date
    schedule = salary["customer_id"].map(customers["pay_schedule"])
    for name in ("day_25", "day_15", "first_week"):
        payday = calendar.payday(scenario, name, 2026, 1)
        mine = salary[schedule == name]
        off = mine[day[mine.index] != payday]
        assert len(off) <= 3 and (off["transaction_type"] == "transfer_in").all(), name
        mine = mine[day[mine.index] == payday]
        # the monthly income, once, for every customer of the schedule with a salary account: pensions, grants and
        # allowances exactly, a salary's net pay around it (`income.PAY_SIGMA`, to the cent)
        ratio = mine["amount"].to_numpy() / mine["customer_id"].map(customers["monthly_income"]).to_numpy()
        waged = (mine["transaction_type"] == "salary").to_numpy()
        assert np.allclose(ratio[~waged], 1.0)
        if waged.any():
            assert abs(np.log(ratio[waged]).std() - PAY_SIGMA) < 0.2 * PAY_SIGMA
            assert abs(ratio[waged].mean() - 1) < 0.01
        assert mine["customer_id"].is_unique
    assert calendar.payday(scenario, "day_25", 2026, 1) == date(2026, 1, 23)  # the 25th is a Sunday
    assert calendar.payday(scenario, "first_week", 2026, 1) == date(2026, 1, 2)  # New Year's Day is a holiday
    # client payments, and the cash among them, go to irregular earners (everyone may bank a side hustle's cash)
    irregular = t[t["transaction_type"].isin(["client_payment", "cash_deposit", "card_settlement"])]
    irregular = irregular[irregular["customer_id"].map(customers["pay_schedule"]) == "irregular"]
    clients = t[t["transaction_type"] == "client_payment"]
    assert set(clients["customer_id"].map(customers["pay_schedule"])) == {"irregular"}
    assert all(calendar.is_business_day(scenario, d) for d in clients["event_time"].dt.date)  # cash: any day after
    # over the month, an irregular earner's client payments add up to about their income — or their business's
    # turnover (with its card sales, settled by the acquirer), of which the owner keeps their income
    expected = customers["monthly_turnover"].fillna(customers["monthly_income"])
    paid = irregular.groupby("customer_id")["amount"].sum() / irregular["customer_id"].map(
        expected).groupby(irregular["customer_id"]).first()
    assert paid.median() == pytest.approx(1.0, abs=0.35)
    # money comes in as rows: income, refunds, transfers from other customers of the bank or from people at other
    # banks (naming them), a business's card sales from its acquirer — and, to the credit card of a customer paid at
    # another bank (no salary account here), its repayment from that bank, which names no payer
    credits = t[t["direction"] == "credit"]
    assert set(credits["transaction_type"]) == {"salary", "pension", "grant", "client_payment", "cash_deposit",
                                                "refund", "transfer_in", "card_settlement"}
    transfers_in = credits[credits["transaction_type"] == "transfer_in"]
    accounts = month["entities"]["accounts"].set_index("account_id")
    unnamed = transfers_in[transfers_in["counterparty_account_id"].isna() & transfers_in["beneficiary_id"].isna()]
    paid_here = accounts.loc[accounts["salary_account"], "customer_id"]
    assert len(unnamed) > 0 and (accounts.loc[unnamed["account_id"], "credit_limit"] > 0).all()
    assert not unnamed["customer_id"].isin(paid_here).any() and len(unnamed) < 0.05 * len(transfers_in)
    # (but an account opened to launder, whose victims pay it: `aml.new_account`)
    named = transfers_in[transfers_in["beneficiary_id"].notna() & (transfers_in["aml_typology"] != "new_account")]
    to = accounts.loc[named["account_id"]]
    # dormant: money parked in an old account; opened during the run: for a side hustle its buyers pay
    later = pd.to_datetime(to["opened_date"]) >= pd.Timestamp(scenario.start_date)
    assert (to["salary_account"] | (to["status"] == "dormant") | later).all()


def test_a_transfer_between_two_customers_of_the_bank_debits_one_and_credits_the_other(month, stream):
    out = stream[(stream["transaction_type"] == "transfer") & stream["counterparty_account_id"].notna()
                 & (stream["status"] == "approved")]
    came_in = stream[stream["transaction_type"] == "transfer_in"]
    pairs_out = out.groupby(["account_id", "counterparty_account_id"])["amount"].sum()
    pairs_in = came_in.groupby(["counterparty_account_id", "account_id"])["amount"].sum()
    pairs_in.index.names = pairs_out.index.names
    # every credit has its debit; debits of the last evening may still be on their way (overnight settlement)
    assert (_cents(pairs_out.reindex(pairs_in.index)) == _cents(pairs_in)).mean() > 0.97
    assert pairs_in.index.isin(pairs_out.index).all()


@pytest.fixture(scope="module")
def small_bank(scenario):
    return scaled(scenario, population=SMALL_POPULATION, card_transactions={"per_day": 300})


def test_balances_neither_drift_away_nor_pile_up_over_90_days(small_bank):
    """Spending is calibrated to income: after three months the balance distribution is where it started."""
    bank = Bank(small_bank)
    quantiles = {}
    for offset in range(90):
        day = small_bank.start_date + timedelta(days=offset)
        balances = bank.day(day).account_balances.to_pandas()
        if offset in (0, 29, 59, 89):
            salary = bank.entities["accounts"].to_pandas().set_index("account_id")["salary_account"]
            on_salary = balances[balances["account_id"].map(salary)]
            quantiles[offset] = on_salary["balance"].quantile([0.1, 0.5, 0.9])
    first, last = quantiles[0], quantiles[89]
    assert last[0.5] == pytest.approx(first[0.5], rel=0.5)
    assert last[0.9] == pytest.approx(first[0.9], rel=0.5)
    assert last[0.1] > -first[0.9]  # no slide into ever deeper debt


def test_a_day_from_a_stored_state_equals_the_day_in_a_walk_from_the_start(small_bank):
    """The state a day ends in is all the next day needs: a bank that starts from a stored state (through its
    tables, as the asset stores it) writes the same day as one that walked there; a gap is regenerated."""
    walked = Bank(small_bank)
    days = [small_bank.start_date + timedelta(days=i) for i in range(6)]
    results = {day: walked.day(day) for day in days}
    stored = {days[2] + timedelta(days=1): BankState.from_tables(days[2] + timedelta(days=1),
                                                                 results[days[2]].state.to_tables())}
    resumed = Bank(small_bank, stored_state=stored.get)
    for day in (days[5], days[3]):  # a gap after the stored state (day 4 is regenerated), then a day before it
        for name in ("transactions", "fraud_transactions", "fraud_episodes", "aml_cases", "aml_reports",
                     "account_balances", "card_events"):
            assert getattr(resumed.day(day), name).equals(getattr(results[day], name)), (day, name)
    assert pa.concat_tables([walked.day(d).transactions for d in days]).num_rows > 1000


def test_savings_accounts_earn_a_twelfth_of_the_years_interest_on_the_months_last_day(small_bank):
    """Interest is credited on 31 January, not the day before, to every open savings account holding money at the
    day's start, a twelfth of `money.savings_interest` of that balance; no other account earns it."""
    bank = Bank(small_bank)
    last = date(2026, 1, 31)
    for offset in range((last - small_bank.start_date).days):
        day = small_bank.start_date + timedelta(days=offset)
        found = bank.day(day)
        assert "interest" not in set(found.transactions["transaction_type"].to_pylist())
    opening = found.account_balances.to_pandas().set_index("account_id")["balance"]  # 30 January's end
    rows = bank.day(last).transactions.to_pandas()
    paid = rows[rows["transaction_type"] == "interest"].set_index("account_id")
    accounts = bank.entities["accounts"].to_pandas().set_index("account_id")
    savings = accounts.index[(accounts["account_type"] == "savings") & (accounts["closed_date"].isna()
                                                                         | (accounts["closed_date"] > last))]
    due = opening.reindex(savings)
    due = due[due > 0]
    expected = pd.Series(np.round(_cents(due) * (small_bank.money.savings_interest / 12)), index=due.index)
    expected = expected[expected > 0]
    assert len(paid) > 0 and paid.index.is_unique
    assert sorted(paid.index) == sorted(expected.index)
    assert (_cents(paid["amount"]) == expected.reindex(paid.index)).all()
    assert (paid["direction"] == "credit").all() and (paid["status"] == "approved").all()
