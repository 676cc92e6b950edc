"""The anomaly manifest: for each planned anomaly of a day, the rows it touched and the metric it moves.

The metric is one the baseline profile tracks, so a data-quality gate or an anomaly model can be
scored against it: the baseline mean for that table and batch, the value the parameters should
produce, and what the landing batch shows (computed from the landing rows themselves).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa

from fraud_pipeline.core import schemas
from fraud_pipeline.core.timeline import BATCHES_PER_DAY, MS_PER_BATCH
from fraud_pipeline.quality.anomalies import Outcome, Planned, schedule_rows
from fraud_pipeline.quality.profile import ALWAYS_READ, VALUE, VALUE_COLUMNS, batch_metrics, is_rate, kind, unit
from fraud_pipeline.quality.timeline_chart import Panel

Baseline = Callable[[str, int, str], float | None]  # (table, batch, metric) -> baseline mean
Target = tuple[str, str, int]  # (table, metric, batch)


@dataclass(frozen=True)
class Effect:
    metric: str
    expected: float | None
    effect: str
    also_affects: tuple[Target, ...] = ()


def _mix(share: float, baseline: float | None, value: float | None) -> float | None:
    return None if baseline is None or value is None else (1 - share) * baseline + share * value


def _text(value: float | None, digits: int) -> str:
    return "unknown" if value is None else f"{value:,.{digits}f}"


def _null_burst(p: Planned, base: Baseline) -> Effect:
    e, metric = p.entry, f"null_rate.{p.column}"
    b = base(e.table, e.batch, metric)
    expected = _mix(e.share, b, 1.0)
    return Effect(metric, expected, f"null rate of {p.column} {_text(expected, 2)} vs baseline {_text(b, 2)}")


def _age_error(p: Planned, base: Baseline) -> Effect:
    e, metric = p.entry, f"value.{p.column}"
    b = base(e.table, e.batch, metric)
    expected = _mix(e.share, b, (e.age.min + e.age.max) / 2)
    return Effect(metric, expected, f"{e.share:.0%} of applicants aged {e.age.min}–{e.age.max}: mean {p.column} "
                                    f"{_text(expected, 1)} vs baseline {_text(b, 1)}")


def _traffic_spike(p: Planned, base: Baseline) -> Effect:
    e = p.entry
    b = base(e.table, e.batch, "volume")
    expected = None if b is None else b * e.volume_multiplier
    also = [(e.table, f"value.{p.column}", e.batch)]
    if e.table == "web_visits":
        also.append(("applications", "conversion.application_rate", e.batch))
    return Effect("volume", expected, f"volume {_text(expected, 0)} vs baseline {_text(b, 0)} "
                                      f"({e.volume_multiplier:g}×), {e.share:.0%} with a bot-like {p.column} of "
                                      f"{e.bot_values.min:g}–{e.bot_values.max:g}", tuple(also))


def _fraud_spike(p: Planned, base: Baseline) -> Effect:
    e, metric = p.entry, f"value.{p.column}"
    b = base(e.table, e.batch, metric)
    limits = [base("new_accounts", batch, "value.approved_limit") for batch in range(BATCHES_PER_DAY)] \
        if e.table == "new_account_transactions" else []
    limits = [v for v in limits if v is not None]
    mean_limit = sum(limits) / len(limits) if limits else None
    spend = None if mean_limit is None else mean_limit * (e.of_limit.min + e.of_limit.max) / 2
    expected = _mix(e.share, b, spend)
    return Effect(metric, expected, f"{e.share:.0%} of transactions at {e.of_limit.min:.0%}–{e.of_limit.max:.0%} of "
                                    f"the account limit: mean {p.column} {_text(expected, 0)} vs baseline {_text(b, 0)}")


def _limit_spike(p: Planned, base: Baseline) -> Effect:
    e, metric = p.entry, "value.limit_to_income"
    b = base(e.table, e.batch, metric)
    expected = _mix(e.share, b, (e.of_income.min + e.of_income.max) / 2)
    return Effect(metric, expected, f"{e.share:.0%} of applications request {e.of_income.min:.0%}–"
                                    f"{e.of_income.max:.0%} of income: mean limit-to-income {_text(expected, 3)} vs "
                                    f"baseline {_text(b, 3)}")


def _stale_data(p: Planned, base: Baseline) -> Effect:
    e, metric = p.entry, "arrival_lag_seconds"
    b = base(e.table, e.batch, metric)
    expected = _mix(e.share, b, e.hours_behind * 3600)
    return Effect(metric, expected, f"event times {e.hours_behind:g} h behind arrival for {e.share:.0%} of rows: "
                                    f"mean arrival lag {_text(expected, 0)} s vs baseline {_text(b, 1)} s")


def _conversion_drop(p: Planned, base: Baseline) -> Effect:
    e, metric = p.entry, "conversion.application_rate"
    b = base(e.table, e.batch, metric)
    return Effect(metric, e.application_rate, f"application rate {e.application_rate:.2f} vs baseline {_text(b, 2)}; "
                                              "the withheld applications' accounts and first transactions never happen",
                  (("applications", "volume", e.batch),))


def _duplicate_burst(p: Planned, base: Baseline) -> Effect:
    e = p.entry
    expected = e.share / (1 + e.share)
    b = base(e.table, e.batch, "duplicate_key_rate")
    return Effect("duplicate_key_rate", expected, f"duplicate key rate {expected:.3f} vs baseline {_text(b, 3)} "
                                                  f"({e.share:.0%} of rows delivered twice)",
                  ((e.table, "volume", e.batch), (e.table, "arrival_lag_seconds", e.batch)))


def _late_arrival(p: Planned, base: Baseline) -> Effect:
    e, metric = p.entry, "arrival_lag_seconds"
    source = e.batch - e.delay_batches
    volume, moved = base(e.table, e.batch, "volume"), base(e.table, source, "volume")
    b, b_source = base(e.table, e.batch, metric), base(e.table, source, metric)
    expected = None
    if None not in (volume, moved, b, b_source) and volume + e.share * moved > 0:
        late = b_source + e.delay_batches * MS_PER_BATCH / 1000
        expected = (volume * b + e.share * moved * late) / (volume + e.share * moved)
    return Effect(metric, expected, f"{e.share:.0%} of batch {source}'s rows arrive {e.delay_batches} batch(es) late: "
                                    f"mean arrival lag {_text(expected, 0)} s vs baseline {_text(b, 1)} s",
                  ((e.table, "volume", source), (e.table, "volume", e.batch)))


EFFECTS: dict[str, Callable[[Planned, Baseline], Effect]] = {
    "null_burst": _null_burst, "age_error": _age_error, "traffic_spike": _traffic_spike, "fraud_spike": _fraud_spike,
    "limit_spike": _limit_spike, "stale_data": _stale_data, "conversion_drop": _conversion_drop,
    "duplicate_burst": _duplicate_burst, "late_arrival": _late_arrival,
}


def moved(p: Planned, base: Baseline) -> tuple[Effect, list[Target]]:
    """A planned anomaly's effect, and every (table, metric, batch) it moves: its own, then its side effects."""
    effect = EFFECTS[p.entry.type](p, base)
    return effect, [(p.entry.table, effect.metric, p.entry.batch), *effect.also_affects]


def baseline_lookup(profile: pa.Table | None) -> Baseline:
    means = {} if profile is None else {
        (t, b, m): v for t, b, m, v in zip(*(profile[c].to_pylist() for c in ("table", "batch", "metric", "mean")))}
    return lambda table, batch, metric: means.get((table, batch, metric))


def day_metrics(day: date, landing: dict[str, pa.Table]) -> pd.DataFrame:
    """The day's per-batch metrics as a downstream gate would compute them from the landing rows."""
    return batch_metrics({name: t.to_pandas().assign(day=day) for name, t in landing.items()})


def anomaly_manifest(outcomes: list[Outcome], landing: dict[str, pa.Table], profile: pa.Table | None) -> pa.Table:
    base = baseline_lookup(profile)
    effects = [EFFECTS[o.planned.entry.type](o.planned, base) for o in outcomes]
    observed = {}
    if outcomes:
        touched = {o.planned.entry.table for o in outcomes}
        if "applications" in touched:
            touched.add("web_visits")  # conversion is applications over visits
        metrics = day_metrics(outcomes[0].planned.day, {name: landing[name] for name in touched})
        observed = {(t, b, m): v for t, b, m, v in metrics[["table", "batch", "metric", "value"]].itertuples(index=False)}
    plans = [o.planned for o in outcomes]
    return schemas.ANOMALY_MANIFEST.build({
        **schedule_rows(plans),
        "rows_affected": [o.rows_affected for o in outcomes],
        "rows_removed": [o.rows_removed for o in outcomes],
        "metric": [e.metric for e in effects],
        "baseline": [base(p.entry.table, p.entry.batch, e.metric) for p, e in zip(plans, effects)],
        "expected": [e.expected for e in effects],
        "observed": [observed.get((p.entry.table, p.entry.batch, e.metric)) for p, e in zip(plans, effects)],
        "effect": [e.effect for e in effects],
        "also_affects": [", ".join(f"{t}:{m}@{b}" for t, m, b in e.also_affects) or None for e in effects],
    })


def _point(day_index: int, batch: int) -> int:
    return day_index * BATCHES_PER_DAY + batch


Marks = dict[tuple[str, str], tuple[list[int], list[int]]]  # (table, metric) -> (planned points, side-effect points)


def timeline_marks(days: list[date], plans: list[Planned], profile: pa.Table | None) -> Marks:
    """Every (table, metric) the timeline shows — the row volumes of card_transactions and web_visits, then each
    metric the plan moves, in the plan's order — with the points (day × batch) where it is planned to move and
    where it moves as a side effect. Known before any landing row is read: what the picture needs to read."""
    base = baseline_lookup(profile)
    position = {day: i for i, day in enumerate(days)}
    marks: Marks = {("card_transactions", "volume"): ([], []), ("web_visits", "volume"): ([], [])}
    for p in plans:
        if p.day not in position:
            continue
        _, ((table, metric, batch), *side) = moved(p, base)
        marks.setdefault((table, metric), ([], []))[0].append(_point(position[p.day], batch))
        for table, metric, batch in side:
            marks.setdefault((table, metric), ([], []))[1].append(_point(position[p.day], batch))
    return marks


def timeline_reads(shown: list[tuple[str, str]]) -> dict[str, list[str]]:
    """table -> the columns to read to measure the `shown` (table, metric) pairs with `batch_metrics`: only the
    tables shown (never the clickstream unless a plan targets it) and of them only what their metrics read — the
    batch, the arrival lag's times, the key, the value columns, and the columns whose null rate is shown.
    Conversion rates are applications over web visits: they read both."""
    tables = {table for table, _ in shown}
    if any(metric.startswith("conversion.") for _, metric in shown):
        tables |= {"applications", "web_visits"}
    reads = {}
    for table in sorted(tables):
        nulls = [metric.removeprefix("null_rate.") for t, metric in shown if t == table and
                 metric.startswith("null_rate.")]
        extra = ["application_status"] if table == "applications" else []
        columns = [*ALWAYS_READ, schemas.TABLES[table].primary_key[0], *VALUE_COLUMNS.get(table, ()), *nulls, *extra]
        reads[table] = list(dict.fromkeys(columns))
    return reads


def timeline_metrics(landing: dict[str, dict[date, pa.Table]]) -> pd.DataFrame:
    """`batch_metrics` of every day at once, from tables read with `timeline_reads`' columns: one pass per table
    rather than one per day (every metric is per day and batch, so the values are the same). Days are grouped by
    their number, which pandas groups far faster than date objects, and named again at the end."""
    days = sorted({day for by_day in landing.values() for day in by_day})
    number = {day: i for i, day in enumerate(days)}
    frames = {}
    for name, by_day in landing.items():
        frame = pa.concat_tables(list(by_day.values()), promote_options="default").to_pandas()
        frame["day"] = np.repeat([number[day] for day in by_day], [t.num_rows for t in by_day.values()])
        frames[name] = frame
    metrics = batch_metrics(frames)
    metrics["day"] = np.array(days, dtype=object)[metrics["day"].to_numpy(int)]
    return metrics


def timeline_panels(days: list[date], metrics: pd.DataFrame, profile: pa.Table, plans: list[Planned],
                    currency: str) -> list[Panel]:
    """One panel per watched metric (`timeline_marks`): row volumes, then each metric the plan moves, over every
    (day, batch). Every metric is non-negative; rates are at most 1."""
    stats = profile.to_pandas().set_index(["table", "metric", "batch"])
    position = {day: i for i, day in enumerate(days)}
    marks = timeline_marks(days, plans, profile)
    n = len(days) * BATCHES_PER_DAY
    panels = []
    for (table, metric), (planned_points, side_points) in marks.items():
        found = metrics[(metrics["table"] == table) & (metrics["metric"] == metric)]
        values, rows = np.full(n, np.nan), np.full(n, np.nan)
        points = [_point(position[d], b) for d, b in zip(found["day"], found["batch"])]
        values[points], rows[points] = found["value"].to_numpy(), found["rows"].to_numpy()
        batch = np.arange(n) % BATCHES_PER_DAY
        mean = np.array([stats["mean"].get((table, metric, b), np.nan) for b in range(BATCHES_PER_DAY)])[batch]
        std = np.array([stats["std"].get((table, metric, b), np.nan) for b in range(BATCHES_PER_DAY)])[batch]
        spread = 3 * (std / np.sqrt(rows) if kind(metric) == VALUE else std)
        panels.append(Panel(f"{table}: {metric}", unit(metric, currency), values, mean - spread, mean + spread,
                            np.array(sorted(set(planned_points)), int), np.array(sorted(set(side_points)), int),
                            0.0, 1.0 if is_rate(metric) else np.inf))
    return panels
