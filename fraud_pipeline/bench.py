"""Benchmark: generate and write N days at a given volume; rows/s per stage, peak memory, and the floor.

The floor is pyarrow alone writing the same tables to Parquet with the same options, measured in
the same run, so the ratio is comparable across machines even when absolute times are not. Times
are CPU seconds of this process: on a shared machine the hypervisor's steal inflates wall time,
not CPU time.

    python -m fraud_pipeline.bench --days 3 --per-day 1000000   (days 15–17: the anomaly window)
    python -m fraud_pipeline.bench scale --customers 20000 200000   (the block engine: see bench_scale)
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from collections import defaultdict
from datetime import timedelta

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq

from fraud_pipeline import bench_scale
from fraud_pipeline.aml.cases import aml_day
from fraud_pipeline.core.timeline import BATCHES_PER_DAY
from fraud_pipeline.defs.assets.anomalies import LandingSources
from fraud_pipeline.core.rows import Rows, concat
from fraud_pipeline.engine.bank_day import BankState, initial_bank_state, simulate_bank_day
from fraud_pipeline.io.formats import PARQUET_OPTIONS
from fraud_pipeline.io.storage import ObjectStore, in_chunks
from fraud_pipeline.life.funnel import funnel_days
from fraud_pipeline.life.genuine import genuine_day
from fraud_pipeline.life.business_costs import fixed_costs
from fraud_pipeline.life.income import income_day
from fraud_pipeline.life.remittances import remittances
from fraud_pipeline.life.between_customers import between_customers_day
from fraud_pipeline.life.lump_sums import lump_sums_day
from fraud_pipeline.life.funerals import funerals_day
from fraud_pipeline.life.orders import orders_day
from fraud_pipeline.life.rent import rent_day
from fraud_pipeline.life.stokvels import stokvels_day
from fraud_pipeline.quality.anomalies import landing_day
from fraud_pipeline.quality.ground_truth import anomaly_manifest
from fraud_pipeline.scenario import Scenario, load_scenario, with_overrides
from fraud_pipeline.world.build import build_world
from fraud_pipeline.world.layout import Layout
from fraud_pipeline.world.entities import entity_tables

ENTITIES = "entities"
GENUINE = "genuine life"
BANK = "bank day (7 tables)"
TWINS = "twins"  # not a stage: money from outside, home and between customers (life.income, …), generated alone
LAUNDERING = "laundering"  # not a stage: the laundering cases and their rows (aml.cases), generated alone
FUNNEL = "web funnel (4 tables)"
LANDING = "landing (6 tables)"
DELTA = "delta"  # the curated tables' writes again in Delta mode (not a stage: reported on a line of its own)
DELTA_ROOT = "_delta_mode"  # below the benchmark's root


def _timed(function, *args, **kwargs):
    started = time.process_time()
    result = function(*args, **kwargs)
    return result, time.process_time() - started


def _bank_wide(scenario: Scenario, state: BankState) -> tuple[Rows, np.ndarray]:
    """The blocks' carried rows and balances as the bank's (accounts numbered as the bank numbers them), for what the
    bank's world generates alone."""
    firsts = [first for first, _ in Layout.of(scenario).account_spans()]
    pending = []
    for first, block in zip(firsts, state.blocks):
        rows = block.pending.take(np.arange(len(block.pending)))
        rows.account = rows.account + first
        pending.append(rows)
    return concat(pending), np.concatenate([block.balance for block in state.blocks])


def run(scenario: Scenario, days: int, root: str, first_day: int = 1) -> dict[str, dict[str, float]]:
    """Each stage's rows, generate and write CPU seconds, and its pyarrow-only floor.

    `genuine life` is generating the genuine attempts alone (no fraud, authorisation or balances) and
    writing the card transactions table; `bank day` is the whole step the `bank_day` asset runs — genuine life, fraud, authorisation,
    posting, balances, card lifecycle, the clickstream — with its six tables and the stored state written.
    """
    store = ObjectStore(root_url=root)
    delta_store = ObjectStore(root_url=f"{root}/{DELTA_ROOT}", table_format="delta")  # the same writes, Delta mode
    totals: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for label in (ENTITIES, GENUINE, BANK, FUNNEL, LANDING):
        totals[label]["rows"] = 0

    def write(label, layer, name, table, partition=None, count=True):
        """Our write, then pyarrow alone writing the same table (the floor), both counted under `label`."""
        _, seconds = _timed(store.write_table, layer, name, in_chunks(table), scenario.content_hash, partition)
        delta_seconds = _timed(delta_store.write_table, layer, name, in_chunks(table), scenario.content_hash,
                               partition)[1]
        totals[DELTA]["parquet write"] += seconds
        totals[DELTA]["delta write"] += delta_seconds
        with tempfile.NamedTemporaryFile(suffix=".parquet") as handle:
            floor = _timed(pq.write_table, table, handle.name, **PARQUET_OPTIONS)[1]
        totals[label]["rows"] += table.num_rows if count else 0
        totals[label]["write"] += seconds
        totals[label]["floor"] += floor
        last[name] = (seconds, floor)

    last: dict[str, tuple[float, float]] = {}
    extra: dict[str, float] = defaultdict(float)  # CPU seconds of parts of the bank day, generated alone

    entities, seconds = _timed(entity_tables, scenario)
    totals[ENTITIES]["generate"] += seconds
    for name, table in entities.items():
        write(ENTITIES, "entities", name, table)
    world, seconds = _timed(build_world, scenario, entities)
    totals[BANK]["generate"] += seconds  # the run's look-ups count against the day

    calendar = [scenario.start_date + timedelta(days=i) for i in range(first_day - 1 + days)]
    state = initial_bank_state(world)
    for day in calendar:
        measured = day >= calendar[-days]
        if measured:
            twins = sum(_timed(part, world, day)[1]
                        for part in (income_day, fixed_costs, remittances, stokvels_day, rent_day, funerals_day,
                                     orders_day))
            carried, balance = _bank_wide(scenario, state)
            twins += _timed(between_customers_day, world, day, carried, balance)[1]
            twins += _timed(lump_sums_day, world, day, balance)[1]
            totals[GENUINE]["generate"] += _timed(genuine_day, world, day)[1] + twins
            extra[TWINS] += twins
            extra[LAUNDERING] += _timed(aml_day, world, day, carried)[1]
        result, seconds = _timed(simulate_bank_day, world, state, day)
        state = result.state
        if not measured:  # the days before the window only build the state the window starts from
            continue
        totals[BANK]["generate"] += seconds
        for layer, name, table in (("events", "card_transactions", result.transactions),
                                   ("events", "account_balances", result.account_balances),
                                   ("events", "card_events", result.card_events),
                                   ("events", "customer_events", result.customer_events),
                                   ("fraud", "fraud_transactions", result.fraud_transactions),
                                   ("fraud", "fraud_episodes", result.fraud_episodes),
                                   ("fraud", "aml_cases", result.aml_cases),
                                   ("fraud", "aml_reports", result.aml_reports)):
            write(BANK, layer, name, table, day.isoformat(), count=name != "account_balances")
        # genuine life as a table: the genuine attempts generated, the card transactions table written
        genuine = totals[GENUINE]
        genuine["rows"] += result.transactions.num_rows
        genuine["write"] += last["card_transactions"][0]
        genuine["floor"] += last["card_transactions"][1]
        totals[BANK]["balance rows"] += result.account_balances.num_rows
        totals[BANK]["write"] += _timed(store.write_files, "state", "bank_state", state.to_tables(),
                                        scenario.content_hash, day.isoformat())[1]
        del result
    totals[BANK]["peak MB"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    totals[BANK][TWINS], totals[BANK][LAUNDERING] = extra[TWINS], extra[LAUNDERING]

    window = calendar[-days:]
    started = time.process_time()
    for day, tables in funnel_days(scenario, window):
        totals[FUNNEL]["generate"] += time.process_time() - started
        for name, table in tables.items():
            write(FUNNEL, "events", name, table, day.isoformat())
        started = time.process_time()

    # landing as its asset does it: read the day's events back, apply the plan, write eight files a table
    sources = LandingSources(store, scenario)
    for day in window:
        (landing, outcomes), seconds = _timed(lambda: landing_day(scenario, day, sources.clean(day), sources.context(day)))
        manifest, more = _timed(anomaly_manifest, outcomes, landing, None)
        totals[LANDING]["generate"] += seconds + more
        for name, table in landing.items():
            files = {f"batch-{b}": table.filter(pc.equal(table["batch"], b)) for b in range(BATCHES_PER_DAY)}
            _, seconds = _timed(store.write_files, "landing", name, files, scenario.content_hash, day.isoformat(),
                                scenario.anomalies.landing_format)
            totals[LANDING]["rows"] += table.num_rows
            totals[LANDING]["write"] += seconds
            with tempfile.NamedTemporaryFile(suffix=".parquet") as handle:
                totals[LANDING]["floor"] += _timed(pq.write_table, table, handle.name, **PARQUET_OPTIONS)[1]
    delta = totals.pop(DELTA)
    totals[BANK]["parquet write"], totals[BANK]["delta write"] = delta["parquet write"], delta["delta write"]
    return totals


def report(totals: dict[str, dict[str, float]], days: int, per_day: int, first_day: int) -> str:
    lines = [f"{days} day(s) from day {first_day} at {per_day:,} card transactions a day",
             f"{'stage':<24}{'rows':>12}{'generate s':>12}{'write s':>10}{'rows/s':>12}{'floor s':>10}{'x floor':>9}",
             "(CPU seconds; bank day rows: transactions, card events, clickstream events and fraud, not the balance "
             "rows)"]
    for name, t in totals.items():
        total = t["generate"] + t["write"]
        lines.append(f"{name:<24}{int(t['rows']):>12,}{t['generate']:>12.2f}{t['write']:>10.2f}"
                     f"{t['rows'] / total:>12,.0f}{t['floor']:>10.2f}{total / t['floor']:>9.2f}")
    genuine, bank = totals[GENUINE], totals[BANK]
    added = (bank["generate"] + bank["write"]) / (genuine["generate"] + genuine["write"]) - 1
    lines.append(f"fraud, authorisation, balances, lifecycle and the clickstream add {added:.0%} to generating and "
                 f"writing genuine life ({int(bank['balance rows']):,} end-of-day balance rows)")
    day_cpu = bank["generate"] + bank["write"]
    lines.append(f"laundering's cases and rows take {bank[LAUNDERING]:.2f} s ({bank[LAUNDERING] / day_cpu:.1%} of the "
                 f"bank day), with their genuine twins (money from outside, businesses' fixed costs, stokvels, rent, "
                 f"funerals, orders, money home, between customers and lump sums: {bank[TWINS]:.2f} s) "
                 f"{(bank[LAUNDERING] + bank[TWINS]) / day_cpu:.1%} (issue 24's budget: at most 30 %)")
    events = sum(totals[name]["generate"] + totals[name]["write"] for name in (BANK, FUNNEL))
    landed = totals[LANDING]["generate"] + totals[LANDING]["write"]
    lines.append(f"landing (anomalies applied, 8 files a table and day) adds {landed / events:.1%} to generating and "
                 f"writing the clean events")
    lines.append(f"Delta mode (storage.table_format: delta) writes the same curated tables in "
                 f"{bank['delta write']:.2f} s against Parquet mode's {bank['parquet write']:.2f} s "
                 f"({bank['delta write'] / bank['parquet write'] - 1:+.1%}: the same files, renamed by their hash, "
                 f"and a Delta commit each)")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    lines.append(f"peak RSS {bank['peak MB']:,.0f} MB after the bank days, {peak_mb:,.0f} MB with landing")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["scale"]:  # banks of growing size on each executor: fraud_pipeline.bench_scale
        bench_scale.main(argv[1:])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--per-day", type=int, default=100_000, help="card transactions a day")
    parser.add_argument("--first-day", type=int, default=15,
                        help="calendar day to start at (default 15: the anomaly window, where landing does most); "
                             "the days before it are simulated, unmeasured, to build the balances it starts from")
    parser.add_argument("--root", help="storage root to write to (default: a temporary folder)")
    args = parser.parse_args(argv)
    scenario = load_scenario()
    scenario = with_overrides(scenario, {"card_transactions": {"per_day": args.per_day}}, "benchmark")
    with tempfile.TemporaryDirectory() as scratch:
        totals = run(scenario, args.days, args.root or scratch, args.first_day)
    print(report(totals, args.days, args.per_day, args.first_day))


if __name__ == "__main__":
    main()
