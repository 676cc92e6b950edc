"""Dormant reactivation (issue 24, `aml.dormant`): a dormant account is paid by new counterparties over up to two
weeks, then 80–100 % of it leaves to people elsewhere, a day apart. Measured on the same busy small bank as cash
placement."""

import json

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
    plain_payers = []
    for _, case in woken.iterrows():
        mine = laundering[laundering["aml_case_id"] == case["case_id"]]
        drawn = json.loads(case["parameters"])
        credits, out = mine[mine["direction"] == "credit"], mine[mine["direction"] == "debit"]
        assert (mine["aml_role"] == "layer").all() and case["role"] == "layer"
        # the inflows: from parties elsewhere, each on its own day within the case's days
        bounds = (c.stealth_credits, c.stealth_amount) if case["stealth"] else (c.credits, c.amount)
        assert (credits["transaction_type"] == "transfer_in").all() and len(credits) == drawn["credits"]
        assert bounds[0].min <= len(credits) <= bounds[0].max
        assert credits["amount"].between(bounds[1].min - 50, bounds[1].max + 50).all()  # typed: give or take R50
        assert credits["beneficiary_id"].notna().all() and credits["counterparty_account_id"].isna().all()
        payers = kinds.loc[credits["beneficiary_id"]]
        assert payers.isin(["individual", "merchant"]).all()
        if not case["stealth"]:
            plain_payers.extend(payers == "merchant")
        credit_days = credits["event_time"].dt.normalize()
        assert credit_days.nunique() == len(credits)
        assert (credit_days.max() - credit_days.min()).days < max(drawn["days"], len(credits))
        # the outflows: a day apart, from 1–5 days after the last credit, 80–100 % of what came in
        assert (out["transaction_type"] == "transfer").all() and len(out) == drawn["transfers"]
        out_days = out["event_time"].dt.normalize().sort_values()
        assert (out_days.diff().dropna() == pd.Timedelta(days=1)).all()
        assert c.out_days.min <= (out_days.iloc[0] - credit_days.max()).days <= c.out_days.max
        received, tolerance = credits["amount"].sum(), 50 * len(out)
        assert c.part.min * received - tolerance <= out["amount"].sum() <= c.part.max * received + tolerance
    # plainly posing as an estate's payers: `from_businesses` of them businesses (a binomial share, 4 sigma)
    n, share = len(plain_payers), c.from_businesses
    assert n >= 20 and abs(sum(plain_payers) / n - share) < 4 * (share * (1 - share) / n) ** 0.5
