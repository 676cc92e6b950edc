"""The scorecard as the asset and the command line produce it: from a scenario's stored (or simulated) days to a
table and a picture, on the scenario's sample of whole customers (`sample`; detection.sample_share)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from fraud_pipeline.core import plots
from fraud_pipeline.core.labels import SCENARIOS
from fraud_pipeline.core.timeline import BASELINE_DAYS
from fraud_pipeline.detection import sample
from fraud_pipeline.detection.features import features, labelled_stream
from fraud_pipeline.detection.scorecard import ALL, TOP_CARDS, Protocol, scorecard
from fraud_pipeline.scenario import Scenario

if TYPE_CHECKING:
    from fraud_pipeline.io.storage import ObjectStore

ENTITIES = ("customers", "accounts", "device_history", "account_beneficiaries", "beneficiaries")
TEST_DAYS = 7
# What labelled_stream, features and scorecard read of the payments, and what describe counts: the stored days are
# read with these columns only (19 of 35).
STREAM_COLUMNS = ("transaction_id", "event_time", "card_number", "account_id", "customer_id", "channel", "direction",
                  "merchant_id", "beneficiary_id", "amount", "lat", "lon", "country", "device_id", "recipient_status",
                  "is_fraud", "fraud_scenario", "fraud_episode_id", "label_available_at")
# What features reads of each entity table, and the column whose values the sample's payments name (only those rows
# are kept: an entity row no sampled payment names is never looked up).
ENTITY_READS = {"customers": (("customer_id", "home_lat", "home_lon"), "customer_id"),
                "accounts": (("account_id", "avg_balance"), "account_id"),
                "device_history": (("customer_id", "device_id", "trusted_from"), "customer_id"),
                "account_beneficiaries": (("account_id", "beneficiary_id", "added_date"), "account_id"),
                "beneficiaries": (("beneficiary_id", "is_high_risk"), "beneficiary_id")}


def protocol(scenario: Scenario, first: date | None = None) -> Protocol:
    """Train on the 14 baseline days, test on the 7 days after them (the anomaly window's days: the calendar a
    default run materialises) — or on the 14 days from `first` and the 7 after them (any three weeks of the
    calendar, to see that difficulty holds later in a year)."""
    first = first or scenario.start_date
    return Protocol(first, first + timedelta(days=BASELINE_DAYS - 1), first + timedelta(days=BASELINE_DAYS),
                    first + timedelta(days=BASELINE_DAYS + TEST_DAYS - 1))


def share(scenario: Scenario) -> float:
    """The share of the bank's customers the scorecard samples (detection.sample_share, at least
    detection.min_sample_customers customers)."""
    return scenario.detection.share(scenario.population.customers)


def stored(store: "ObjectStore", scenario: Scenario) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, pd.DataFrame]]:
    """What `run` takes, read from `store`: the payments out (STREAM_COLUMNS) of the sampled customers over the
    protocol's days of card_transactions and fraud_transactions, and the rows of the ENTITIES tables they name.
    Each part file is filtered as it is read, so memory follows the sample, not the bank. Raises TableNotReady
    naming the first one missing, ScenarioMismatch when the store holds another scenario."""
    store.check_scenario(scenario.content_hash)
    days = [day.isoformat() for day in protocol(scenario).days]
    payments = [_read_payments(store, layer, name, days, scenario.seed, share(scenario))
                for layer, name in (("events", "card_transactions"), ("fraud", "fraud_transactions"))]
    named = pa.concat_tables(payments, promote_options="default")
    entities = {name: _read_named(store, name, columns, pc.unique(named[key].drop_null()))
                for name, (columns, key) in ENTITY_READS.items()}
    return payments[0].to_pandas(), payments[1].to_pandas(), entities


def _read_payments(store: "ObjectStore", layer: str, name: str, days: list[str], seed: int,
                   fraction: float) -> pa.Table:
    """The sampled customers' payments out over `days`, part file by part file."""
    def kept(part: pa.Table) -> pa.Table:
        part = sample.keep_table(part, seed, fraction)
        return part.filter(pc.equal(part["direction"], "debit"))

    parts = [kept(part) for day in days for part in store.iter_parts(layer, name, day, list(STREAM_COLUMNS))]
    return pa.concat_tables(parts, promote_options="default")


def _read_named(store: "ObjectStore", name: str, columns: tuple[str, ...], named: pa.Array) -> pd.DataFrame:
    """The rows of an entity table whose `ENTITY_READS` key is among `named`, with the columns features reads."""
    key = ENTITY_READS[name][1]
    parts = [part.filter(pc.is_in(part[key], value_set=named))
             for part in store.iter_parts("entities", name, columns=list(columns))]
    return pa.concat_tables(parts, promote_options="default").to_pandas()


def run(scenario: Scenario, transactions: pd.DataFrame, fraud: pd.DataFrame, entities: dict[str, pd.DataFrame],
        first: date | None = None) -> tuple[pd.DataFrame, bytes, dict[str, float | int | str]]:
    """The scorecard (scorecard.COLUMNS), its picture and what its sample holds (`describe`), from the protocol's
    days (from `first`, by default the calendar's start) of card_transactions and fraud_transactions and the ENTITIES
    tables, on the scenario's sample of customers: rows of other customers are dropped here (so whole tables and
    `stored`'s sampled ones give the same scorecard), and card precision ranks the sample's share of the bank's top
    100 cards. Raises ValueError if the training days hold no known fraud."""
    fraction = share(scenario)
    rows = labelled_stream(sample.keep_frame(transactions, scenario.seed, fraction),
                           sample.keep_frame(fraud, scenario.seed, fraction))
    table = features(rows, entities, scenario.geography.country_code)
    enabled = tuple(name for name in SCENARIOS if getattr(scenario.fraud, name).enabled)
    found, _ = scorecard(rows, table, protocol(scenario, first), scenario.seed, enabled,
                         sample.top_cards(fraction, TOP_CARDS))
    return found, picture(found), describe(scenario, rows)


def describe(scenario: Scenario, rows: pd.DataFrame) -> dict[str, float | int | str]:
    """What the scorecard's sample holds: its share and key, the bank's customers in it, and the cards, fraud cards,
    fraud episodes and payments it scores (`rows`: the sample's labelled stream)."""
    fraction = share(scenario)
    fraudulent = rows[rows["is_fraud"]]
    customers = scenario.population.customers
    return {"sample_share": fraction, "keyed_on": f"{sample.KEYED_ON} (the customer number, keyed by the seed)",
            "customers_in_sample": int(sample.chosen(np.arange(customers), scenario.seed, fraction).sum()),
            "customers_in_bank": customers, "cards": int(rows["card_number"].nunique()),
            "payments_scored": len(rows), "fraud_payments": len(fraudulent),
            "fraud_cards": int(fraudulent["card_number"].nunique()),
            "fraud_episodes": int(fraudulent["fraud_episode_id"].nunique()),
            "top_cards_per_day": sample.top_cards(fraction, TOP_CARDS)}


def sample_note(about: dict[str, float | int | str]) -> str:
    """One paragraph on the sample for the UI, the command line and the log: what share, keyed on what, how much
    fraud it holds, and why it is unbiased."""
    if about["sample_share"] >= 1:
        return (f"Scored on the whole bank: {about['customers_in_bank']:,} customers, {about['fraud_cards']:,} "
                f"fraud cards in {about['fraud_episodes']:,} episodes, {about['payments_scored']:,} payments out.")
    return (f"Scored on a sample of {about['sample_share']:.0%} of the customers ({about['customers_in_sample']:,} of "
            f"{about['customers_in_bank']:,}), chosen by a keyed hash of the customer number: {about['cards']:,} "
            f"cards, {about['fraud_cards']:,} fraud cards in {about['fraud_episodes']:,} episodes, "
            f"{about['fraud_payments']:,} fraud payments among {about['payments_scored']:,} payments out. Whole "
            "customers are kept (every account, card and payment of each), so their features are the bank's, and "
            "membership depends on the customer number alone, not on fraud: an unbiased sample, with binomial noise. "
            f"Card precision@100 ranks the sample's top {about['top_cards_per_day']} cards a day, the same share of "
            "the day's cards as the bank's top 100. Merchant risk and a device's accounts count the sample's payments.")


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
