"""The scorecard as the asset and the command line produce it: from a scenario's stored (or simulated) days to a
table and a picture."""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from fraud_pipeline.core import plots
from fraud_pipeline.core.labels import SCENARIOS
from fraud_pipeline.core.timeline import BASELINE_DAYS
from fraud_pipeline.detection.features import features, labelled_stream
from fraud_pipeline.detection.scorecard import ALL, Protocol, scorecard
from fraud_pipeline.scenario import Scenario

if TYPE_CHECKING:
    from fraud_pipeline.io.storage import ObjectStore

ENTITIES = ("customers", "accounts", "device_history", "account_beneficiaries", "beneficiaries")
TEST_DAYS = 7


def protocol(scenario: Scenario, first: date | None = None) -> Protocol:
    """Train on the 14 baseline days, test on the 7 days after them (the anomaly window's days: the calendar a
    default run materialises) — or on the 14 days from `first` and the 7 after them (any three weeks of the
    calendar, to see that difficulty holds later in a year)."""
    first = first or scenario.start_date
    return Protocol(first, first + timedelta(days=BASELINE_DAYS - 1), first + timedelta(days=BASELINE_DAYS),
                    first + timedelta(days=BASELINE_DAYS + TEST_DAYS - 1))


def stored(store: "ObjectStore", scenario: Scenario) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, pd.DataFrame]]:
    """What `run` takes, read from `store`: the protocol's days of card_transactions and fraud_transactions, and
    the ENTITIES tables. Raises TableNotReady naming the first one missing, ScenarioMismatch when the store holds
    another scenario."""
    store.check_scenario(scenario.content_hash)
    keys = [day.isoformat() for day in protocol(scenario).days]
    read = lambda layer, name: pd.concat([store.read_table(layer, name, key).to_pandas() for key in keys],  # noqa: E731
                                         ignore_index=True)
    return (read("events", "card_transactions"), read("fraud", "fraud_transactions"),
            {name: store.read_table("entities", name).to_pandas() for name in ENTITIES})


def run(scenario: Scenario, transactions: pd.DataFrame, fraud: pd.DataFrame,
        entities: dict[str, pd.DataFrame], first: date | None = None) -> tuple[pd.DataFrame, bytes]:
    """The scorecard (scorecard.COLUMNS) and its picture from the protocol's days (from `first`, by default the
    calendar's start) of card_transactions and fraud_transactions and the ENTITIES tables. Raises ValueError if the
    training days hold no known fraud."""
    rows = labelled_stream(transactions, fraud)
    table = features(rows, entities, scenario.geography.country_code)
    enabled = tuple(name for name in SCENARIOS if getattr(scenario.fraud, name).enabled)
    found, _ = scorecard(rows, table, protocol(scenario, first), scenario.seed, enabled)
    return found, picture(found)


def picture(found: pd.DataFrame) -> bytes:
    """Two panels: average precision per scenario and detector; card precision@100 against its ceiling."""
    fig, axes = plots.figure(9.5, 3.4, 1, 2)
    scenarios = list(dict.fromkeys(found["scenario"]))
    detectors = list(dict.fromkeys(found["detector"]))
    x = np.arange(len(scenarios))
    width = 0.8 / max(len(detectors), 1)
    colours = ["#4c72b0", "#dd8452"]
    for i, name in enumerate(detectors):
        mine = found[found["detector"] == name].set_index("scenario").reindex(scenarios)
        offset = (i - (len(detectors) - 1) / 2) * width
        axes[0, 0].bar(x + offset, mine["average_precision"], width, label=name.replace("_", " "),
                       color=colours[i % len(colours)])
        axes[0, 1].bar(x + offset, mine["card_precision_at_100"], width, label=name.replace("_", " "),
                       color=colours[i % len(colours)])
        if i == 0:
            axes[0, 1].scatter(x, mine["ceiling"], marker="_", s=900, color="black", zorder=3, label="ceiling")
    labels = [s.replace("_", "\n") if s != ALL else "all" for s in scenarios]
    for ax, title, label in ((axes[0, 0], "Average precision (test days)", "average precision"),
                             (axes[0, 1], "Card precision@100 (mean per test day)", "share of the top 100 cards")):
        ax.set_xticks(x, labels)
        ax.set_ylim(0, 1)
        ax.set_ylabel(label)
        ax.set_title(title)
    axes[0, 1].set_ylim(0, max(0.05, float(found["ceiling"].max()) * 1.25))
    axes[0, 0].legend(loc="upper left")
    axes[0, 1].legend(loc="upper right")
    return plots.png(fig)


def markdown(found: pd.DataFrame) -> str:
    """The scorecard as a Markdown table (rounded) for the UI and the README."""
    shown = found[["detector", "scenario", "roc_auc", "average_precision", "card_precision_at_100", "ceiling",
                   "share_of_ceiling", "test_fraud_rows", "label_coverage"]].copy()
    return shown.round(3).to_markdown(index=False)
