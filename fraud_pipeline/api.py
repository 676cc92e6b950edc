"""The bank without Dagster, for notebooks and scripts: a scenario in, a day's tables out.

    import fraud_pipeline
    day = fraud_pipeline.generate("2026-01-15")            # every table of the default scenario's day
    day["labelled_transactions"]                           # genuine and fraudulent rows, labelled, as posted
    world = fraud_pipeline.entities()                      # customers, accounts, cards … the rows refer to

The tables are the ones the assets store for that day, byte for byte the same data (the same `Bank`,
the same generators, in the same order); nothing is written anywhere.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from fraud_pipeline.engine.bank import Bank
from fraud_pipeline.life.funnel import STAGES
from fraud_pipeline.scenario import SCENARIO_ENV, Scenario, load_scenario as _load_from_environment, with_overrides
from fraud_pipeline.world.entities import BUILDERS

DAY_TABLES = ("card_transactions", "fraud_transactions", "fraud_episodes", "aml_cases", "aml_reports",
              "account_balances", "card_events", "customer_events", *STAGES)
ENTITY_TABLES = tuple(BUILDERS)  # in the order they are built: each refers only to tables before it
LABELLED = "labelled_transactions"  # card_transactions and fraud_transactions together, in the order the bank posts


def load_scenario(source: str | Path | Mapping[str, Any] | None = None) -> Scenario:
    """The effective scenario, validated exactly as the code location validates it: the defaults merged with
    `source` — a YAML file's path, or a mapping of overrides such as `{"seed": 7}` — or the defaults alone.
    Raises ScenarioError naming every invalid field and what is allowed."""
    if source is None or isinstance(source, (str, Path)):
        return _load_from_environment({SCENARIO_ENV: str(source)} if source is not None else {})
    return with_overrides(_load_from_environment({}), source)


def entities(scenario: Scenario | str | Path | Mapping[str, Any] | None = None, tables: tuple[str, ...] | None = None,
             pandas: bool = False) -> dict[str, pa.Table | Any]:
    """The scenario's entity tables (`ENTITY_TABLES`: customers, accounts, cards, devices, payees, merchants …, or
    only `tables`), the world every day's rows refer to, as pyarrow tables or, with `pandas=True`, DataFrames — the
    same data the `entities` assets store. Raises ValueError for an unknown table name."""
    found = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    wanted = tables or ENTITY_TABLES
    unknown = sorted(set(wanted) - set(ENTITY_TABLES))
    if unknown:
        raise ValueError(f"tables: unknown {unknown}; allowed: {list(ENTITY_TABLES)}")
    every = Bank(found).entities
    return {name: every[name].to_pandas() if pandas else every[name] for name in wanted}


def generate(day: str | date, scenario: Scenario | str | Path | Mapping[str, Any] | None = None,
             tables: tuple[str, ...] | None = None, pandas: bool = False) -> dict[str, pa.Table | Any]:
    """One day's tables: `DAY_TABLES` and `labelled_transactions` (or only `tables`), as pyarrow tables or, with
    `pandas=True`, DataFrames. `scenario`: a Scenario, or what `load_scenario` takes. The bank walks from the
    calendar's start to `day` (a quarter of a second a day at the default volume). Raises ValueError for a day
    outside the calendar or an unknown table name."""
    return next(generate_days(day, day, scenario, tables, pandas))[1]


def generate_days(first: str | date, last: str | date,
                  scenario: Scenario | str | Path | Mapping[str, Any] | None = None,
                  tables: tuple[str, ...] | None = None, pandas: bool = False) -> Iterator[tuple[date, dict]]:
    """(day, tables) for each day of `first` … `last`, walking the bank once (a range costs one day's work a day)."""
    found = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    first, last = _day(first), _day(last)
    wanted = tables or (*DAY_TABLES, LABELLED)
    unknown = sorted(set(wanted) - {*DAY_TABLES, LABELLED})
    if unknown:
        raise ValueError(f"tables: unknown {unknown}; allowed: {[*DAY_TABLES, LABELLED]}")
    if first < found.start_date or last < first or (found.end_date is not None and last > found.end_date):
        raise ValueError(f"days {first} … {last}: the calendar runs from start_date {found.start_date}"
                         + (f" to end_date {found.end_date}" if found.end_date else "") + ", first ≤ last")
    bank = Bank(found)
    day = first
    while day <= last:
        result = bank.day(day)
        every = {"card_transactions": result.transactions, "fraud_transactions": result.fraud_transactions,
                 "fraud_episodes": result.fraud_episodes, "aml_cases": result.aml_cases,
                 "aml_reports": result.aml_reports,
                 "account_balances": result.account_balances,
                 "card_events": result.card_events, "customer_events": result.customer_events}
        if set(wanted) & set(STAGES):
            every.update(bank.funnel(day))
        if LABELLED in wanted:
            every[LABELLED] = pa.concat_tables([result.transactions, result.fraud_transactions]).take(
                posting_order(result.transactions, result.fraud_transactions))
        chosen = {name: every[name] for name in wanted}
        yield day, {name: t.to_pandas() for name, t in chosen.items()} if pandas else chosen
        day += timedelta(days=1)


def posting_order(*tables: pa.Table) -> pa.Array:
    """Row positions of the tables concatenated, in the order the ledger posts them: by arrival, then event time
    (each table is already in that order, so a stable sort keeps ties as posted)."""
    stream = pa.concat_tables([t.select(["arrival_time", "event_time"]) for t in tables])
    return pc.sort_indices(stream, [("arrival_time", "ascending"), ("event_time", "ascending")])


def _day(value: str | date) -> date:
    try:
        return value if isinstance(value, date) else date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"day: {value!r} is not a date (YYYY-MM-DD)") from None


__all__ = ["DAY_TABLES", "ENTITY_TABLES", "LABELLED", "entities", "generate", "generate_days", "load_scenario"]
