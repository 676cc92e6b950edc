"""Is the bank solvent over a horizon? Money in and out per month, declines by reason, and balances.

    python -m fraud_pipeline.solvency --to 2026-12-31 [--scenario my.yaml]

walks the scenario's bank day by day (nothing is written) and prints, per calendar month: money
leaving the bank ÷ money coming in (salaries, refunds and credits from outside; transfers between
the bank's own accounts are left out, they move money within it), the same per 30.44 days of outflow
(a month's income against a month's spending: a 28-day February pays out less than a 31-day March),
the share of customer-initiated payments declined and why, and percentiles of the accounts' balances
at the month's end. Business accounts are measured on their own (`business_out_in`, per calendar
month): their takings pass through to wages and suppliers within days, a month's in against the same
month's out, not a month's income against 30.44 days' spending.
`fraud_pipeline_tests/test_solvency.py` holds the bank to its bands over a year.
"""

from __future__ import annotations

import argparse
import calendar as month_calendar
import os
from collections import defaultdict
from collections.abc import Iterable
from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from fraud_pipeline.api import generate_days, load_scenario
from fraud_pipeline.engine.bank import Bank
from fraud_pipeline.scenario import SCENARIO_ENV, Scenario
from fraud_pipeline.world.calendar import MONTH_DAYS

CUSTOMER_INITIATED = ("purchase", "withdrawal", "transfer")
PERCENTILES = (5, 25, 50, 75, 95)


def monthly(days: Iterable[tuple[date, dict[str, pa.Table]]], business: pa.Array | None = None) -> pd.DataFrame:
    """One row per calendar month of `days` (what `api.generate_days` yields, with `labelled_transactions` and
    `account_balances`): out_in and out_in_per_month (of accounts other than `business`, the business accounts'
    ids), business_out_in (theirs), declined (share of genuine customer-initiated payments) and
    declined_<reason>, and the balance percentiles p5 … p95 (currency units) of the month's last day."""
    business = pa.array([], pa.string()) if business is None else business
    sums: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    balances: dict[str, np.ndarray] = {}
    for day, tables in days:
        month = f"{day:%Y-%m}"
        stream = tables["labelled_transactions"]
        approved = pc.equal(stream["status"], "approved")
        outside = pc.is_null(stream["counterparty_account_id"])
        credit = pc.equal(stream["direction"], "credit")
        amount = stream["amount"]
        s = sums[month]
        of_business = pc.is_in(stream["account_id"], business)
        for prefix, mine in (("", pc.invert(of_business)), ("business_", of_business)):
            moved = pc.and_(pc.and_(approved, outside), mine)
            s[f"{prefix}in"] += _sum(amount, pc.and_(moved, credit))
            s[f"{prefix}out"] += _sum(amount, pc.and_(moved, pc.invert(credit)))
        s["days"] += 1
        initiated = pc.and_(pc.and_(pc.invert(credit), pc.invert(stream["is_fraud"])),
                            pc.is_in(stream["transaction_type"], pa.array(CUSTOMER_INITIATED)))
        s["attempts"] += pc.sum(initiated).as_py() or 0
        reasons = stream["decline_reason"].filter(pc.and_(initiated, pc.invert(approved))).value_counts()
        for item in reasons.to_pylist():
            s[f"declined_{item['values']}"] += item["counts"]
        if day.day == month_calendar.monthrange(day.year, day.month)[1]:
            balances[month] = np.percentile(tables["account_balances"]["balance"].to_numpy(), PERCENTILES)
    rows = []
    for month, s in sums.items():
        year, number = map(int, month.split("-"))
        length = month_calendar.monthrange(year, number)[1]
        declined = {k: v / max(s["attempts"], 1) for k, v in s.items() if k.startswith("declined_")}
        row = {"month": month, "days": int(s["days"]), "out_in": s["out"] / max(s["in"], 1e-9),
               "out_in_per_month": s["out"] / max(s["in"], 1e-9) * MONTH_DAYS / length,
               "business_out_in": s["business_out"] / max(s["business_in"], 1e-9),
               "declined": sum(declined.values()), **declined}
        if month in balances:
            row.update({f"p{q}": value for q, value in zip(PERCENTILES, balances[month])})
        rows.append(row)
    return pd.DataFrame(rows).fillna(0.0)


def _sum(values: pa.ChunkedArray, mask) -> float:
    return pc.sum(values.filter(mask)).as_py() or 0.0


def year_of(scenario: Scenario, last: date) -> pd.DataFrame:
    """`monthly` over the scenario's days from its start to `last`."""
    world = Bank(scenario).world
    return monthly(generate_days(scenario.start_date, last, scenario=scenario,
                                 tables=("labelled_transactions", "account_balances")),
                   world.account_id.filter(pa.array(world.business)))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m fraud_pipeline.solvency", description=__doc__.split("\n\n")[0])
    parser.add_argument("--to", required=True, type=date.fromisoformat, help="the last day (YYYY-MM-DD)")
    parser.add_argument("--scenario", default=None, help="a scenario YAML file (default: FRAUD_PIPELINE_SCENARIO or "
                                                         "the default scenario)")
    args = parser.parse_args(argv)
    table = year_of(load_scenario(args.scenario or os.environ.get(SCENARIO_ENV)), args.to)
    with pd.option_context("display.width", 200, "display.max_columns", 30, "display.float_format", "{:.4g}".format):
        print(table.to_string(index=False))


if __name__ == "__main__":
    main()
