"""The detection scorecard: two reference detectors trained and tested the way the Fraud Detection Handbook does
it (Le Borgne et al., 2022, chapters 5.2 and 4.2), so the numbers are comparable with the ones it reports on its
simulated data (ROC AUC ~0.87, average precision ~0.6–0.66, about 57 % of the best card precision@100).

Protocol: train on the baseline days with only the labels known at the end of them (`label_available_at`);
test on the days after, each day without the cards whose fraud was already known before it starts (a bank has
blocked those). Metrics per detector, overall and per scenario (genuine rows with that scenario's fraud): ROC
AUC and average precision over the test rows, and card precision@100 — per test day, of the 100 cards with the
highest score (a card's highest row), the share with fraud that day, averaged over days — with its ceiling, the
value a perfect detector gets (the day's compromised cards, at most 100, over 100).

On a sample of the bank's customers (`sample`, the scenario's detection.sample_share) the same protocol runs on the
sample's rows, and card precision@100 is measured over the sample's top `top` cards, the same share of the day's
cards as the bank's top 100 (25 of a 25 % sample): precision and ceiling keep their meaning, with more noise.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from fraud_pipeline.detection.features import FEATURES

TOP_CARDS = 100
ALL = "all"
COLUMNS = ("detector", "scenario", "roc_auc", "average_precision", "card_precision_at_100", "ceiling",
           "share_of_ceiling", "test_rows", "test_fraud_rows", "compromised_cards_per_day", "train_fraud_rows",
           "label_coverage")


@dataclass(frozen=True)
class Protocol:
    """Training days (inclusive), the cut-off after which no label is known to training, and the test days."""

    train_first: date
    train_last: date
    test_first: date
    test_last: date

    @property
    def cutoff(self) -> pd.Timestamp:
        return pd.Timestamp(self.train_last + timedelta(days=1))

    @property
    def days(self) -> list[date]:
        return [self.train_first + timedelta(days=i) for i in range((self.test_last - self.train_first).days + 1)]


def detectors(seed: int) -> dict[str, object]:
    """The reference detectors (scikit-learn, deterministic for a seed): a scaled logistic regression and a random
    forest. The forest was chosen over gradient-boosted trees (HistGradientBoosting, three settings) by average
    precision on a validation split inside the training days — train on days 1–10 with the labels known at day 11,
    validate on days 11–14 — as the Handbook selects models (chapter 5): 0.45 against 0.09–0.29 on the default
    scenario. Boosting on labels of which most fraud is not yet known overfits them; bagging is steadier."""
    return {
        "logistic_regression": make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)),
        "random_forest": RandomForestClassifier(n_estimators=100, min_samples_leaf=5, max_features="sqrt", n_jobs=2,
                                                random_state=seed % 2**32),
    }


def split(rows: pd.DataFrame, protocol: Protocol) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(training rows, their labels as known at the cut-off, test rows): boolean masks and labels over `rows`."""
    day = rows["event_time"].dt.date
    train = (day >= protocol.train_first) & (day <= protocol.train_last)
    known = rows["is_fraud"] & (rows["label_available_at"] < protocol.cutoff)
    test = (day >= protocol.test_first) & (day <= protocol.test_last)
    # cards whose fraud the bank knew before the test day started are blocked: not scored (the Handbook's rule)
    labelled = rows[rows["is_fraud"] & rows["label_available_at"].notna()]
    first_known = labelled.groupby("card_number")["label_available_at"].min()
    known_before = rows["card_number"].map(first_known) < rows["event_time"].dt.normalize()
    return train.to_numpy(), known.to_numpy(), (test & ~known_before.fillna(False)).to_numpy()


def card_precision_at_k(rows: pd.DataFrame, score: np.ndarray, k: int = TOP_CARDS) -> tuple[float, float, float]:
    """Mean over days of the share of compromised cards among the k highest-scoring cards, its ceiling, and the
    mean number of compromised cards a day. `rows`: card_number, event_time, is_fraud."""
    cards = pd.DataFrame({"day": rows["event_time"].dt.date.to_numpy(), "card": rows["card_number"].to_numpy(),
                          "score": score, "fraud": rows["is_fraud"].to_numpy()})
    cards = cards[cards["card"].notna()].groupby(["day", "card"]).agg(score=("score", "max"), fraud=("fraud", "max"))
    precision, ceiling, compromised = [], [], []
    for _, day in cards.groupby(level="day"):
        top = day.sort_values("score", ascending=False, kind="stable").head(k)
        precision.append(top["fraud"].sum() / k)
        ceiling.append(min(k, int(day["fraud"].sum())) / k)
        compromised.append(int(day["fraud"].sum()))
    return float(np.mean(precision)), float(np.mean(ceiling)), float(np.mean(compromised))


def scorecard(rows: pd.DataFrame, table: pd.DataFrame, protocol: Protocol, seed: int,
              scenarios: tuple[str, ...], top: int = TOP_CARDS) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Train and test each detector on `table` (FEATURES of `rows`, same index). Returns the scorecard (COLUMNS;
    one row per detector and scenario, `all` first) and each detector's test scores (over the test rows).
    `top`: the cards card_precision_at_100 ranks a day (100 for the whole bank, `sample.top_cards` for a sample)."""
    train, known, test = split(rows, protocol)
    if not known[train].any() or known[train].all():
        raise ValueError(f"the training days {protocol.train_first} … {protocol.train_last} need genuine rows and "
                         f"fraud whose label is known by {protocol.cutoff:%Y-%m-%d}; got "
                         f"{int(known[train].sum())} known fraud rows of {int(train.sum())}")
    x = table[list(FEATURES)].to_numpy(float)
    tested = rows[test]
    fraud_in_training = rows["is_fraud"].to_numpy() & train
    coverage = {name: _share(known[fraud_in_training & (rows["fraud_scenario"] == name).to_numpy()])
                for name in scenarios}
    coverage[ALL] = _share(known[fraud_in_training])
    results, scores = [], {}
    for name, model in detectors(seed).items():
        model.fit(x[train], known[train])
        if "n_jobs" in model.get_params():
            # trees are grown in parallel (each from its own seed: the same trees), but a parallel predict_proba
            # sums the trees' votes in whatever order threads finish, which changes the last bits of a score
            model.set_params(n_jobs=1)
        score = model.predict_proba(x[test])[:, 1]
        scores[name] = score
        for scenario in (ALL, *scenarios):
            keep = (~tested["is_fraud"] | (tested["fraud_scenario"] == scenario) if scenario != ALL
                    else pd.Series(True, index=tested.index)).to_numpy()
            part, part_score = tested[keep], score[keep]
            y = part["is_fraud"].to_numpy()
            if y.all() or not y.any():
                continue
            precision, ceiling, compromised = card_precision_at_k(part, part_score, top)
            results.append({"detector": name, "scenario": scenario, "roc_auc": roc_auc_score(y, part_score),
                            "average_precision": average_precision_score(y, part_score),
                            "card_precision_at_100": precision, "ceiling": ceiling,
                            "share_of_ceiling": precision / ceiling if ceiling else np.nan,
                            "test_rows": len(part), "test_fraud_rows": int(y.sum()),
                            "compromised_cards_per_day": compromised,
                            "train_fraud_rows": int((fraud_in_training & ((rows["fraud_scenario"] == scenario).to_numpy()
                                                                          if scenario != ALL else True)).sum()),
                            "label_coverage": coverage[scenario]})
    return pd.DataFrame(results, columns=list(COLUMNS)), scores


def _share(mask: np.ndarray) -> float:
    return float(mask.mean()) if len(mask) else float("nan")
