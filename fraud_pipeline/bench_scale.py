"""Benchmark of the block engine: banks of growing size, on each executor — wall and CPU seconds, peak memory, rows
and bytes written, and the pyarrow floor of writing the same tables, in the same run.

    python -m fraud_pipeline.bench scale --customers 20000 200000 --executors in_process processes:2 --days 2

Each bank is a scaled copy of the scenario (`bank_of`: the population's counts times customers / 20,000, and 0.9
customer payments a day per customer, seed 000's national density). Each measurement runs in a fresh process, so
its peak RSS is its own: first the entities (generated and written), then the bank's world (built once per scenario
and stored by file range, `engine.ranges.ensure_world`), then the bank days (`engine.ranges.run_days`, from the
calendar's start) on the executor named — `in_process`, `processes:N` (a pool of N), `ray:N` (a local Ray of N CPUs
started by the run, its start and stop in the run's wall time) or `ray-cluster:N` (a Ray cluster of N one-CPU nodes
on this machine, each started by `ray start` before the measurement, as a cluster is, and stopped after it: the run
connects through `RAY_ADDRESS`). The peak of the days is the largest of the driver and its pool's workers (a local Ray's workers are not
the driver's children: their peak is not measured). Then the floor: pyarrow alone writing the days' tables read
back, with the same options. CPU seconds are the driver's and its waited children's.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pyarrow.parquet as pq

from fraud_pipeline.engine.entity_ranges import BY_BLOCK, write_entity_table
from fraud_pipeline.engine.executors import ExecutorSettings
from fraud_pipeline.engine.local_ray_cluster import LocalRayCluster
from fraud_pipeline.engine.ranges import DAY_TABLES, ENTITIES, ensure_world, run_days
from fraud_pipeline.engine.world_store import WORLD
from fraud_pipeline.io.formats import PARQUET_OPTIONS
from fraud_pipeline.io.storage import ObjectStore
from fraud_pipeline.scenario import Scenario, load_scenario, with_overrides
from fraud_pipeline.world.entities import BUILDERS as ENTITY_BUILDERS

REFERENCE_CUSTOMERS = 20_000  # the default scenario's population, which `bank_of` scales
PAYMENTS_PER_CUSTOMER = 0.9  # customer payments a day per customer (issue 23: a national bank's density)
SCALED = ("customers", "accounts", "devices", "beneficiaries", "merchants", "atms", "online_merchants",
          "foreign_merchants", "foreign_atms")


def bank_of(scenario: Scenario, customers: int, blocks_per_file: int | None = None) -> Scenario:
    """`scenario` with `customers` customers: every population count scaled by customers / 20,000 (at least 1) and
    `card_transactions.per_day` = 0.9 per customer; `blocks_per_file` if given (fewer blocks a file: more tasks a
    day, to measure parallel work on a bank smaller than national)."""
    factor = customers / REFERENCE_CUSTOMERS
    population = {name: max(1, round(getattr(scenario.population, name) * factor)) for name in SCALED}
    storage = {"blocks_per_file": blocks_per_file} if blocks_per_file else {}
    return with_overrides(scenario, {"population": population, "storage": storage,
                                     "card_transactions": {"per_day": round(PAYMENTS_PER_CUSTOMER * customers)}},
                          f"benchmark bank of {customers:,} customers")


def executor_of(text: str) -> ExecutorSettings:
    """`in_process`, `processes:N`, `ray:N` or `ray-cluster:N` (Ray, at the cluster `cluster_for` started) as
    settings; ValueError naming the allowed forms otherwise."""
    kind, _, workers = text.partition(":")
    if (kind not in ("in_process", "processes", "ray", "ray-cluster") or (workers and not workers.isdecimal())
            or (kind == "ray-cluster" and not workers)):
        raise ValueError(f"--executors: {text!r} is not in_process, processes:N, ray:N or ray-cluster:N")
    return ExecutorSettings(kind="ray" if kind == "ray-cluster" else kind, workers=int(workers) if workers else None)


@contextlib.contextmanager
def cluster_for(executor: str) -> Iterator[dict[str, str] | None]:
    """For `ray-cluster:N`, a Ray cluster of N one-CPU nodes on 127.0.0.1 (a head and N − 1 workers, started before
    and stopped after the measurement) and the environment that points a run at it; None for other executors."""
    if not executor.startswith("ray-cluster:"):
        yield None
        return
    root = Path(tempfile.mkdtemp(prefix="fp-bench-ray-", dir="/tmp"))  # short: Ray's socket paths are limited
    nodes = LocalRayCluster(root)
    try:
        address = nodes.start_head()
        for _ in range(int(executor.partition(":")[2]) - 1):
            nodes.add_node()
        yield {**os.environ, "RAY_ADDRESS": address}
    finally:
        nodes.stop()
        subprocess.run(["rm", "-rf", str(root)], check=False)


def _usage() -> tuple[float, float, float]:
    """CPU seconds of this process and its waited children, and the larger of their peak RSS, in MB."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return (own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime, own.ru_maxrss / 1024,
            children.ru_maxrss / 1024)


def entities_step(customers: int, root: str, blocks_per_file: int | None) -> dict:
    """Generate and write the bank's entities (in this process), as the `entities` assets do: a customer's own
    tables by range of blocks (`engine.entity_ranges`), each range from the stored ranges it is built from; the
    shared ones whole, let go once no later table needs them; their CPU seconds, peak RSS and floor (each range's
    part written again by pyarrow alone, read back one at a time)."""
    scenario = bank_of(load_scenario(), customers, blocks_per_file)
    store = ObjectStore(root_url=root)
    started = time.perf_counter()
    tables, rows, floor = {}, 0, 0.0
    for position, (name, (build, inputs)) in enumerate(ENTITY_BUILDERS.items()):
        if name in BY_BLOCK:
            written, _, _ = write_entity_table(scenario, store, name, ExecutorSettings("in_process"))
            rows += written.rows
            floor += sum(_floor([part.read()]) for part in store.listed_parts("entities", name))
            continue
        tables[name] = build(scenario, *(tables[i] for i in inputs))
        if name in ENTITIES:
            store.write_table("entities", name, tables[name], scenario.content_hash)
            rows += tables[name].num_rows
            floor += _floor([tables[name]])
        needed = {i for _, later in list(ENTITY_BUILDERS.values())[position + 1:] for i in later}
        tables = {kept: table for kept, table in tables.items() if kept in needed}
    wall = time.perf_counter() - started
    cpu, peak, _ = _usage()
    return {"step": "entities", "customers": customers, "wall_s": wall, "cpu_s": cpu - floor, "peak_mb": peak,
            "rows": rows, "floor_s": floor}


def world_step(customers: int, root: str, blocks_per_file: int | None) -> dict:
    """Build the bank's world from the stored entities and store it by file range; its CPU seconds and peak RSS (no
    floor: it writes no table)."""
    scenario = bank_of(load_scenario(), customers, blocks_per_file)
    store = ObjectStore(root_url=root)
    started = time.perf_counter()
    ensure_world(scenario, store)
    wall = time.perf_counter() - started
    cpu, peak, _ = _usage()
    manifest = store.read_manifest(*WORLD)
    return {"step": "world", "customers": customers, "wall_s": wall, "cpu_s": cpu, "peak_mb": peak, "rows": 0,
            "bytes": sum(f["bytes"] for f in manifest["files"]), "floor_s": 0.0}


def days_step(customers: int, root: str, days: int, executor: str, blocks_per_file: int | None) -> dict:
    """Run the bank's first `days` days on `executor` over the stored entities; seconds, peak RSS, rows, bytes."""
    scenario = bank_of(load_scenario(), customers, blocks_per_file)
    store = ObjectStore(root_url=root)
    calendar = [scenario.start_date + timedelta(days=k) for k in range(days)]
    before = _usage()[0]
    started = time.perf_counter()
    outcomes = list(run_days(scenario, store, calendar, executor_of(executor)))
    wall = time.perf_counter() - started
    cpu, peak, children = _usage()
    written = [w for o in outcomes for w in o.written.values()]
    payments = sum(o.rows["card_transactions"] for o in outcomes)
    tables = (store.read_table(*key, partition=day.isoformat()) for key in DAY_TABLES for day in calendar)
    return {"step": "days", "customers": customers, "executor": executor, "days": days, "wall_s": wall,
            "cpu_s": cpu - before, "peak_mb": max(peak, children), "payments": payments,
            "rows": sum(w.rows for w in written), "bytes": sum(w.bytes for w in written),
            "blocks": outcomes[0].blocks, "ranges": outcomes[0].ranges, "floor_s": _floor(tables)}


def _floor(tables) -> float:
    """CPU seconds of pyarrow alone writing `tables` to Parquet with the store's options."""
    seconds = 0.0
    with tempfile.TemporaryDirectory() as scratch:
        for number, table in enumerate(tables):
            started = time.process_time()
            pq.write_table(table, f"{scratch}/{number}.parquet", **PARQUET_OPTIONS)
            seconds += time.process_time() - started
    return seconds


def _child(*args: str, environment: dict[str, str] | None = None) -> dict:
    done = subprocess.run([sys.executable, "-m", "fraud_pipeline.bench_scale", *args], check=True,
                          capture_output=True, text=True, env=environment)
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure(customers: list[int], executors: list[str], days: int, blocks_per_file: int | None = None) -> list[dict]:
    """Every bank size on every executor, each step in its own process; the measurements in order."""
    results = []
    for size in customers:
        with tempfile.TemporaryDirectory() as root:
            per_file = str(blocks_per_file or 0)
            results.append(_child("entities-step", str(size), root, per_file))
            results.append(_child("world-step", str(size), root, per_file))
            for executor in executors:
                _keep_only(Path(root), {"entities", "_manifests", ".locks", "state", "world", "world.json",
                                        "_scenario.json"})
                with cluster_for(executor) as environment:
                    results.append(_child("days-step", str(size), root, str(days), executor, per_file,
                                          environment=environment))
    return results


def _keep_only(folder: Path, kept: set[str]) -> None:
    """Remove what an earlier executor's days left (their tables and state), keeping the entities and the world."""
    for path in folder.glob("*"):
        if path.name not in kept:
            subprocess.run(["rm", "-rf", str(path)], check=True)
        elif path.is_dir() and path.name in ("state", "_manifests"):
            _keep_only(path, kept)


def report(results: list[dict]) -> str:
    lines = [f"{'customers':>10} {'step':<29}{'wall s':>8}{'CPU s':>8}{'peak MB':>9}{'rows':>12}{'MB out':>8}"
             f"{'floor s':>9}{'x floor':>8}"]
    for r in results:
        name = r["step"] if r["step"] in ("entities", "world") else (
            f"{r['days']} day{'s' if r['days'] != 1 else ''}, {r['executor']}, {r['ranges']} range{'s' if r['ranges'] != 1 else ''}")
        megabytes = f"{r['bytes'] / 1e6:>8.0f}" if "bytes" in r else f"{'':>8}"
        floor = f"{r['floor_s']:>9.2f}" if r["floor_s"] else f"{'':>9}"
        if r.get("executor", "").startswith("ray"):  # Ray's workers are not this process's children: not measured
            cpu, peak, ratio = f"{'—':>8}", f"{'—':>9}", f"{'—':>8}"
        else:
            cpu, peak = f"{r['cpu_s']:>8.1f}", f"{r['peak_mb']:>9,.0f}"
            ratio = f"{r['cpu_s'] / r['floor_s']:>8.2f}" if r["floor_s"] else f"{'':>8}"
        lines.append(f"{r['customers']:>10,} {name:<29}{r['wall_s']:>8.1f}{cpu}{peak}{r['rows']:>12,}{megabytes}{floor}"
                     f"{ratio}")
    days = [r for r in results if r["step"] == "days"]
    if days:
        r = max((r for r in days if r["executor"] == "in_process"), key=lambda r: r["customers"], default=days[-1])
        lines.append(f"cost: {r['cpu_s'] / r['payments'] * 1e6:,.0f} CPU s per million payments (with their "
                     f"fraud, balances, card events and clickstream); {r['bytes'] / r['rows'] * 1e6 / 1e9:.3f} GB "
                     f"per million rows written ({r['customers']:,} customers, {r['executor']})")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["entities-step"]:  # a measurement's own process (see `measure`)
        print(json.dumps(entities_step(int(argv[1]), argv[2], int(argv[3]) or None)))
        return
    if argv[:1] == ["world-step"]:
        print(json.dumps(world_step(int(argv[1]), argv[2], int(argv[3]) or None)))
        return
    if argv[:1] == ["days-step"]:
        print(json.dumps(days_step(int(argv[1]), argv[2], int(argv[3]), argv[4], int(argv[5]) or None)))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, nargs="+", default=[20_000, 100_000])
    parser.add_argument("--executors", nargs="+", default=["in_process", "processes:2"],
                        help="in_process, processes:N, ray:N or ray-cluster:N")
    parser.add_argument("--days", type=int, default=2)
    parser.add_argument("--blocks-per-file", type=int, help="storage.blocks_per_file (default: the scenario's)")
    args = parser.parse_args(argv)
    for executor in args.executors:
        executor_of(executor)
    print(report(measure(args.customers, args.executors, args.days, args.blocks_per_file)))


if __name__ == "__main__":
    main()
