"""The AML scorecard from a scenario's days: simulated in memory (or read back), scored, printed next to AMLworld's
published F1. The whole bank is scored (a sample of customers would cut the graph its features read)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from fraud_pipeline.detection.aml_features import NOT_MONEY_MOVEMENT, STREAM_COLUMNS, aml_features, money_stream
from fraud_pipeline.detection.aml_scorecard import AmlProtocol, alert_budget, aml_scorecard
from fraud_pipeline.scenario import Scenario

if TYPE_CHECKING:
    from fraud_pipeline.io.storage import ObjectStore

ENTITY_COLUMNS = {"customers": ("customer_id", "monthly_income", "monthly_turnover", "risk_rating",
                                 "pep_flag"),
                  "accounts": ("account_id", "avg_balance", "opened_date"),
                  "beneficiaries": ("beneficiary_id", "country", "is_high_risk")}
# Egressy et al. 2024, Table 2 (minority-class F1, %, AMLworld's small sets; aml-anchors §8.3 5)
AMLWORLD_F1 = {"LightGBM + graph features": (62.86, 20.83), "XGBoost + graph features": (63.23, 27.30),
               "Multi-PNA + EU (best GNN)": (68.16, 33.07)}


def money_rows(table: pa.Table) -> pa.Table:
    """A day's rows that move money (STREAM_COLUMNS), before they are joined: what the scorecard keeps of a day."""
    keep = pc.invert(pc.is_in(table["transaction_type"], value_set=pa.array(NOT_MONEY_MOVEMENT)))
    return table.filter(keep).select(list(STREAM_COLUMNS))


def simulated(scenario: Scenario, first: date, days: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame,
                                                                      pd.DataFrame, dict[str, pd.DataFrame]]:
    """(transactions, fraud, aml_cases, aml_reports, entities) of `days` days from `first`, simulated in memory
    (writes nothing), keeping only money-movement rows."""
    from fraud_pipeline.engine.bank import Bank

    bank = Bank(scenario)
    kept, fraud, cases, reports = [], [], [], []
    for i in range(days):
        result = bank.day(first + timedelta(days=i))
        kept.append(money_rows(result.transactions))
        fraud.append(money_rows(result.fraud_transactions))
        cases.append(result.aml_cases)
        reports.append(result.aml_reports)
    entities = {name: bank.entities[name].select(list(columns)).to_pandas() for name, columns in ENTITY_COLUMNS.items()}
    return (pa.concat_tables(kept).to_pandas(), pa.concat_tables(fraud).to_pandas(),
            pa.concat_tables(cases).to_pandas(), pa.concat_tables(reports).to_pandas(), entities)


def stored(store: "ObjectStore", scenario: Scenario, first: date, days: int) -> tuple[
        pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame, dict[str, pd.DataFrame]]:
    """What `simulated` returns, read from `store` part file by part file. Raises TableNotReady naming the first
    table or day missing, ScenarioMismatch when the store holds another scenario."""
    store.check_scenario(scenario.content_hash)
    dates = [(first + timedelta(days=i)).isoformat() for i in range(days)]

    def read(layer: str, name: str, keep, columns: list[str] | None = None) -> pd.DataFrame:
        return pa.concat_tables([keep(part) for day in dates for part in store.iter_parts(layer, name, day, columns)],
                                promote_options="default").to_pandas()

    entities = {name: pa.concat_tables(list(store.iter_parts("entities", name, columns=list(columns)))).to_pandas()
                for name, columns in ENTITY_COLUMNS.items()}
    wanted = list(STREAM_COLUMNS)  # all money_rows keeps
    return (read("events", "card_transactions", money_rows, wanted),
            read("fraud", "fraud_transactions", money_rows, wanted),
            read("fraud", "aml_cases", lambda part: part), read("fraud", "aml_reports", lambda part: part), entities)


def run(scenario: Scenario, transactions: pd.DataFrame, fraud: pd.DataFrame, cases: pd.DataFrame,
        reports: pd.DataFrame, entities: dict[str, pd.DataFrame], first: date,
        last: date) -> tuple[pd.DataFrame, dict[str, float | int]]:
    """The AML scorecard (aml_scorecard.COLUMNS) of the days first..last and what it read (`about`). Raises
    aml_scorecard.TooLittleLaundering (a ValueError) when training or test days hold no laundering."""
    settings = scenario.detection
    rows = money_stream(transactions, fraud)
    table = aml_features(rows, entities, scenario.geography.country_code, scenario.aml.cash_threshold)
    protocol = AmlProtocol.split(first, last, settings.aml_test_share)
    test_days = (protocol.last - protocol.test_first).days + 1
    alerts = alert_budget(len(entities["accounts"]), test_days, settings.aml_alerts_per_100k_accounts_month)
    found, _ = aml_scorecard(rows, table, cases, protocol, scenario.seed, scenario.aml.cash_threshold, alerts,
                             reports)
    about = {"first": first.isoformat(), "test_first": protocol.test_first.isoformat(), "last": last.isoformat(),
             "rows": len(rows), "laundering_rows": int(rows["laundering"].sum()),
             "laundering_share": float(rows["laundering"].mean()), "cases": int(cases["case_id"].nunique()),
             "accounts": len(entities["accounts"]), "alerts": alerts}
    return found, about


def note(about: dict[str, float | int]) -> str:
    """One paragraph on what the scorecard read."""
    return (f"Trained on {about['first']} … the day before {about['test_first']} (the cut-off: labels known by then), "
            f"tested on {about['test_first']} … {about['last']}. {about['rows']:,} money-movement rows (transfers, "
            f"cash, income), {about['laundering_rows']:,} of them laundering ({about['laundering_share']:.3%}) in "
            f"{about['cases']:,} cases; {about['accounts']:,} accounts; an alert budget of {about['alerts']:,} "
            "accounts over the test days.")


def markdown(found: pd.DataFrame) -> str:
    """The scorecard as a Markdown table (rounded), and AMLworld's published F1 on the same metric."""
    shown = found[["detector", "typology", "f1", "pr_auc", "precision_at_budget", "recall_at_budget",
                   "recall_at_1pct_fpr", "recall_at_5pct_fpr", "case_recall_at_budget", "test_laundering_rows",
                   "laundering_accounts", "cases", "train_known_rows", "train_observed_rows"]].round(3)
    published = pd.DataFrame([{"AMLworld detector (Egressy et al. 2024)": name, "HI-Small F1": hi / 100,
                               "LI-Small F1": li / 100} for name, (hi, li) in AMLWORLD_F1.items()])
    return shown.to_markdown(index=False) + "\n\n" + published.to_markdown(index=False)
