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
    return scaled(scenario, population={"customers": 2_000, "accounts": 2_600, "devices": 2_400,
                                        "beneficiaries": 3_000, "block_customers": 500},
                  card_transactions={"per_day": 2_000}, aml=BUSY_LAUNDERING,
                  accounts={"opening_later": 0.9})  # enough accounts opening in 21 days to be opened to launder


@pytest.fixture(scope="package")
def days(busy):
    """21 days: every labelled row (genuine and fraud tables together) and every case."""
    rows, cases = [], []
    for day, t in api.generate_days(FIRST, FIRST + timedelta(days=DAYS - 1), busy,
                                    tables=("labelled_transactions", "aml_cases")):
        rows.append(t["labelled_transactions"])
        cases.append(t["aml_cases"].append_column("partition", pa.array([day] * t["aml_cases"].num_rows,
                                                                        pa.date32())))
    return pa.concat_tables(rows).to_pandas(), pa.concat_tables(cases).to_pandas()


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
