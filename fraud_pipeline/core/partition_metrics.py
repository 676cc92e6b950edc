"""Numbers each daily partition reports in its metadata, for users to chart over the calendar. Pure Arrow.

A day of the bank is written in parts (its file ranges, computed anywhere), so the bank's tables are measured in two
steps: each part's `tallies` (counts and sums, small and picklable), then the day's metrics from every part's
tallies (`day_metrics`). The landing tables and the anomaly manifest are written whole and measured directly.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fraud_pipeline.core.labels import AML_TYPOLOGIES, SCENARIOS

Tallies = dict[str, float]


def _count(table: pa.Table, column: str, value: str) -> int:
    return int(pc.sum(pc.equal(table[column], value)).as_py() or 0)


def tallies(name: str, table: pa.Table) -> Tallies:
    """The counts and sums of one part of the bank day's table `name` that its metrics are made of."""
    if name == "card_transactions":
        approved = table.filter(pc.equal(table["status"], "approved"))
        return {"rows": table.num_rows, "declined": _count(table, "status", "declined"),
                "credits": _count(table, "direction", "credit"),
                "approved_amount": float(pc.sum(approved["amount"]).as_py() or 0.0),
                "laundering_rows": table.num_rows - table["aml_case_id"].null_count}
    if name == "account_balances":
        return {"rows": table.num_rows,
                "median_balance": float(pc.approximate_median(table["balance"]).as_py() or 0.0),
                "accounts_below_zero": int(pc.sum(pc.less(table["balance"], 0)).as_py() or 0),
                "cards_blocked": _count(table, "card_status", "blocked")}
    if name == "card_events":
        return {f"cards_{event}": _count(table, "event", event) for event in ("issued", "blocked", "expired")}
    if name == "customer_events":
        return {"sessions": pc.count_distinct(table["session_id"]).as_py() or 0,
                "purchases": _count(table, "event_type", "purchase"),
                "fraud_events": int(pc.sum(table["is_fraud"]).as_py() or 0)}
    if name == "fraud_transactions":
        return {"rows": table.num_rows, "fraud_declined": _count(table, "status", "declined"),
                **{f"rows.{s}": _count(table, "fraud_scenario", s) for s in SCENARIOS}}
    if name == "fraud_episodes":
        return {f"episodes.{s}": _count(table, "scenario", s) for s in SCENARIOS}
    if name == "aml_cases":
        return {f"cases.{t}": _count(table, "typology", t) for t in AML_TYPOLOGIES}
    if name == "aml_reports":
        return {"reports": pc.count_distinct(table["report_id"]).as_py(), "accounts_named": table.num_rows}
    raise ValueError(f"no tallies for {name!r}")


def day_metrics(name: str, parts: list[Tallies], genuine_rows: int = 0) -> dict:
    """The metrics of the day's table `name` from its parts' tallies (`genuine_rows`: the day's genuine
    transactions, for the fraud share). Counts and sums add up; `median_balance` is the median of the parts'
    medians weighted by their accounts — exact with one part, and a close estimate with more, since every part is
    a random cut of the customers."""
    total = {key: sum(p[key] for p in parts) for key in parts[0]} if parts else {}
    if name == "card_transactions":
        return {"declined_share": round(total["declined"] / max(total["rows"], 1), 6), "credits": total["credits"],
                "approved_amount": round(total["approved_amount"], 2), "laundering_rows": total["laundering_rows"]}
    if name == "account_balances":
        return {"median_balance": round(_weighted_median([p["median_balance"] for p in parts],
                                                         [p["rows"] for p in parts]), 2),
                "accounts_below_zero": total["accounts_below_zero"], "cards_blocked": total["cards_blocked"]}
    if name == "customer_events":
        return {"sessions": total["sessions"], "conversion": round(total["purchases"] / max(total["sessions"], 1), 6),
                "fraud_events": total["fraud_events"]}
    if name == "fraud_transactions":
        return {"fraud_share": round(total["rows"] / max(total["rows"] + genuine_rows, 1), 6),
                **{key: value for key, value in total.items() if key != "rows"}}
    return total


def _weighted_median(values: list[float], weights: list[int]) -> float:
    if not values or sum(weights) == 0:
        return 0.0
    order = np.argsort(values, kind="stable")
    cumulative = np.cumsum(np.asarray(weights, float)[order])
    return float(np.asarray(values)[order][np.searchsorted(cumulative, cumulative[-1] / 2)])


def landing(table: pa.Table) -> dict:
    watched = [c for c in table.column_names if c not in ("anomaly_type", "anomaly_id", "batch", "arrival_time")]
    cells = max(table.num_rows * len(watched), 1)
    return {"null_rate": round(sum(table[c].null_count for c in watched) / cells, 6),
            "rows_labelled": table.num_rows - table["anomaly_id"].null_count}


def manifest(table: pa.Table) -> dict:
    return {"planned_anomalies": table.num_rows,
            "rows_touched": int(pc.sum(table["rows_affected"]).as_py() or 0)}
