"""Numbers each daily partition reports in its metadata, for users to chart over the calendar. Pure Arrow."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from fraud_pipeline.core.labels import SCENARIOS


def _count(table: pa.Table, column: str, value: str) -> int:
    return int(pc.sum(pc.equal(table[column], value)).as_py() or 0)


def transactions(table: pa.Table) -> dict:
    n = max(table.num_rows, 1)
    approved = table.filter(pc.equal(table["status"], "approved"))
    return {"declined_share": round(_count(table, "status", "declined") / n, 6),
            "credits": _count(table, "direction", "credit"),
            "approved_amount": round(float(pc.sum(approved["amount"]).as_py() or 0.0), 2)}


def balances(table: pa.Table) -> dict:
    return {"median_balance": round(float(pc.approximate_median(table["balance"]).as_py() or 0.0), 2),
            "accounts_below_zero": int(pc.sum(pc.less(table["balance"], 0)).as_py() or 0),
            "cards_blocked": _count(table, "card_status", "blocked")}


def card_events(table: pa.Table) -> dict:
    return {f"cards_{event}": _count(table, "event", event) for event in ("issued", "blocked", "expired")}


def customer_events(table: pa.Table) -> dict:
    sessions = pc.count_distinct(table["session_id"]).as_py() or 0
    return {"sessions": sessions,
            "conversion": round(_count(table, "event_type", "purchase") / max(sessions, 1), 6),
            "fraud_events": int(pc.sum(table["is_fraud"]).as_py() or 0)}


def fraud(table: pa.Table, genuine_rows: int) -> dict:
    metrics = {"fraud_share": round(table.num_rows / max(table.num_rows + genuine_rows, 1), 6),
               "fraud_declined": _count(table, "status", "declined")}
    metrics.update({f"rows.{name}": _count(table, "fraud_scenario", name) for name in SCENARIOS})
    return metrics


def episodes(table: pa.Table) -> dict:
    return {f"episodes.{name}": _count(table, "scenario", name) for name in SCENARIOS}


def landing(table: pa.Table) -> dict:
    watched = [c for c in table.column_names if c not in ("anomaly_type", "anomaly_id", "batch", "arrival_time")]
    cells = max(table.num_rows * len(watched), 1)
    return {"null_rate": round(sum(table[c].null_count for c in watched) / cells, 6),
            "rows_labelled": table.num_rows - table["anomaly_id"].null_count}


def manifest(table: pa.Table) -> dict:
    return {"planned_anomalies": table.num_rows,
            "rows_touched": int(pc.sum(table["rows_affected"]).as_py() or 0)}
