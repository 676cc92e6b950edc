"""A small bank with busy laundering, walked 21 days once for the package's tests."""

from datetime import date, timedelta

import pandas as pd
import pyarrow as pa
import pytest

from fraud_pipeline import api
from fraud_pipeline_tests.conftest import BUSY_LAUNDERING, scaled

FIRST, DAYS = date(2026, 1, 1), 21


@pytest.fixture(scope="package")
def busy(scenario):
    # 1,000 further accounts, of which a debit one opens about every day: 8 opened to launder in the 21 days (2,600
    # gave 4, too few to measure their leakage once the order accounts were drawn in the same lottery)
    return scaled(scenario, population={"customers": 2_000, "accounts": 3_000, "devices": 2_400,
                                        "beneficiaries": 3_000, "block_customers": 500},
                  card_transactions={"per_day": 2_000},
                  # most genuine accounts the bank's monitoring alerts on reported, and an alert from 3 senders:
                  # enough false suspicions to count
                  aml={**BUSY_LAUNDERING, "observed": {"alerted_share": 0.8, "fan_in": 3}},
                  accounts={"opening_later": 0.9})  # enough accounts opening in 21 days to be opened to launder


@pytest.fixture(scope="package")
def generated(busy):
    """21 days: every labelled row (genuine and fraud tables together), the day each was posted, every case and
    every report."""
    rows, posted, cases, reports = [], [], [], []
    for day, t in api.generate_days(FIRST, FIRST + timedelta(days=DAYS - 1), busy,
                                    tables=("labelled_transactions", "aml_cases", "aml_reports")):
        rows.append(t["labelled_transactions"])
        posted.append(pd.Series(pd.Timestamp(day), index=range(t["labelled_transactions"].num_rows)))
        cases.append(t["aml_cases"].append_column("partition", pa.array([day] * t["aml_cases"].num_rows,
                                                                        pa.date32())))
        reports.append(t["aml_reports"].append_column("partition", pa.array([day] * t["aml_reports"].num_rows,
                                                                            pa.date32())))
    return (pa.concat_tables(rows).to_pandas(), pd.concat(posted, ignore_index=True),
            pa.concat_tables(cases).to_pandas(), pa.concat_tables(reports).to_pandas())


@pytest.fixture(scope="package")
def days(generated):
    """21 days: every labelled row (genuine and fraud tables together) and every case."""
    rows, _, cases, _ = generated
    return rows, cases


def laundering_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows of laundering cases."""
    return rows[rows["aml_case_id"].notna()]


def finished(cases: pd.DataFrame, typology: str) -> pd.DataFrame:
    """The typology's cases whose every row arrived within the 21 days: enough of them (8), plain and stealthy."""
    mine = cases_over(cases)
    mine = mine[mine["typology"] == typology]
    assert len(mine) >= 8 and mine["stealth"].any() and (~mine["stealth"]).any(), typology
    return mine


def cases_over(cases: pd.DataFrame) -> pd.DataFrame:
    """Cases whose every row has arrived within the 21 days (their last row before the last day's last hour)."""
    return cases[cases["end_time"] < pd.Timestamp(FIRST + timedelta(days=DAYS - 1)) + pd.Timedelta(hours=23)]
