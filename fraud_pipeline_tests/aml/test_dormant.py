"""Dormant reactivation (issue 24, `aml.dormant`): a dormant account is paid by new counterparties over up to two
weeks, then 80–100 % of it leaves to people elsewhere, a day apart. Measured on the same busy small bank as cash
placement."""

import json

import numpy as np
import pandas as pd

from fraud_pipeline.engine.bank import Bank
from fraud_pipeline_tests.aml.conftest import finished, laundering_rows


def test_a_dormant_account_wakes_to_receive_from_strangers_and_is_emptied(days, busy):
    rows, cases = days
    c = busy.aml.dormant
    woken = finished(cases, "dormant")
    entities = Bank(busy).entities
    status = entities["accounts"].select(["account_id", "status"]).to_pandas().set_index("account_id")
    kinds = entities["beneficiaries"].to_pandas().set_index("beneficiary_id")["beneficiary_type"]
    assert (status.loc[woken["account_id"], "status"] == "dormant").all()
    laundering = laundering_rows(rows)
    plain_payers, plain_totals = [], []
    for _, case in woken.iterrows():
        mine = laundering[laundering["aml_case_id"] == case["case_id"]]
        drawn = json.loads(case["parameters"])
        credits, out = mine[mine["direction"] == "credit"], mine[mine["direction"] == "debit"]
        assert (mine["aml_role"] == "layer").all() and case["role"] == "layer"
        # the inflows: from parties elsewhere, the first on the case's day, the others within its span of days
        count = c.stealth_credits if case["stealth"] else c.credits
        assert (credits["transaction_type"] == "transfer_in").all() and len(credits) == drawn["credits"]
        assert count.min <= len(credits) <= count.max
        if case["stealth"]:  # each log-uniform within the range, typed: give or take R50
            assert credits["amount"].between(c.stealth_amount.min - 50, c.stealth_amount.max + 50).all()
        else:
            plain_totals.append(credits["amount"].sum())
        assert credits["beneficiary_id"].notna().all() and credits["counterparty_account_id"].isna().all()
        payers = kinds.loc[credits["beneficiary_id"]]
        assert payers.isin(["individual", "merchant"]).all()
        plain_payers.extend(payers == "merchant")
        credit_days = credits["event_time"].dt.normalize()
        assert (credit_days.max() - credit_days.min()).days < max(drawn["days"], 2)
        # the outflows: a day apart, from 1–5 days after the last credit, 80–100 % of what came in
        assert (out["transaction_type"] == "transfer").all() and len(out) == drawn["transfers"]
        out_days = out["event_time"].dt.normalize().sort_values()
        assert (out_days.diff().dropna() == pd.Timedelta(days=1)).all()
        assert c.out_days.min <= (out_days.iloc[0] - credit_days.max()).days <= c.out_days.max
        received, tolerance = credits["amount"].sum(), 50 * len(out)
        assert c.part.min * received - tolerance <= out["amount"].sum() <= c.part.max * received + tolerance
    # posing as an estate's payers: `from_businesses` of them businesses (a binomial share, 4 sigma)
    n, share = len(plain_payers), c.from_businesses
    assert n >= 20 and abs(sum(plain_payers) / n - share) < 4 * (share * (1 - share) / n) ** 0.5
    # a plain case's total is lognormal about `total.median`: its log's mean within 4 standard errors
    logs = np.log(plain_totals)
    assert len(logs) >= 5 and abs(logs.mean() - np.log(c.total.median)) < 4 * c.total.sigma / len(logs) ** 0.5
