"""The laundering checks of a day (or any range of blocks of it: a case and its rows are in one block): labels
set together, rows that agree with their cases, and each typology's defining property where one day shows it.

A case's rows arrive over days; a day's check sees its rows and the cases that start on it. Rows of cases that
started earlier are checked against their case id (its typology and start date); the tests follow whole cases
across days (`fraud_pipeline_tests/aml`).
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa

from fraud_pipeline.core.findings import SAMPLE, Finding, Findings
from fraud_pipeline.core.labels import AML_PREFIX, AML_TYPOLOGIES
from fraud_pipeline.scenario import Scenario

AML_CHECKS = {
    "aml_labels_together": "A row's aml_typology, aml_case_id and aml_role are all set or all null, and the "
                           "typology is its case id's.",
    "aml_rows_agree_with_cases": "Every laundering row of a case that starts on the day belongs to one of the day's "
                                 "aml_cases with the same typology, account and role, between its start and end; "
                                 "every case of the day has a row by its end (or later days carry them).",
    "structuring_below_threshold": "Every structuring cash deposit is at most aml.cash_threshold, and every "
                                   "deposit-and-send deposit too.",
    "aml_reports_follow_cases": "Every reported case of the day names each of its accounts in aml_reports at its "
                                "label_available_at, over the whole days from the case's start to its end; every "
                                "report is filed after the activity it reports.",
}
COLUMNS = ["aml_typology", "aml_case_id", "aml_role", "account_id", "event_time", "transaction_type", "amount"]


def aml_findings(scenario: Scenario, transactions: pa.Table, cases: pa.Table, reports: pa.Table,
                 day: date) -> Findings:
    """The AML checks of `transactions` (the day's genuine table, where laundering rows are), `cases` (the
    day's aml_cases) and `reports` (the day's aml_reports)."""
    rows = transactions.select(COLUMNS).filter(transactions["aml_case_id"].is_valid()).to_pandas()
    set_ = transactions.select(["aml_typology", "aml_case_id", "aml_role"]).to_pandas().notna()
    partial = set_.any(axis=1) & ~set_.all(axis=1)
    prefix = dict(zip(AML_TYPOLOGIES, AML_PREFIX))
    wrong_prefix = rows["aml_case_id"].str[:4] != rows["aml_typology"].map(prefix)
    return {"aml_labels_together": [
                Finding("the three labels are set together", int(partial.sum()), []),
                Finding("the typology is the case id's", int(wrong_prefix.sum()),
                        rows.loc[wrong_prefix, "aml_case_id"].head(SAMPLE).tolist())],
            "aml_rows_agree_with_cases": _agree(scenario, rows, cases.to_pandas(), day),
            "structuring_below_threshold": _below(scenario, rows),
            "aml_reports_follow_cases": _reported(cases.to_pandas(), reports.to_pandas())}


def _reported(cases: pd.DataFrame, reports: pd.DataFrame) -> list[Finding]:
    reported = cases[cases["label_available_at"].notna()]
    joined = reported.merge(reports, on="account_id", how="left")
    whole_days = joined["end_time"].dt.floor("D") + pd.Timedelta(days=1) - pd.Timedelta(milliseconds=1)
    matches = ((joined["reported_at"] == joined["label_available_at"])
               & (joined["activity_from"] == joined["start_time"].dt.floor("D"))
               & (joined["activity_to"] == whole_days))
    named = matches.groupby([joined["case_id"], joined["account_id"]]).any()
    missing = named[~named].index.get_level_values("case_id")
    early = reports[reports["reported_at"] <= reports["activity_to"]]
    return [Finding("every reported case's account is reported at its label time", len(missing),
                    list(missing[:SAMPLE])),
            Finding("a report is filed after its activity", len(early), early["report_id"].head(SAMPLE).tolist())]


def _agree(scenario: Scenario, rows: pd.DataFrame, cases: pd.DataFrame, day: date) -> list[Finding]:
    today = rows[rows["aml_case_id"].str[5:13] == f"{day:%Y%m%d}"]
    joined = today.merge(cases, left_on=["aml_case_id", "account_id"], right_on=["case_id", "account_id"],
                         how="left")
    unknown = joined["case_id"].isna()
    wrong = ~unknown & ((joined["aml_typology"] != joined["typology"]) | (joined["aml_role"] != joined["role"])
                        | (joined["event_time"] < joined["start_time"]) | (joined["event_time"] > joined["end_time"]))
    # a case with no row today must have its rows still to come: none may have ended (and arrived) without one
    seen = set(today["aml_case_id"])
    arrived_by = pd.Timestamp(day) + pd.Timedelta(days=1) - pd.Timedelta(
        seconds=scenario.card_transactions.arrival_lag_seconds.max)
    ended_empty = cases[~cases["case_id"].isin(seen) & (cases["end_time"] < arrived_by)]
    return [Finding("every row of a case that starts today is in today's aml_cases", int(unknown.sum()),
                    joined.loc[unknown, "aml_case_id"].head(SAMPLE).tolist()),
            Finding("rows agree with their case's typology, account, role and times", int(wrong.sum()),
                    joined.loc[wrong, "aml_case_id"].head(SAMPLE).tolist()),
            Finding("no case of the day ends without a row", len(ended_empty),
                    ended_empty["case_id"].head(SAMPLE).tolist())]


def _below(scenario: Scenario, rows: pd.DataFrame) -> list[Finding]:
    placed = rows[rows["aml_typology"].isin(["structuring", "deposit_and_send"])
                  & (rows["transaction_type"] == "cash_deposit")]
    over = placed[np.asarray(placed["amount"] > scenario.aml.cash_threshold)]
    return [Finding(f"cash placed stays at most R{scenario.aml.cash_threshold:,.2f}", len(over),
                    over["aml_case_id"].head(SAMPLE).tolist())]
