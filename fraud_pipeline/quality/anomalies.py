"""Planned anomalies applied on top of a day's clean events: the landing rows a downstream pipeline ingests.

The scenario's plan is resolved per day (`planned`). Each planned anomaly touches rows of one
micro-batch of one table and labels every row it touches with its type and id. A row carries
at most one anomaly: an operator picks among rows no earlier anomaly of the day touched.
Conversion drops withhold rows instead; they run first and pick from the clean data alone, so
a later day can recompute them and withhold the accounts (and their transactions) that would
have followed from the withheld applications.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fraud_pipeline.core import schemas
from fraud_pipeline.core.columns import ids, row_of, unused_numbers
from fraud_pipeline.core.rows import TRANSACTION_ID_SPACE
from fraud_pipeline.core.streams import stream
from fraud_pipeline.core.timeline import BASELINE_DAYS, MS_PER_BATCH, MS_PER_HOUR, day_start_ms, days_from
from fraud_pipeline.life import funnel
from fraud_pipeline.scenario import Scenario
from fraud_pipeline.scenario.anomalies import Anomaly, ConversionDrop

# Tables whose rows a traffic spike can add: the key column, its prefix, digits and number space.
NEW_KEYS = {"web_visits": ("visitor_id", "V", 6, funnel.ID_SPACE),
            "card_transactions": ("transaction_id", "T", 8, TRANSACTION_ID_SPACE)}
DECIMALS = {"session_duration": 3, "amount": 2}  # as the clean generators round them
PLAN_FIELDS = ("days", "batch", "type", "table", "column")  # the rest of an entry are its parameters


@dataclass(frozen=True)
class Planned:
    anomaly_id: str
    name: str
    day: date
    window_day: int
    entry: Anomaly

    @property
    def column(self) -> str | None:
        return getattr(self.entry, "column", None)

    @property
    def parameters(self) -> dict:
        return self.entry.model_dump(mode="json", exclude=set(PLAN_FIELDS))


@dataclass(frozen=True)
class Outcome:
    planned: Planned
    rows_affected: int
    rows_removed: int = 0


@dataclass
class DayContext:
    """What some operators need beyond the day's tables, fetched only when a plan asks for it."""

    reserved_numbers: Callable[[str], np.ndarray] = lambda table: np.zeros(0, np.int64)
    limits: Callable[[str], tuple[pa.Array, np.ndarray]] | None = None  # table -> (account ids, limit)
    withheld_app_ids: pa.Array = field(default_factory=lambda: pa.array([], pa.string()))
    withheld_account_ids: pa.Array = field(default_factory=lambda: pa.array([], pa.string()))


def window_day(scenario: Scenario, day: date) -> int | None:
    """The day's number in the anomaly window (1…window_days), or None on a day without anomalies."""
    config = scenario.anomalies
    offset = (day - scenario.start_date).days - BASELINE_DAYS
    if offset < 0 or (offset >= config.window_days and config.after_window == "clean"):
        return None
    return offset % config.window_days + 1


def planned(scenario: Scenario, day: date) -> list[Planned]:
    """The day's anomalies, in the order they apply: withholding first, then the plan's order."""
    number = window_day(scenario, day)
    if number is None:
        return []
    entries = [(name, e) for name, e in scenario.anomalies.plan.items() if e.days == "every" or number in e.days]
    entries.sort(key=lambda item: not isinstance(item[1], ConversionDrop))
    return [Planned(f"{day:%Y%m%d}-b{e.batch}-{name}", name, day, number, e) for name, e in entries]


def funnel_window(scenario: Scenario, day: date) -> list[date]:
    """`day` and the funnel's look-back days before it, within the calendar: where a day's accounts come from."""
    first = max(scenario.start_date, day - timedelta(days=funnel.lookback_days(scenario)))
    return days_from(first, day)


def day_context(scenario: Scenario, day: date, clean_funnel: Callable[[str, date], pa.Table],
                card_limits: Callable[[], tuple[pa.Array, np.ndarray]]) -> DayContext:
    """What the day's operators need from other days: `clean_funnel(table, day)` gives a clean funnel table
    of a calendar day; `card_limits` the entity accounts' ids and average balances."""
    window = funnel_window(scenario, day)
    drops = [d for d in window if any(isinstance(p.entry, ConversionDrop) for p in planned(scenario, d))]
    withheld = pa.concat_arrays([pa.array([], pa.string())] + [
        withheld_applications(scenario, d, clean_funnel("applications", d)) for d in drops])

    def opened() -> pa.Table:
        return pa.concat_tables([clean_funnel("new_accounts", d) for d in window])

    def limits(table: str) -> tuple[pa.Array, np.ndarray]:
        if table == "card_transactions":
            return card_limits()
        accounts = opened()
        return accounts["account_id"], accounts["approved_limit"].to_numpy().astype(float)

    gone = pa.array([], pa.string())
    if len(withheld):
        accounts = opened()
        gone = accounts.filter(pc.is_in(accounts["app_id"], value_set=withheld))["account_id"].combine_chunks()
    return DayContext(
        reserved_numbers=lambda table: (funnel.visitor_numbers(scenario, day) if table == "web_visits"
                                        else np.zeros(0, np.int64)),
        limits=limits, withheld_app_ids=withheld, withheld_account_ids=gone)


def window(scenario: Scenario) -> list[date]:
    first = scenario.start_date + timedelta(days=BASELINE_DAYS)
    return [first + timedelta(days=i) for i in range(scenario.anomalies.window_days)]


def schedule_rows(plans: list[Planned]) -> dict[str, list]:
    """The columns anomaly_schedule and anomaly_manifest share, one row per planned anomaly."""
    return {"anomaly_id": [p.anomaly_id for p in plans], "day": [p.day for p in plans],
            "window_day": [p.window_day for p in plans], "batch": [p.entry.batch for p in plans],
            "anomaly_type": [p.entry.type for p in plans], "plan_entry": [p.name for p in plans],
            "table": [p.entry.table for p in plans], "column": [p.column for p in plans],
            "parameters": [json.dumps(p.parameters, sort_keys=True) for p in plans]}


def schedule(scenario: Scenario) -> pa.Table:
    plans = [p for day in window(scenario) for p in planned(scenario, day)]
    return schemas.ANOMALY_SCHEDULE.build(schedule_rows(plans))


def _rng(scenario: Scenario, p: Planned) -> np.random.Generator:
    return stream(scenario.seed, "anomalies", p.day.isoformat(), p.name)


def withheld_applications(scenario: Scenario, day: date, clean_applications: pa.Table) -> pa.Array:
    """The app ids the day's conversion drops withhold: a function of the clean applications alone."""
    withheld = [clean_applications["app_id"].take(pa.array(_withheld_rows(scenario, p, clean_applications)))
                for p in planned(scenario, day) if isinstance(p.entry, ConversionDrop)]
    return pa.concat_arrays([pa.array([], pa.string()), *(w.combine_chunks() for w in withheld)])


def _withheld_rows(scenario: Scenario, p: Planned, applications: pa.Table) -> np.ndarray:
    rows = np.flatnonzero(applications["batch"].to_numpy() == p.entry.batch)
    keep = p.entry.application_rate / scenario.web_funnel.application_rate
    return _pick(_rng(scenario, p), rows, round(len(rows) * (1 - keep)))


def landing_day(scenario: Scenario, day: date, clean: dict[str, pa.Table],
                context: DayContext | None = None) -> tuple[dict[str, pa.Table], list[Outcome]]:
    """Each event table of `day` as delivered, with the day's planned anomalies applied and labelled.

    `clean` holds the day's clean event tables and its fraud_transactions; card transactions land
    as one labelled stream (genuine and fraudulent rows together).
    """
    context = context or DayContext()
    tables = {spec.name: _unlabelled(spec.name, clean[spec.name]) for spec in schemas.EVENT_TABLES}
    tables["card_transactions"] = pa.concat_tables(
        [tables["card_transactions"], _unlabelled("card_transactions", clean["fraud_transactions"])])
    tables["new_accounts"] = _without(tables["new_accounts"], "app_id", context.withheld_app_ids)
    tables["new_account_transactions"] = _without(tables["new_account_transactions"], "account_id",
                                                  context.withheld_account_ids)
    outcomes = []
    for p in planned(scenario, day):
        name = p.entry.table
        tables[name], outcome = OPERATORS[p.entry.type](scenario, p, tables[name], context)
        outcomes.append(outcome)
    return {name: _in_arrival_order(t) for name, t in tables.items()}, outcomes


def _unlabelled(name: str, table: pa.Table) -> pa.Table:
    n = table.num_rows
    return schemas.LANDING_TABLES[name].build({**{c: table[c] for c in table.column_names},
                                               "anomaly_type": pa.nulls(n, pa.string()),
                                               "anomaly_id": pa.nulls(n, pa.string())})


def _without(table: pa.Table, column: str, values: pa.Array) -> pa.Table:
    return table.filter(pc.invert(pc.is_in(table[column], value_set=values))) if len(values) else table


def _in_arrival_order(table: pa.Table) -> pa.Table:
    return table.take(pc.sort_indices(table, [("arrival_time", "ascending")]))  # a stable sort


# --- picking and rewriting rows --------------------------------------------------------------

def _batch_rows(table: pa.Table, batch: int, untouched: bool = True) -> np.ndarray:
    mask = table["batch"].to_numpy() == batch
    if untouched:
        mask &= table["anomaly_type"].is_null().to_numpy(zero_copy_only=False)
    return np.flatnonzero(mask)


def _pick(rng: np.random.Generator, rows: np.ndarray, k: int) -> np.ndarray:
    return np.sort(rng.choice(rows, size=min(k, len(rows)), replace=False))


def _mask(table: pa.Table, rows: np.ndarray) -> pa.Array:
    mask = np.zeros(table.num_rows, bool)
    mask[rows] = True
    return pa.array(mask)


def _set(table: pa.Table, column: str, rows: np.ndarray, values) -> pa.Table:
    """`column` with `values` at `rows` (ascending); None sets nulls."""
    current = table[column].combine_chunks()
    if values is None:
        values = pa.nulls(len(rows), current.type)
    else:
        values = values.cast(current.type) if isinstance(values, pa.Array) else pa.array(values, current.type)
    replaced = pc.replace_with_mask(current, _mask(table, rows), values)
    return table.set_column(table.schema.get_field_index(column), column, replaced)


def _label(table: pa.Table, rows: np.ndarray, p: Planned) -> pa.Table:
    table = _set(table, "anomaly_type", rows, [p.entry.type] * len(rows))
    return _set(table, "anomaly_id", rows, [p.anomaly_id] * len(rows))


def _ms(table: pa.Table, column: str, rows: np.ndarray | None = None) -> np.ndarray:
    values = table[column].combine_chunks().cast(pa.int64()).to_numpy(zero_copy_only=False)
    return values if rows is None else values[rows]


def _uniform(rng: np.random.Generator, bounds, n: int) -> np.ndarray:
    return rng.uniform(bounds.min, bounds.max, n)


# --- the operators: (scenario, planned, table, context) -> (table, outcome) ------------------------

def null_burst(scenario, p, table, context):
    rows = _batch_rows(table, p.entry.batch)
    picked = _pick(_rng(scenario, p), rows, round(p.entry.share * len(rows)))
    return _label(_set(table, p.column, picked, None), picked, p), Outcome(p, len(picked))


def age_error(scenario, p, table, context):
    """Minors are picked among applications that were not approved, so no account opens for one."""
    e = p.entry
    batch = _batch_rows(table, e.batch)
    approved = pc.fill_null(pc.equal(table["application_status"], "approved"), False).to_numpy(zero_copy_only=False)
    rng = _rng(scenario, p)
    picked = _pick(rng, batch[~approved[batch]], round(e.share * len(batch)))
    table = _set(table, p.column, picked, rng.integers(e.age.min, e.age.max + 1, len(picked)))
    table = _set(table, "application_status", picked, [e.status] * len(picked))
    return _label(table, picked, p), Outcome(p, len(picked))


def traffic_spike(scenario, p, table, context):
    """The batch grows `volume_multiplier`-fold with copies of its genuine rows under fresh ids and times;
    `share` of the batch's rows, the added ones first, get a bot-like value in the column."""
    e, rng = p.entry, _rng(scenario, p)
    everyone = _batch_rows(table, e.batch, untouched=False)
    originals = _batch_rows(table, e.batch)
    templates = originals
    if "is_fraud" in table.column_names:  # copies of fraud rows would add rows to fraud episodes
        templates = originals[~table["is_fraud"].to_numpy(zero_copy_only=False)[originals].astype(bool)]
    extra = round((e.volume_multiplier - 1) * len(everyone)) if len(templates) else 0
    added = _fresh_rows(p, table.take(pa.array(rng.choice(templates, extra), pa.int64())), table, context, rng)
    added_rows = np.arange(table.num_rows, table.num_rows + extra)
    bots = round(e.share * (len(everyone) + extra))
    bot_rows = (np.concatenate([_pick(rng, originals, bots - extra), added_rows]) if bots > extra
                else _pick(rng, added_rows, bots))
    table = pa.concat_tables([table, added])
    values = np.round(_uniform(rng, e.bot_values, len(bot_rows)), DECIMALS.get(p.column, 3))
    labelled = np.union1d(bot_rows, added_rows)
    return _label(_set(table, p.column, bot_rows, values), labelled, p), Outcome(p, len(labelled))


def _fresh_rows(p: Planned, rows: pa.Table, table: pa.Table, context: DayContext,
                rng: np.random.Generator) -> pa.Table:
    """Added rows take ids nothing else uses that day and arrive uniformly within the batch, after their template's lag."""
    key, letter, digits, space = NEW_KEYS[p.entry.table]
    prefix = f"{letter}{p.day:%Y%m%d}"
    taken = table[key].filter(pc.fill_null(pc.starts_with(table[key], prefix), False))
    used = np.concatenate([pc.cast(pc.utf8_slice_codeunits(taken, len(prefix)), pa.int64()).to_numpy(),
                           context.reserved_numbers(p.entry.table)])
    everyone = np.arange(rows.num_rows)
    arrival = day_start_ms(p.day) + p.entry.batch * MS_PER_BATCH + rng.integers(0, MS_PER_BATCH, rows.num_rows)
    lag = _ms(rows, "arrival_time") - _ms(rows, "event_time")
    rows = _set(rows, key, everyone, ids(prefix, unused_numbers(rng, used, rows.num_rows, space), digits))
    rows = _set(rows, "arrival_time", everyone, arrival)
    return _set(rows, "event_time", everyone, arrival - lag)


def fraud_spike(scenario, p, table, context):
    e, rng = p.entry, _rng(scenario, p)
    accounts, limits = context.limits(e.table)
    batch = _batch_rows(table, e.batch)
    limit_row = row_of(table["account_id"], accounts)
    picked = _pick(rng, batch[limit_row[batch] >= 0], round(e.share * len(batch)))
    amount = np.round(_uniform(rng, e.of_limit, len(picked)) * limits[limit_row[picked]], 2)
    return _label(_set(table, p.column, picked, amount), picked, p), Outcome(p, len(picked))


def limit_spike(scenario, p, table, context):
    e, rng = p.entry, _rng(scenario, p)
    batch = _batch_rows(table, e.batch)
    picked = _pick(rng, batch, round(e.share * len(batch)))
    income = table["annual_income"].combine_chunks().to_numpy(zero_copy_only=False)[picked]
    requested = np.floor(income * _uniform(rng, e.of_income, len(picked)))
    return _label(_set(table, p.column, picked, requested.astype(np.int32)), picked, p), Outcome(p, len(picked))


def stale_data(scenario, p, table, context):
    e = p.entry
    batch = _batch_rows(table, e.batch)
    picked = _pick(_rng(scenario, p), batch, round(e.share * len(batch)))
    stale = _ms(table, "arrival_time", picked) - round(e.hours_behind * MS_PER_HOUR)
    return _label(_set(table, "event_time", picked, stale), picked, p), Outcome(p, len(picked))


def conversion_drop(scenario, p, table, context):
    withheld = _withheld_rows(scenario, p, table)
    keep = np.ones(table.num_rows, bool)
    keep[withheld] = False
    return table.filter(pa.array(keep)), Outcome(p, 0, len(withheld))


def duplicate_burst(scenario, p, table, context):
    """Copies of a share of the batch's rows arrive again later in the same batch."""
    e, rng = p.entry, _rng(scenario, p)
    batch = _batch_rows(table, e.batch)
    picked = _pick(rng, batch, round(e.share * len(batch)))
    copies = table.take(pa.array(picked))
    arrival = _ms(copies, "arrival_time")
    batch_end = day_start_ms(p.day) + (e.batch + 1) * MS_PER_BATCH
    again = arrival + np.floor(rng.random(len(picked)) * (batch_end - arrival)).astype(np.int64)
    copies = _set(copies, "arrival_time", np.arange(len(picked)), again)
    n_before = table.num_rows
    table = pa.concat_tables([table, copies])
    return _label(table, np.arange(n_before, table.num_rows), p), Outcome(p, len(picked))


def late_arrival(scenario, p, table, context):
    """Rows that would arrive `delay_batches` batches earlier arrive in the planned batch instead."""
    e = p.entry
    source = _batch_rows(table, e.batch - e.delay_batches)
    picked = _pick(_rng(scenario, p), source, round(e.share * len(source)))
    later = _ms(table, "arrival_time", picked) + e.delay_batches * MS_PER_BATCH
    table = _set(_set(table, "arrival_time", picked, later), "batch", picked, np.full(len(picked), e.batch))
    return _label(table, picked, p), Outcome(p, len(picked))


OPERATORS = {"null_burst": null_burst, "age_error": age_error, "traffic_spike": traffic_spike,
             "fraud_spike": fraud_spike, "limit_spike": limit_spike, "stale_data": stale_data,
             "conversion_drop": conversion_drop, "duplicate_burst": duplicate_burst, "late_arrival": late_arrival}
