"""The AML scorecard: reference detectors trained and tested on the money-movement stream the way AMLworld's
papers do it (Altman et al., 2023; Egressy et al., 2024: a temporal split, minority-class F1 and PR-AUC per
transaction), and at the account and case level where analysts work (precision at an alert budget, recall at 1 %
and 5 % false-positive rate, case recall), per typology (`../shared/reference/aml-anchors.md` §8.3).

Protocol: the stream's days are split by time: the last `test_share` of the days are tested, the days before
trained on. Three trainings of the boosted detector: with the labels a bank has at the cut-off (the first test day:
a case counts once its `label_available_at` is before it; most are reported weeks later, and many never); with the
bank's own reports filed by then (`aml_reports`: also its false suspicions, and every row of a reported account in
the activity reported); and with every training row's truth (AMLworld's protocol, whose labels are all known: the
F1 to compare with its papers). Each is tested against the truth.
The rule set is not trained. Transaction level: F1 at the threshold that maximises it on the test rows, and
average precision (PR-AUC). Account level, over the test days: an account's score is its highest row's (the rule
set's: the rules it fired), the alert budget the `alerts` highest accounts (AMLGentex's mode K: 100 per 30 days per
100,000 accounts by default); recall at a false-positive rate is at the threshold that alerts that share of the
accounts without laundering; a case is found when any of its accounts is alerted. Per typology: the typology's
rows and accounts against all genuine ones, at the same overall alert budget and thresholds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import average_precision_score, precision_recall_curve

from fraud_pipeline.detection.aml_features import AML_FEATURES
from fraud_pipeline.detection.aml_rules import rules

ALL = "all"
FALSE_POSITIVE_RATES = (0.01, 0.05)
COLUMNS = ("detector", "typology", "f1", "pr_auc", "precision_at_budget", "recall_at_budget", "recall_at_1pct_fpr",
           "recall_at_5pct_fpr", "case_recall_at_budget", "test_rows", "test_laundering_rows", "accounts",
           "laundering_accounts", "cases", "alerts", "train_laundering_rows", "train_known_rows",
           "train_observed_rows")


class TooLittleLaundering(ValueError):
    """The days hold no laundering to train on, or none to test on: nothing to score (a short run, few cases)."""


@dataclass(frozen=True)
class AmlProtocol:
    """The stream's first and last day and the first test day (the cut-off: labels known before it train)."""

    first: date
    test_first: date
    last: date

    @classmethod
    def split(cls, first: date, last: date, test_share: float) -> "AmlProtocol":
        """The last `test_share` of the days first..last (at least one) are tested. Raises ValueError when fewer
        than two days leave nothing to train on."""
        days = (last - first).days + 1
        test = max(1, round(days * test_share))
        if days - test < 1:
            raise ValueError(f"the AML scorecard needs at least two days to train and test on; got {first} … {last}")
        return cls(first, last - timedelta(days=test - 1), last)

    @property
    def cutoff(self) -> pd.Timestamp:
        return pd.Timestamp(self.test_first)


def alert_budget(accounts: int, days: int, per_100k_accounts_month: float) -> int:
    """How many accounts the analysts review over `days` (at least one): AMLGentex's budget K, per 100,000 accounts
    per 30 days."""
    return max(1, round(per_100k_accounts_month * accounts / 100_000 * days / 30))


def boosted(seed: int) -> HistGradientBoostingClassifier:
    """The boosted reference (scikit-learn's histogram gradient boosting, the LightGBM algorithm; deterministic for
    a seed, no early stopping): AMLworld's strongest tabular baseline is LightGBM or XGBoost on such features."""
    return HistGradientBoostingClassifier(max_iter=300, learning_rate=0.05, max_leaf_nodes=31, min_samples_leaf=20,
                                          l2_regularization=1.0, early_stopping=False, random_state=seed % 2**32)


def known_at(rows: pd.DataFrame, cases: pd.DataFrame, cutoff: pd.Timestamp) -> np.ndarray:
    """Whether each row is laundering whose case the bank had reported before `cutoff` (`cases`: aml_cases)."""
    reported = cases.groupby("case_id")["label_available_at"].min()
    known = rows["aml_case_id"].map(reported) < cutoff
    return (rows["laundering"] & known.fillna(False)).to_numpy(bool)


def observed_at(rows: pd.DataFrame, reports: pd.DataFrame, cutoff: pd.Timestamp) -> np.ndarray:
    """Whether each row is on an account the bank had reported before `cutoff`, within the activity reported
    (`reports`: aml_reports) — the bank's own label, true or not: a reported case's genuine rows in its window too,
    a false suspicion's day, a holder's other account."""
    filed = reports.loc[reports["reported_at"] < cutoff, ["account_id", "activity_from", "activity_to"]]
    on = pd.DataFrame({"account_id": rows["account_id"].to_numpy(), "event_time": rows["event_time"].to_numpy(),
                       "row": np.arange(len(rows))}).merge(filed, on="account_id")
    inside = on.loc[(on["event_time"] >= on["activity_from"]) & (on["event_time"] <= on["activity_to"]), "row"]
    observed = np.zeros(len(rows), bool)
    observed[inside.to_numpy()] = True
    return observed


def aml_scorecard(rows: pd.DataFrame, table: pd.DataFrame, cases: pd.DataFrame, protocol: AmlProtocol, seed: int,
                  cash_threshold: float, alerts: int,
                  reports: pd.DataFrame | None = None) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Score `rows` (a `money_stream`) from `table` (its AML_FEATURES, same index) with the rule set and the boosted
    detector trained on known and on all labels — and, given `reports` (aml_reports), on the bank's observed
    labels at the cut-off (`observed_at`). Returns the scorecard (COLUMNS; a row per detector and typology,
    `all` first) and each detector's test-row scores. `alerts`: the accounts reviewed over the test days
    (`alert_budget`). Raises TooLittleLaundering (a ValueError) when the training days hold no laundering, or the
    test days none."""
    day = rows["event_time"].dt.normalize()
    train = (day < protocol.cutoff).to_numpy()
    test = ~train
    truth = rows["laundering"].to_numpy(bool)
    if not truth[train].any() or not truth[test].any():
        raise TooLittleLaundering(f"the AML scorecard needs laundering on the training days ({protocol.first} … "
                         f"{protocol.test_first - timedelta(days=1)}) and on the test days ({protocol.test_first} … "
                         f"{protocol.last}); got {int(truth[train].sum())} and {int(truth[test].sum())} rows")
    known = known_at(rows, cases, protocol.cutoff)
    x = table[list(AML_FEATURES)].to_numpy(float)
    fired = rules(table[test], cash_threshold)
    scores = {"rules": np.sum(list(fired.values()), axis=0).astype(float)}
    trainings = [("boosted_known_labels", known), ("boosted_all_labels", truth)]
    observed = None if reports is None else observed_at(rows, reports, protocol.cutoff)
    if observed is not None:
        trainings.insert(1, ("boosted_observed_labels", observed))
    for name, labels in trainings:
        if labels[train].any():
            scores[name] = boosted(seed).fit(x[train], labels[train]).predict_proba(x[test])[:, 1]
    tested = rows[test]
    typologies = sorted(tested.loc[tested["laundering"], "aml_typology"].unique())
    results = []
    for name, score in scores.items():
        accounts = _accounts(tested, score, summed=name == "rules")
        for typology in (ALL, *typologies):
            results.append({"detector": name, "typology": typology,
                            **_transaction_level(tested, score, typology),
                            **_account_level(tested, accounts, alerts, typology),
                            "train_laundering_rows": int(_of(rows[train], typology).sum()),
                            "train_known_rows": int((known[train] & _of(rows[train], typology)).sum()),
                            "train_observed_rows": None if observed is None else int(
                                (observed[train] & (typology == ALL or _of(rows[train], typology))).sum())})
    return pd.DataFrame(results, columns=list(COLUMNS)), scores


def _of(rows: pd.DataFrame, typology: str) -> np.ndarray:
    """Rows of the typology's laundering (all laundering for ALL)."""
    return (rows["laundering"] if typology == ALL else rows["aml_typology"] == typology).to_numpy(bool)


def _transaction_level(tested: pd.DataFrame, score: np.ndarray, typology: str) -> dict[str, float | int]:
    keep = ~tested["laundering"].to_numpy(bool) | _of(tested, typology)
    y = _of(tested, typology)[keep]
    precision, recall, _ = precision_recall_curve(y, score[keep])
    f1 = np.where(precision + recall > 0, 2 * precision * recall / np.maximum(precision + recall, 1e-12), 0.0)
    return {"f1": float(f1.max()), "pr_auc": float(average_precision_score(y, score[keep])),
            "test_rows": int(keep.sum()), "test_laundering_rows": int(y.sum())}


def _accounts(tested: pd.DataFrame, score: np.ndarray, summed: bool) -> pd.DataFrame:
    """Per account of the test days, highest score first (ties by account id): its score (the highest row's, or the
    sum for the rule set) and whether it laundered."""
    frame = pd.DataFrame({"account_id": tested["account_id"].to_numpy(), "score": score,
                          "laundering": tested["laundering"].to_numpy(bool)})
    grouped = frame.groupby("account_id", sort=True)
    accounts = pd.DataFrame({"score": grouped["score"].sum() if summed else grouped["score"].max(),
                             "laundering": grouped["laundering"].any()})
    return accounts.reset_index().sort_values(["score", "account_id"], ascending=[False, True], kind="stable")


def _account_level(tested: pd.DataFrame, accounts: pd.DataFrame, alerts: int, typology: str) -> dict[str, float | int]:
    """Account and case measures of the typology's accounts (those with a test row of it) and cases."""
    of = tested[_of(tested, typology)]
    mine = accounts["account_id"].isin(of["account_id"]).to_numpy()
    top = accounts.head(alerts)
    genuine = np.sort(accounts.loc[~accounts["laundering"], "score"].to_numpy())[::-1]
    found = {}
    for rate in FALSE_POSITIVE_RATES:
        # the highest score above which at most `rate` of the genuine accounts lie
        threshold = genuine[min(int(np.floor(rate * len(genuine))), len(genuine) - 1)] if len(genuine) else -np.inf
        found[f"recall_at_{round(rate * 100)}pct_fpr"] = float((accounts.loc[mine, "score"] > threshold).mean())
    members = of[["aml_case_id", "account_id"]].drop_duplicates()
    alerted = members["account_id"].isin(top["account_id"])
    cases = members["aml_case_id"].nunique()
    return {"precision_at_budget": float(top["laundering"].mean()) if typology == ALL else np.nan,
            "recall_at_budget": float(top["account_id"].isin(of["account_id"]).sum() / max(int(mine.sum()), 1)),
            **found, "case_recall_at_budget": members.loc[alerted, "aml_case_id"].nunique() / max(cases, 1),
            "accounts": len(accounts), "laundering_accounts": int(mine.sum()), "cases": cases, "alerts": len(top)}
