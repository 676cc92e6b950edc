"""High-risk flows (issue 24, `aml.high_risk`): corruption proceeds paid to a PEP's account by companies elsewhere,
then out to offshore companies and crypto exchanges, one payment a day; and their genuine twin, lump sums into a
customer's own saved crypto wallet or offshore payee (`life.lump_sums`). On the busy small bank."""

import json


from fraud_pipeline.engine.bank import Bank
from fraud_pipeline_tests.aml.conftest import finished, laundering_rows


def _entities(busy):
    bank = Bank(busy).entities
    return (bank["beneficiaries"].to_pandas().set_index("beneficiary_id"),
            bank["customers"].to_pandas().set_index("customer_id"))


def test_fees_from_companies_leave_for_offshore_and_crypto_one_payment_a_day(days, busy):
    c = busy.aml.high_risk
    rows, cases = days
    mine = finished(cases, "high_risk")
    laundering = laundering_rows(rows)
    beneficiaries, customers = _entities(busy)
    saved = Bank(busy).entities["account_beneficiaries"].to_pandas()
    for _, case in mine.iterrows():
        own = laundering[laundering["aml_case_id"] == case["case_id"]]
        drawn = json.loads(case["parameters"])
        fees = own[own["direction"] == "credit"]
        out = own[own["direction"] == "debit"]
        assert (own["aml_role"] == "exit").all() and len(fees) == drawn["credits"] and len(out) == drawn["payments"]
        assert (beneficiaries.loc[fees["beneficiary_id"], "beneficiary_type"] == "merchant").all()  # companies
        amount = c.stealth_amount if case["stealth"] else c.amount
        assert fees["amount"].between(amount.min - 50, amount.max + 50).all()  # typed: to R100 at most
        assert round(fees["amount"].sum(), 2) == case["proceeds"]
        assert fees["event_time"].dt.normalize().is_unique and (fees["event_time"].dt.day_of_week < 5).all()
        # out after the last fee, one payment a day, to high-risk payees, part of what came in (typed: ±R50 each)
        assert out["event_time"].min().normalize() > fees["event_time"].max().normalize()
        assert out["event_time"].dt.normalize().is_unique
        payees = beneficiaries.loc[out["beneficiary_id"]]
        assert payees["is_high_risk"].all() and payees["beneficiary_type"].isin(["crypto", "offshore"]).all()
        low, high = c.part.min * fees["amount"].sum(), c.part.max * fees["amount"].sum()
        assert low - 50 * len(out) <= out["amount"].sum() <= high + 50 * len(out)
        if drawn["own_payee"]:  # the holder's own saved crypto wallet or offshore payee
            theirs = set(saved.loc[saved["account_id"] == case["account_id"], "beneficiary_id"])
            assert out["beneficiary_id"].nunique() == 1 and out["beneficiary_id"].iloc[0] in theirs
        assert drawn["pep"] == bool(customers.loc[case["customer_id"], "pep_flag"])
    # on PEPs' accounts mostly, but not only (nominees and relatives)
    pep = mine["parameters"].map(lambda p: json.loads(p)["pep"])
    population = customers["pep_flag"].mean()
    assert pep.mean() > 3 * population and (~pep).any()


def test_customers_put_lump_sums_into_their_own_crypto_or_offshore_payee(days, busy):
    """The genuine twin: large payments to a crypto wallet or offshore company the account saved, from genuine rows,
    within `money.lump_sums.amount` (typed: ±R50), paid when the balance covers them."""
    c = busy.money.lump_sums
    rows, _ = days
    beneficiaries, _ = _entities(busy)
    saved = Bank(busy).entities["account_beneficiaries"].to_pandas()
    genuine = rows[rows["aml_case_id"].isna() & ~rows["is_fraud"] & (rows["direction"] == "debit")
                   & rows["beneficiary_id"].notna()]
    risky = genuine[genuine["beneficiary_id"].map(beneficiaries["beneficiary_type"]).isin(["crypto", "offshore"])]
    large = risky[risky["amount"] >= c.amount.min - 50]
    pairs = set(zip(saved["account_id"], saved["beneficiary_id"]))
    lumps = large[[pair in pairs for pair in zip(large["account_id"], large["beneficiary_id"])]]
    # most large payments to such payees are these (the rest: once-off payments to a payee not saved)
    assert len(lumps) >= 5 and len(lumps) > 0.5 * len(large)
    assert (lumps["amount"] <= c.amount.max + 50).all()
    assert (lumps["status"] == "approved").mean() >= 0.8  # paid only when the day's opening balance covered it
