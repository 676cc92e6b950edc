"""Benchmark: generate and write N days at a given volume; rows/s per table, peak memory, and the floor.

The floor is pyarrow alone writing the same table to Parquet with the same options, measured in
the same run, so the ratio is comparable across machines even when absolute times are not. Times
are CPU seconds of this process: on a shared machine the hypervisor's steal inflates wall time,
not CPU time.

    python -m fraud_pipeline.bench --days 3 --per-day 1000000   (days 15–17: the anomaly window)
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from collections import defaultdict
from datetime import timedelta

import pyarrow.compute as pc
import pyarrow.parquet as pq

from fraud_pipeline.assets.anomalies import LandingSources
from fraud_pipeline.formats import PARQUET_OPTIONS
from fraud_pipeline.generators import entities as generate
from fraud_pipeline.generators.anomalies import landing_day
from fraud_pipeline.generators.card_transactions import card_transactions, card_world
from fraud_pipeline.generators.fraud import ANCHOR_COLUMNS, fraud_world, inject
from fraud_pipeline.generators.funnel import funnel_days
from fraud_pipeline.generators.ground_truth import anomaly_manifest
from fraud_pipeline.generators.timeline import BATCHES_PER_DAY
from fraud_pipeline.scenario import Scenario, load_scenario, merge_over, validate_scenario
from fraud_pipeline.storage import ObjectStore, in_chunks


INJECTION = "fraud injection (2 tables)"
LANDING = "landing (5 tables)"


def _timed(function, *args, **kwargs):
    started = time.process_time()
    result = function(*args, **kwargs)
    return result, time.process_time() - started


def run(scenario: Scenario, days: int, root: str, first_day: int = 1) -> dict[str, dict[str, float]]:
    store = ObjectStore(root_url=root)
    totals: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))

    def write(label, layer, name, table, partition=None):
        """Our write, then pyarrow alone writing the same table (the floor), both counted under `label`."""
        _, seconds = _timed(store.write_table, layer, name, in_chunks(table), scenario.content_hash, partition)
        totals[label]["rows"] += table.num_rows
        totals[label]["write"] += seconds
        with tempfile.NamedTemporaryFile(suffix=".parquet") as handle:
            totals[label]["floor"] += _timed(pq.write_table, table, handle.name, **PARQUET_OPTIONS)[1]

    world = {}
    for name, build, inputs in (("customers", generate.customers, ()), ("devices", generate.devices, ()),
                                ("accounts", generate.accounts, ("customers", "devices")),
                                ("cards", generate.cards, ("accounts",)),
                                ("beneficiaries", generate.beneficiaries, ()),
                                ("account_beneficiaries", generate.account_beneficiaries, ("accounts", "beneficiaries")),
                                ("merchants", generate.merchants, ())):
        world[name], seconds = _timed(build, scenario, *(world[i] for i in inputs))
        totals["entities (7 tables)"]["generate"] += seconds
        write("entities (7 tables)", "entities", name, world[name])

    index, seconds = _timed(card_world, scenario, world["customers"], world["accounts"], world["cards"],
                            world["merchants"], world["account_beneficiaries"])
    totals["card_transactions"]["generate"] += seconds  # the per-run look-ups count against the table
    fraud_index, seconds = _timed(fraud_world, scenario, index, world["customers"], world["accounts"],
                                  world["devices"], world["beneficiaries"])
    totals[INJECTION]["generate"] += seconds
    calendar = [scenario.start_date + timedelta(days=first_day - 1 + i) for i in range(days)]
    before = None
    for day in calendar:
        table, seconds = _timed(card_transactions, scenario, index, day)
        totals["card_transactions"]["generate"] += seconds
        write("card_transactions", "events", "card_transactions", table, day.isoformat())
        del table  # peak memory is one day's volume
        # injection as the fraud asset does it: read the day's anchors back, inject, write both tables
        clean, seconds = _timed(store.read_table, "events", "card_transactions", day.isoformat(), ANCHOR_COLUMNS)
        (fraud, episodes), more = _timed(inject, scenario, fraud_index, day, clean, before)
        totals[INJECTION]["generate"] += seconds + more
        write(INJECTION, "fraud", "fraud_transactions", fraud, day.isoformat())
        write(INJECTION, "fraud", "fraud_episodes", episodes, day.isoformat())
        before = clean

    started = time.process_time()
    for day, tables in funnel_days(scenario, calendar):
        totals["web funnel (4 tables)"]["generate"] += time.process_time() - started
        for name, table in tables.items():
            write("web funnel (4 tables)", "events", name, table, day.isoformat())
        started = time.process_time()

    # landing as its asset does it: read the day's events back, apply the plan, write eight files a table
    sources = LandingSources(store, scenario)
    for day in calendar:
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
    return totals


def report(totals: dict[str, dict[str, float]], days: int, per_day: int, first_day: int) -> str:
    lines = [f"{days} day(s) from day {first_day} at {per_day:,} card transactions a day",
             f"{'table':<26}{'rows':>12}{'generate s':>12}{'write s':>10}{'rows/s':>12}{'floor s':>10}{'x floor':>9}",
             "(CPU seconds)"]
    for name, t in totals.items():
        total = t["generate"] + t["write"]
        lines.append(f"{name:<26}{int(t['rows']):>12,}{t['generate']:>12.2f}{t['write']:>10.2f}"
                     f"{t['rows'] / total:>12,.0f}{t['floor']:>10.2f}{total / t['floor']:>9.2f}")
    clean, injection = totals["card_transactions"], totals[INJECTION]
    added = (injection["generate"] + injection["write"]) / (clean["generate"] + clean["write"])
    lines.append(f"fraud injection adds {added:.1%} to generating and writing the clean card transactions")
    events = sum(totals[name]["generate"] + totals[name]["write"] for name in ("card_transactions", "web funnel (4 tables)"))
    landed = totals[LANDING]["generate"] + totals[LANDING]["write"]
    lines.append(f"landing (anomalies applied, 8 files a table and day) adds {landed / events:.1%} to generating and "
                 f"writing the clean events")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    lines.append(f"peak RSS {peak_mb:,.0f} MB")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--per-day", type=int, default=100_000, help="card transactions a day")
    parser.add_argument("--first-day", type=int, default=15,
                        help="calendar day to start at (default 15: the anomaly window, where landing does most)")
    parser.add_argument("--root", help="storage root to write to (default: a temporary folder)")
    args = parser.parse_args(argv)
    scenario = load_scenario()
    scenario = validate_scenario(merge_over(Scenario, scenario.model_dump(mode="json"),
                                            {"card_transactions": {"per_day": args.per_day}}), "benchmark")
    with tempfile.TemporaryDirectory() as scratch:
        totals = run(scenario, args.days, args.root or scratch, args.first_day)
    print(report(totals, args.days, args.per_day, args.first_day))


if __name__ == "__main__":
    main()
