"""The AML scorecard (`detection.aml_*`): its features read only a row's past, its rules fire where their
definition says, and its metrics are recomputed here independently from the scores it returns, on the busy small
bank's 21 days."""

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from fraud_pipeline.core.labels import AML_TYPOLOGIES
from fraud_pipeline.detection import aml_report
from fraud_pipeline.detection.aml_features import AML_FEATURES, aml_features, money_stream
from fraud_pipeline.detection.aml_rules import rules
from fraud_pipeline.detection.aml_scorecard import AmlProtocol, alert_budget, aml_scorecard, known_at, observed_at
from fraud_pipeline.engine.bank import Bank
from fraud_pipeline_tests.aml.conftest import DAYS, FIRST

THRESHOLD = 49_999.99


def _row(time: str, account: str, kind: str, direction: str, amount: float, party: str | None = None,
         inside: str | None = None, **labels) -> dict:
    return {"transaction_id": f"T{time}{account}", "event_time": pd.Timestamp(time), "account_id": account,
            "customer_id": "C" + account[1:], "channel": "branch" if kind == "cash_deposit" else "transfer",
            "transaction_type": kind, "direction": direction, "beneficiary_id": party,
            "counterparty_account_id": inside, "amount": amount, "recipient_status": None, "status": "approved",
            "aml_typology": labels.get("typology"), "aml_case_id": labels.get("case"), "aml_role": None}


def _entities(accounts: list[str]) -> dict[str, pd.DataFrame]:
    return {"customers": pd.DataFrame({"customer_id": ["C" + a[1:] for a in accounts], "monthly_income": 10_000.0,
                                       "monthly_turnover": None, "risk_rating": "low", "pep_flag": False}),
            "accounts": pd.DataFrame({"account_id": accounts, "avg_balance": 5_000.0,
                                      "opened_date": pd.Timestamp("2025-01-01")}),
            "beneficiaries": pd.DataFrame({"beneficiary_id": ["B1", "B2", "B3", "B4"],
                                           "country": ["ZA", "ZA", "ZW", "ZA"], "is_high_risk": False})}


@pytest.fixture(scope="module")
def hand_made():
    """Account A: three branch deposits in a week passing the threshold, then most of it sent abroad next day;
    account B: three senders in a day, then a transfer to A and one back from A (a 2-cycle)."""
    stream = pd.DataFrame([
        _row("2026-01-01 09:00", "A1", "cash_deposit", "credit", 45_000),
        _row("2026-01-03 10:00", "A1", "cash_deposit", "credit", 30_000),
        _row("2026-01-05 11:00", "A1", "cash_deposit", "credit", 20_000),
        _row("2026-01-06 12:00", "A1", "transfer", "debit", 19_000, party="B3"),
        _row("2026-01-06 13:00", "A1", "transfer", "debit", 30_000, party="B1"),
        _row("2026-01-02 08:00", "A2", "transfer_in", "credit", 2_000, party="B1"),
        _row("2026-01-02 09:00", "A2", "transfer_in", "credit", 2_000, party="B2"),
        _row("2026-01-02 10:00", "A2", "transfer_in", "credit", 2_000, party="B4"),
        _row("2026-01-03 01:00", "A2", "transfer", "debit", 1_000, inside="A1"),
        _row("2026-01-03 01:00", "A1", "transfer_in", "credit", 1_000, inside="A2"),
        _row("2026-01-04 01:00", "A1", "transfer", "debit", 500, inside="A2"),
        _row("2026-01-04 01:00", "A2", "transfer_in", "credit", 500, inside="A1"),
    ])
    rows = money_stream(stream, stream.iloc[:0])
    return rows, aml_features(rows, _entities(["A1", "A2"]), "ZA", THRESHOLD)


def test_aml_features_count_only_the_past_of_the_rows_own_account(hand_made):
    rows, table = hand_made
    at = {(r.account_id, str(r.event_time), r.direction): i for i, r in rows.iterrows()}
    third = at[("A1", "2026-01-05 11:00:00", "credit")]
    assert table.loc[third, "cash_in_count_30d"] == 3 and table.loc[third, "cash_in_30d"] == 95_000
    assert table.loc[third, "cash_in_3d"] == 50_000  # 3 Jan 10:00 is inside (5 Jan 11:00 − 3 days, 5 Jan 11:00]
    assert table.loc[at[("A1", "2026-01-01 09:00:00", "credit")], "near_threshold"] == 1
    assert table.loc[third, "near_threshold"] == 0
    abroad = at[("A1", "2026-01-06 12:00:00", "debit")]
    assert table.loc[abroad, "cross_border"] == 1 and table.loc[abroad, "payees_so_far"] == 2  # A2 on 4 Jan, B3
    last_out = at[("A1", "2026-01-06 13:00:00", "debit")]
    # over the 3 days to 6 Jan 13:00, in: the 20,000 deposit; out: 500 to A2 on 4 Jan, 19,000 and 30,000
    assert table.loc[last_out, "pass_through_3d"] == pytest.approx(49_500 / 20_000)
    third_sender = at[("A2", "2026-01-02 10:00:00", "credit")]
    assert table.loc[third_sender, "senders_so_far"] == 3 and table.loc[third_sender, "new_senders_7d"] == 3
    assert table.loc[at[("A2", "2026-01-02 08:00:00", "credit")], "new_senders_7d"] == 1
    # the first transfer between A1 and A2 is no cycle; the one back closes it, on both sides
    assert table.loc[at[("A2", "2026-01-03 01:00:00", "debit")], "two_cycle"] == 0
    assert table.loc[at[("A1", "2026-01-04 01:00:00", "debit")], "two_cycle"] == 1
    assert table.loc[at[("A2", "2026-01-04 01:00:00", "credit")], "two_cycle"] == 1
    # fan-out, and each party's fan from the bank's side: B1 paid A2 (a sender's fan-out) and A1 paid B1 (a payee's
    # fan-in), one account each, the directions apart
    assert table.loc[last_out, "new_payees_7d"] == 3  # A2, B3, B1
    assert table.loc[last_out, "party_payers_so_far"] == 1 and table.loc[last_out, "party_payees_so_far"] == 0
    assert table.loc[at[("A2", "2026-01-02 08:00:00", "credit")], "party_payees_so_far"] == 1
    # A2 paid A1 on 3 Jan and A1 paid A2 back on 4 Jan: A1 is then A2's first payer, and A1 the first account the
    # sender A1 paid (a pair's rows of the other direction do not count)
    assert table.loc[at[("A1", "2026-01-04 01:00:00", "debit")], "party_payers_so_far"] == 1
    assert table.loc[at[("A2", "2026-01-04 01:00:00", "credit")], "party_payees_so_far"] == 1
    # passed on: 19,000 of the 20,000 that came in over 3 days, 25 hours after the last credit
    assert table.loc[abroad, "amount_over_credits_3d"] == pytest.approx(19_000 / 20_000)
    assert table.loc[abroad, "log_seconds_since_credit"] == pytest.approx(np.log1p(25 * 3600))
    # the other account of a transfer inside the bank, as it stood then: A1 had 45,000 and A2's 1,000 in 3 days
    to_a1 = at[("A2", "2026-01-03 01:00:00", "debit")]
    assert table.loc[to_a1, "counterparty_credits_3d"] == 46_000
    assert table.loc[to_a1, "counterparty_senders_so_far"] == 1
    assert table.loc[to_a1, "counterparty_account_age_days"] == pytest.approx(367 + 1 / 24)
    assert (table.loc[rows["counterparty_account_id"].isna(), "counterparty_pass_through_3d"] == -1).all()
    assert list(table.columns) == list(AML_FEATURES) and not table.isna().any().any()


def test_the_other_accounts_state_is_nothing_before_its_first_row_and_absent_outside_the_bank():
    """A transfer to an account of the bank with no row yet (its credit posted later) reads its empty state and its
    age; a stream with no transfer between the bank's accounts reads −1 everywhere."""
    other = [c for c in AML_FEATURES if c.startswith("counterparty_")]
    stream = pd.DataFrame([_row("2026-01-02 08:00", "A1", "transfer_in", "credit", 2_000, party="B1"),
                           _row("2026-01-03 09:00", "A1", "transfer", "debit", 1_500, inside="A2")])
    rows = money_stream(stream, stream.iloc[:0])
    table = aml_features(rows, _entities(["A1", "A2"]), "ZA", THRESHOLD)
    sent = table.iloc[1]
    assert (sent[[c for c in other if c != "counterparty_account_age_days"]] == 0).all()
    assert sent["counterparty_account_age_days"] == pytest.approx(367 + 9 / 24)  # opened 1 Jan 2025
    outside = money_stream(stream.iloc[:1], stream.iloc[:0])
    assert (aml_features(outside, _entities(["A1"]), "ZA", THRESHOLD)[other] == -1).all().all()


def test_rules_fire_on_the_row_that_completes_their_pattern(hand_made):
    rows, table = hand_made
    fired = pd.DataFrame(rules(table, THRESHOLD), index=rows.index)
    described = rows.assign(when=rows["event_time"].astype(str), **{k: fired[k] for k in fired})

    def where(rule):
        return sorted(zip(described.loc[described[rule], "account_id"], described.loc[described[rule], "when"]))

    assert where("near_threshold") == [("A1", "2026-01-01 09:00:00")]
    assert where("structuring") == [("A1", "2026-01-05 11:00:00")]
    # by 6 Jan 12:00 the 20,000 banked on 5 Jan (the 3 days' cash) is 97.5 % out: 500 to A2 and 19,000 abroad
    assert where("deposit_and_send") == [("A1", "2026-01-06 12:00:00"), ("A1", "2026-01-06 13:00:00")]
    assert where("fan_in") == [("A2", "2026-01-02 10:00:00"), ("A2", "2026-01-04 01:00:00")]  # A1: the fourth
    assert where("cross_border_below_iftr") == [("A1", "2026-01-06 12:00:00")]
    assert where("rapid_pass_through") == []  # A2 received 6,000 by transfer and passed on 1,000


def test_alert_budget_and_protocol():
    assert alert_budget(100_000, 30, 100) == 100
    assert alert_budget(62_500, 18, 100) == 38  # 100 × 0.625 × 0.6 = 37.5, rounded half to even
    assert alert_budget(1_000, 1, 100) == 1
    split = AmlProtocol.split(date(2026, 1, 1), date(2026, 4, 30), 0.2)
    assert (split.test_first, split.last) == (date(2026, 4, 7), date(2026, 4, 30))  # 24 of 120 days
    with pytest.raises(ValueError, match="at least two days"):
        AmlProtocol.split(date(2026, 1, 1), date(2026, 1, 1), 0.2)


@pytest.fixture(scope="module")
def scored(busy, generated):
    rows, _, cases, reports = generated
    entities = {name: Bank(busy).entities[name].select(list(columns)).to_pandas()
                for name, columns in aml_report.ENTITY_COLUMNS.items()}
    stream = money_stream(rows, rows.iloc[:0])
    table = aml_features(stream, entities, busy.geography.country_code, busy.aml.cash_threshold)
    # labels reported by the cut-off: move a third of the cases' reports before it, so both trainings run
    cases = cases.copy()
    early = cases["case_id"].isin(cases["case_id"].drop_duplicates().iloc[::3])
    cases.loc[early, "label_available_at"] = pd.Timestamp(FIRST)
    protocol = AmlProtocol.split(FIRST, FIRST + timedelta(days=DAYS - 1), 0.25)
    found, scores = aml_scorecard(stream, table, cases, protocol, busy.seed, busy.aml.cash_threshold, alerts=40,
                                  reports=reports)
    return stream, cases, protocol, found, scores


def _best_f1(y: np.ndarray, score: np.ndarray) -> float:
    best = 0.0
    for threshold in np.unique(score):
        flagged = score >= threshold
        tp = (flagged & y).sum()
        if tp:
            best = max(best, 2 * tp / (flagged.sum() + y.sum()))
    return best


def test_the_scorecard_recomputed_independently(scored, generated):
    stream, cases, protocol, found, scores = scored
    assert set(scores) == {"rules", "boosted_known_labels", "boosted_observed_labels", "boosted_all_labels"}
    test = (stream["event_time"] >= pd.Timestamp(protocol.test_first)).to_numpy()
    tested = stream[test]
    typologies = sorted(tested.loc[tested["laundering"], "aml_typology"].unique())
    assert typologies == sorted(AML_TYPOLOGIES)
    for name, score in scores.items():
        mine = found[found["detector"] == name].set_index("typology")
        assert list(mine.index) == ["all", *typologies]
        y = tested["laundering"].to_numpy()
        assert mine.loc["all", "f1"] == pytest.approx(_best_f1(y, score))
        assert mine.loc["all", "test_laundering_rows"] == y.sum()
        per_account = pd.DataFrame({"a": tested["account_id"], "s": score, "y": y, "case": tested["aml_case_id"],
                                    "t": tested["aml_typology"]})
        account_score = per_account.groupby("a")["s"].sum() if name == "rules" else per_account.groupby("a")["s"].max()
        laundered = per_account.groupby("a")["y"].any()
        ranked = sorted(account_score.index, key=lambda a: (-account_score[a], a))[:40]
        assert mine.loc["all", "precision_at_budget"] == pytest.approx(laundered[ranked].mean())
        alerted_cases = set(per_account.loc[per_account["a"].isin(ranked), "case"].dropna())
        for typology in ("all", *typologies):
            of = per_account if typology == "all" else per_account[per_account["t"] == typology]
            cases_of = set(of["case"].dropna())
            assert mine.loc[typology, "cases"] == len(cases_of)
            assert mine.loc[typology, "case_recall_at_budget"] == pytest.approx(len(cases_of & alerted_cases)
                                                                               / len(cases_of))
            members = account_score[sorted(set(of.loc[of["y"], "a"]))]
            assert mine.loc[typology, "recall_at_budget"] == pytest.approx(len(set(members.index) & set(ranked))
                                                                         / len(members))
            genuine = account_score[~laundered]
            for rate, column in ((0.01, "recall_at_1pct_fpr"), (0.05, "recall_at_5pct_fpr")):
                # the best recall of any threshold that alerts at most `rate` of the genuine accounts
                best = max((members > t).mean() for t in [-np.inf, *account_score.unique()]
                           if (genuine > t).mean() <= rate)
                assert mine.loc[typology, column] == pytest.approx(best)
    known = known_at(stream, cases, protocol.cutoff)
    reported = set(cases.loc[cases["label_available_at"] < protocol.cutoff, "case_id"])
    assert set(stream.loc[known, "aml_case_id"]) == reported & set(stream["aml_case_id"].dropna())
    assert found.loc[found["typology"] == "all", "train_known_rows"].iloc[1] == (
        known & ~test).sum() < found.loc[found["typology"] == "all", "train_laundering_rows"].iloc[1]
    # what the bank's reports named by the cut-off, recomputed: every such row for `all`, a typology's own rows
    _, _, _, reports = generated
    observed = observed_at(stream, reports, protocol.cutoff) & ~test
    rows = found.set_index(["detector", "typology"])["train_observed_rows"]
    assert rows["boosted_observed_labels", "all"] == observed.sum() > 0
    for typology in AML_TYPOLOGIES:
        assert rows["rules", typology] == (observed & (stream["aml_typology"] == typology).to_numpy()).sum()
    assert rows["boosted_observed_labels", "all"] > sum(rows["rules", t] for t in AML_TYPOLOGIES)  # false suspicions


def test_the_scorecard_refuses_days_without_laundering_to_learn_from(scored):
    stream, cases, protocol, _, _ = scored
    clean = stream.assign(laundering=False)
    features = pd.DataFrame(0.0, index=clean.index, columns=list(AML_FEATURES))
    with pytest.raises(ValueError, match="needs laundering on the training days"):
        aml_scorecard(clean, features, cases, protocol, 1, THRESHOLD, alerts=10)


def test_the_command_refuses_what_it_cannot_do_and_names_what_is_missing(tmp_path, monkeypatch, capsys):
    from fraud_pipeline.detection.__main__ import main

    for argv, message in ((["--days", "30"], "--days is for --aml"),
                          (["--aml", "--days", "1"], "--days: at least 2"),
                          (["--aml", "--plot", "x.png"], "the AML scorecard prints a table")):
        with pytest.raises(SystemExit) as refused:
            main(argv)
        assert refused.value.code == 2 and message in capsys.readouterr().err
    monkeypatch.setenv("FRAUD_PIPELINE_STORAGE_URL", str(tmp_path))
    assert main(["--aml", "--days", "30"]) == 1
    assert "error: " in capsys.readouterr().err and not any(tmp_path.iterdir())  # nothing written
