"""Money mules (issue 24, `aml.mules`): several victims at other banks — or our own customers, through the
product's takeovers — pay in within hours, and most of it leaves within hours to days, in notes and to the next
layer; mules are recruited among young, low-income customers but not only. Measured on the same busy small bank as
cash placement."""

import json
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from fraud_pipeline.engine.bank import Bank
from fraud_pipeline_tests.aml.conftest import DAYS, FIRST, cases_over, laundering_rows


def _mule_cases(days):
    rows, cases = days
    done = cases_over(cases)
    mules = done[done["typology"] == "mule"]
    assert len(mules) >= 8
    return laundering_rows(rows), mules


def _fed(cases: pd.DataFrame) -> pd.Series:
    """Whether each mule case was fed by our own takeovers (its parameters name their episodes)."""
    return cases["parameters"].map(lambda p: "fed_by" in json.loads(p))


def test_a_mule_receives_from_several_victims_and_passes_most_on_within_72_hours(days, busy):
    from fraud_pipeline.world.entities import entity_tables
    laundering, mules = _mule_cases(days)
    incomes = entity_tables(busy)["customers"].to_pandas().set_index("customer_id")["monthly_income"]
    assert busy.aml.mule.stealth_of_income.min == 0.5 and busy.aml.mule.stealth_of_income.max == 2.0
    rows = days[0]
    genuine = rows[rows["aml_case_id"].isna() & (rows["transaction_type"] == "transfer_in")
                   & rows["counterparty_account_id"].isna()]
    stealthy_with_buyers = []
    for _, case in mules.iterrows():
        mine = laundering[laundering["aml_case_id"] == case["case_id"]]
        drawn = json.loads(case["parameters"])
        credits = mine[mine["direction"] == "credit"]
        out = mine[mine["direction"] == "debit"]  # attempted: the ledger may decline one the mule spent meanwhile
        assert (credits["transaction_type"] == "transfer_in").all() and len(credits) == drawn["senders"]
        if "fed_by" in drawn:  # our own customers' drained accounts (`test_our_takeovers_feed_our_mules`)
            assert credits["counterparty_account_id"].notna().all() and credits["beneficiary_id"].isna().all()
        else:  # victims elsewhere: several, or stealthily as few as one
            assert credits["beneficiary_id"].notna().all() and credits["amount"].between(500, 25_000).all()
            fewest = busy.aml.mule.stealth_senders.min if case["stealth"] else busy.aml.mule.senders.min
            assert len(credits) >= fewest and credits["beneficiary_id"].nunique() >= min(len(credits), 2)
        if case["stealth"] and "fed_by" not in drawn:  # its handler sizes the takings to the holder: a month or two of income (typed, clipped)
            # a side hustler's account, which strangers pay for what it sells: in the 21 days, genuine payments in
            # from individuals elsewhere too
            theirs = genuine[genuine["account_id"] == case["account_id"]]
            stealthy_with_buyers.append((theirs["beneficiary_id"].notna() & (theirs["amount"] < 5_000)).sum() >= 1)
            income = incomes[case["customer_id"]]
            slack = 50 * len(credits)
            # at least the half month, unless a victim's share was clipped at the largest scam (then at least that)
            assert min(0.5 * income, 25_000) - slack <= credits["amount"].sum()
            assert credits["amount"].sum() <= max(2.0 * income, 500 * len(credits)) + slack
        assert credits["amount"].sum() == pytest.approx(case["proceeds"]) == drawn["received"]
        assert (mine["aml_role"] == "mule").all() and (case["role"] == "mule")
        # what leaves: after the last credit, within 72 hours of it (and the hour the withdrawals take), all but the
        # 5–20 % the mule keeps (give or take R50 on each of the 1–3 typed transfers)
        assert out["event_time"].min() > credits["event_time"].max()
        assert (out["event_time"] - credits["event_time"].max()).max() <= pd.Timedelta(hours=72 + 8)
        assert 0.05 <= drawn["kept"] / drawn["received"] <= 0.2
        assert abs(out["amount"].sum() - (drawn["received"] - drawn["kept"])) <= 150
        cash = out[out["transaction_type"] == "withdrawal"]
        assert (cash["channel"] == "atm").all() and cash["amount"].between(1_000, 5_000).all()
        assert cash["amount"].sum() <= 20_000 + 1_000  # the card's daily limit (a note step may pass it)
        onward = out[out["transaction_type"] == "transfer"]
        assert len(onward) <= 3 and len(onward) + len(cash) >= 1
        assert (onward["event_time"] > credits["event_time"].max()).all()
        assert onward["beneficiary_id"].notna().all() and onward["counterparty_account_id"].isna().all()
    # a side hustler's buyers pay 3–30 times a month: nearly every stealthy mule is seen paid by them in 21 days
    assert len(stealthy_with_buyers) >= 3 and np.mean(stealthy_with_buyers) >= 0.75, stealthy_with_buyers


def test_mules_are_mostly_young_and_poor_but_not_only(days, busy):
    from fraud_pipeline.world.entities import entity_tables
    _, mules = _mule_cases(days)
    mules = mules[~_fed(mules)]  # a ring's mules of ours are any salary account (`fraud.mule_accounts`)
    customers = entity_tables(busy)["customers"].to_pandas().set_index("customer_id")
    holders = customers.loc[mules["customer_id"]]
    young_and_poor = holders["age"].between(20, 39) & (holders["monthly_income"] < 10_000)
    everyone = customers["age"].between(20, 39) & (customers["monthly_income"] < 10_000)
    # recruited four times as often: their share of mules is well above their share of customers, yet below 1
    assert young_and_poor.mean() > 1.5 * everyone.mean()
    assert 0 < (~young_and_poor).sum()


def test_our_takeovers_feed_our_mules(days, busy):
    """A plain takeover's drain to a ring's mule of ours is a transfer between two of our customers; its credit settles
    overnight on the mule, labelled as the mule's case (not as fraud), whose `fed_by` names the takeover. Stealthy
    takeovers pay mules elsewhere (saved as payees days before). The share of plain drains that reach our accounts
    follows `aml.mule.inside_share` of the rings' mule slots (half of them on this bank)."""
    rows, cases = days
    takeover = rows[(rows["fraud_scenario"] == "account_takeover") & (rows["direction"] == "debit")]
    ours = takeover[takeover["counterparty_account_id"].notna()]
    assert takeover["beneficiary_id"].notna().sum() + len(ours) == len(takeover)
    assert len(ours) >= 5 and ours["status"].eq("approved").any()
    plain = takeover[~takeover["fraud_episode_id"].isin(ours["fraud_episode_id"])]
    share = len(ours) / (len(ours) + len(plain))
    assert 0.05 < share < 0.6  # half the slots, fewer drains (stealthy ones never; the rings' busiest slots)
    credits = rows[(rows["direction"] == "credit") & rows["aml_typology"].eq("mule")
                   & rows["counterparty_account_id"].notna()]
    assert not credits["is_fraud"].any()
    fed = cases[_fed(cases)]
    named = {e: c for c, p in zip(fed["case_id"], fed["parameters"]) for e in json.loads(p)["fed_by"]}
    settled = ours[ours["status"] == "approved"]
    settled = settled[settled["event_time"] < pd.Timestamp(FIRST + timedelta(days=DAYS - 1))]  # credited in the days
    pairs = settled.merge(credits, left_on=["account_id", "counterparty_account_id", "amount"],
                          right_on=["counterparty_account_id", "account_id", "amount"], suffixes=("", "_in"))
    assert len(pairs) == len(settled)
    assert (pairs["event_time_in"].dt.normalize() == pairs["event_time"].dt.normalize() + pd.Timedelta(days=1)).all()
    assert (pairs["aml_case_id_in"] == pairs["fraud_episode_id"].map(named)).all()
    assert (pairs["aml_role_in"] == "mule").all()
    # the mule the session added is an account of ours, not a payee elsewhere: no ring's mule saved that day
    bank = Bank(busy)
    ids = bank.entities["beneficiaries"]["beneficiary_id"].to_numpy(zero_copy_only=False)
    saved = bank.entities["account_beneficiaries"].to_pandas()
    saved = saved[saved["beneficiary_id"].isin(ids[np.unique(bank.world.mules)])]
    on_day = set(zip(saved["account_id"], pd.to_datetime(saved["added_date"])))
    assert not any(pair in on_day for pair in zip(ours["account_id"], ours["event_time"].dt.normalize()))
