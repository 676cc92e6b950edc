"""Accounts that open during the run (`accounts.opening_later`) and those opened to launder (`aml.new_account`, §8.2
row 10): nothing before the opening, a card issued on the day, and the laundering ones used as mules within days,
for weeks, then left. A small bank whose calendar is 21 days, so every opening falls in it, half its further
accounts opening then, a third of the debit ones opened to launder, with short cases that finish in it, a fifth
opened for a funeral's collection and a fifth to take orders on."""

import json
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from fraud_pipeline import api
from fraud_pipeline.engine.bank import Bank
from fraud_pipeline.engine.bank_day import blocks_of
from fraud_pipeline.world.openings import opened_for
from fraud_pipeline_tests.conftest import scaled

FIRST, DAYS = date(2026, 1, 1), 21


@pytest.fixture(scope="module")
def opening(scenario):
    return scaled(scenario, end_date=FIRST + timedelta(days=DAYS - 1),
                  population={"customers": 1_000, "accounts": 2_000, "devices": 1_200, "beneficiaries": 1_500,
                              "block_customers": 500},
                  card_transactions={"per_day": 1_000}, accounts={"opening_later": 0.5},
                  inflows={"funeral": {"opened_for": 0.2}, "orders": {"opened_for": 0.2}},
                  aml={"new_account": {"share_of_openings": 0.3, "first_days": {"min": 0, "max": 2},
                                       "used_days": {"min": 3, "max": 5}, "waves": {"min": 3, "max": 4}}})


@pytest.fixture(scope="module")
def run(opening):
    """The 21 days' labelled rows, balances, card events and cases, and the accounts (opening dates as timestamps)."""
    tables = {name: [] for name in ("labelled_transactions", "account_balances", "card_events", "aml_cases")}
    for day, t in api.generate_days(FIRST, FIRST + timedelta(days=DAYS - 1), opening, tables=tuple(tables)):
        for name in tables:
            tables[name].append(t[name].append_column("day", pa.array([day] * t[name].num_rows, pa.date32())))
    frames = {name: pa.concat_tables(parts).to_pandas() for name, parts in tables.items()}
    accounts = Bank(opening).entities["accounts"].to_pandas().set_index("account_id")
    accounts["opened_date"] = pd.to_datetime(accounts["opened_date"])
    return frames, accounts


def test_an_account_that_opens_during_the_run_has_nothing_before_and_its_card_on_the_day(run):
    frames, accounts = run
    later = accounts[accounts["opened_date"] >= pd.Timestamp(FIRST)]
    assert len(later) > 300  # half of about 1,000 further accounts, over the 21 days
    rows = frames["labelled_transactions"]
    opened = rows["account_id"].map(accounts["opened_date"])
    assert not (rows["event_time"] < opened).any()
    balances = frames["account_balances"]
    assert not (pd.to_datetime(balances["day"]) < balances["account_id"].map(accounts["opened_date"])).any()
    # a balance row from the opening day on, every day
    first_row = balances.groupby("account_id")["day"].min()
    assert (pd.to_datetime(first_row[later.index]) == later["opened_date"]).all()
    days_open = (pd.Timestamp(FIRST + timedelta(days=DAYS - 1)) - later["opened_date"]).dt.days + 1
    assert (balances.groupby("account_id").size()[later.index] == days_open).all()
    # its card works from the next day, when the money moved in has arrived: no genuine payment on the day
    genuine = rows[rows["aml_case_id"].isna() & rows["account_id"].isin(later.index) & (rows["direction"] == "debit")]
    assert not (genuine["event_time"].dt.normalize() == genuine["account_id"].map(accounts["opened_date"])).any()
    assert (genuine["status"] == "approved").mean() > 0.9
    # its first card issued on the opening day, reason new_account; no account opened before the start has one
    issued = frames["card_events"]
    issued = issued[issued["reason"] == "new_account"]
    assert (issued["event"] == "issued").all()
    assert sorted(issued["account_id"]) == sorted(later.index)
    assert (issued["event_time"].dt.normalize() == issued["account_id"].map(accounts["opened_date"])).all()
    # only customers whose income is paid into their first account open one; a new debit account starts from nothing
    # and the salary account funds it on the opening day (the credit settles overnight: those opened before the
    # last day)
    assert later["customer_id"].isin(accounts.loc[accounts["salary_account"], "customer_id"]).all()
    debit = later[(later["account_type"] == "savings") & (later["opened_date"] < pd.Timestamp(FIRST)
                                                           + pd.Timedelta(days=DAYS - 1))]
    moved = rows[rows["account_id"].isin(debit.index) & (rows["transaction_type"] == "transfer_in")
                 & rows["counterparty_account_id"].notna() & rows["aml_case_id"].isna()]
    first_in = moved.groupby("account_id")["event_time"].min().reindex(debit.index)
    assert ((first_in.dt.normalize() - debit["opened_date"]).dt.days == 1).mean() > 0.95


def test_an_account_opened_to_launder_is_a_mule_within_days_for_weeks_then_left(run, opening):
    frames, accounts = run
    c, m = opening.aml.new_account, opening.aml.mule
    cases = frames["aml_cases"]
    cases = cases[cases["typology"] == "new_account"]
    finished = cases[cases["end_time"] < pd.Timestamp(FIRST + timedelta(days=DAYS - 1))]
    assert len(finished) >= 20 and finished["stealth"].any() and (~finished["stealth"]).any()
    later = accounts[(accounts["opened_date"] >= pd.Timestamp(FIRST)) & (accounts["account_type"] != "credit_card")]
    # exactly the accounts opened for laundering (`world.openings`, drawn with the order accounts: test_orders)
    # whose holder is active, every opening in the calendar
    laundering = opened_for_(opening, "laundering")
    active = accounts.loc[laundering, "status"] == "active"
    assert set(cases["account_id"]) == set(laundering[active.to_numpy()]) and active.mean() > 0.8
    assert (cases["role"] == "mule").all()
    sent_on, parties = 0, 0
    rows = frames["labelled_transactions"]
    for _, case in finished.iterrows():
        mine = rows[rows["aml_case_id"] == case["case_id"]]
        drawn = json.loads(case["parameters"])
        credits, out = mine[mine["direction"] == "credit"], mine[mine["direction"] == "debit"]
        opened = accounts.loc[case["account_id"], "opened_date"]
        # §8.2 row 10: the first victim within days of the opening (a wave's victims pay within `arrive_hours` of
        # its start), the activity over within weeks of it
        late = -(-m.arrive_hours // 24)
        assert c.first_days.min <= (credits["event_time"].min().normalize() - opened).days <= c.first_days.max + late
        waves = (c.stealth_waves if case["stealth"] else c.waves)
        assert waves.min <= drawn["waves"] <= waves.max and len(credits) == drawn["senders"]
        # the last wave starts within its day, its victims pay within `arrive_hours`
        last_wave = (credits["event_time"].max() - opened) / pd.Timedelta(days=1)
        assert last_wave <= c.first_days.max + c.used_days.max + 1 + m.arrive_hours / 24
        assert (mine["event_time"].max() - credits["event_time"].max()) <= pd.Timedelta(hours=m.stealth_out_hours.max)
        # a mule's: from victims elsewhere, out in notes and transfers, all but its cut passed on
        assert (credits["transaction_type"] == "transfer_in").all() and credits["beneficiary_id"].notna().all()
        assert set(out["transaction_type"]) <= {"withdrawal", "transfer"}
        received = credits["amount"].sum()
        assert (1 - m.keep.max) * received - 1 <= out["amount"].sum() <= (1 - m.keep.min) * received + 1
        assert drawn["received"] == pytest.approx(received, abs=0.01)
        # the money sent on mostly to the case's own few parties
        onward = out.loc[out["transaction_type"] == "transfer", "beneficiary_id"]
        sent_on, parties = sent_on + len(onward), parties + onward.nunique()
    # a new party for `1 − next_layer_kept` of the transfers on, besides the case's 1–3 (a binomial count, 4 sigma)
    new = 1 - c.next_layer_kept
    fixed = m.transfers.max * len(finished)
    assert parties <= fixed + new * sent_on + 4 * (sent_on * new * c.next_layer_kept) ** 0.5 and sent_on > fixed
    # the twin: most accounts opened during the run are not laundering, and the genuine ones have rows too
    genuine = later.index.difference(cases["account_id"])
    used = rows.loc[rows["account_id"].isin(genuine) & rows["aml_case_id"].isna(), "account_id"]
    assert used.nunique() > len(genuine) / 2


def opened_for_(opening, purpose: str) -> pd.Index:
    """The accounts `world.openings.opened_for` flags for `purpose` (drawn per block)."""
    return pd.Index(np.concatenate([w.account_id.to_numpy(zero_copy_only=False)[opened_for(w, purpose)]
                                    for w in blocks_of(Bank(opening).world)]))


def test_some_genuine_new_accounts_are_opened_for_a_side_hustle_a_funeral_or_orders_and_paid_by_strangers(run, opening):
    """The twins of an account opened to launder: `inflows.<purpose>.opened_for` of the debit accounts that open, for
    a side hustle, a funeral's collection or orders, each for one purpose, are paid into by strangers at other banks
    from the day after they open; no other new account is."""
    frames, accounts = run
    later = accounts[(accounts["opened_date"] >= pd.Timestamp(FIRST)) & (accounts["account_type"] != "credit_card")]
    flagged = {p: opened_for_(opening, p) for p in ("side_hustle", "funeral", "orders")}
    every = flagged["side_hustle"].append([flagged["funeral"], flagged["orders"]])
    assert every.isin(later.index).all() and every.is_unique
    for purpose, accounts_for in flagged.items():
        share = getattr(opening.inflows, purpose).opened_for
        assert abs(len(accounts_for) - share * len(later)) < 4 * (share * (1 - share) * len(later)) ** 0.5
    rows = frames["labelled_transactions"]
    paid = rows[rows["account_id"].isin(later.index) & rows["aml_case_id"].isna() & rows["beneficiary_id"].notna()
                & (rows["transaction_type"] == "transfer_in")]
    assert paid["account_id"].isin(every).all() and paid["account_id"].nunique() > 0.5 * len(every)
    assert paid["account_id"].isin(flagged["orders"]).any()
    assert ((paid["event_time"].dt.normalize() - paid["account_id"].map(accounts["opened_date"])).dt.days >= 1).all()


def test_an_account_opened_for_a_funeral_is_paid_by_relatives_within_days_and_mostly_emptied(run, opening):
    """A funeral's collection in the account the family opened for it: `contributors` relatives pay round sums
    within `days` of the day after the opening, a policy may pay out, and what came in partly leaves within the week
    — to the undertaker and in notes."""
    frames, accounts = run
    k = opening.inflows.funeral
    last_day = pd.Timestamp(FIRST + timedelta(days=DAYS - 1))
    funeral = opened_for_(opening, "funeral")
    opened = accounts.loc[funeral, "opened_date"]
    done = opened[opened <= last_day - pd.Timedelta(days=k.days + 7)].index  # collections finished in the calendar
    assert len(done) >= 10
    rows = frames["labelled_transactions"]
    rows = rows[rows["account_id"].isin(funeral) & rows["aml_case_id"].isna()]
    since = (rows["event_time"].dt.normalize() - rows["account_id"].map(opened)).dt.days
    outside = rows[rows["beneficiary_id"].notna() & (rows["transaction_type"] == "transfer_in")]
    gift = outside[outside["amount"] <= k.most]
    policy = outside[outside["amount"] >= k.policy.amount.min]
    assert len(gift) + len(policy) == len(outside)
    assert (since[gift.index].between(1, k.days)).all() and (gift["amount"] % 50 == 0).all()
    given = gift.groupby("account_id").size().reindex(done, fill_value=0)
    assert given.between(k.contributors.min, k.contributors.max).all()
    assert (since[policy.index].between(1 + k.policy.days.min, 1 + k.policy.days.max)).all()
    assert (policy.groupby("account_id").size() == 1).all()
    # within the week after the collection's first day: out goes at least the smaller of the undertaker's and the
    # notes' least parts of what came in, for every finished collection big enough to be withdrawn
    came = outside[outside["account_id"].isin(done)].groupby("account_id")["amount"].sum()
    week = rows[(rows["direction"] == "debit") & since.between(1, 8) & rows["account_id"].isin(done)]
    out = week.groupby("account_id")["amount"].sum().reindex(came.index, fill_value=0)
    big = came >= k.withdrawal.min / k.cash_share.min
    assert big.sum() >= 5
    assert (out[big] >= min(k.cash_share.min, k.undertaker.part.min) * came[big] - 1).mean() > 0.9
