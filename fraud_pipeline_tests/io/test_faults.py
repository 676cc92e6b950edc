"""Faults, with nothing lost (real `dagster asset materialize` processes): the S3 server stopping in the middle
of a run, a run killed with SIGKILL in the middle of a write, two runs writing one partition at once.

The promise each test holds the product to: a partition with a manifest is complete and exactly what a
clean run writes; the partition a fault interrupts has no manifest; a retry gives exactly a clean run.
"""

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from moto.server import ThreadedMotoServer

from fraud_pipeline.io.storage import ObjectStore
from fraud_pipeline_tests.conftest import _free_port
from fraud_pipeline_tests.defs.test_cli import (PROJECT, SMALL_WORLD, cli_environment, data_tree, materialize_command,
                                                run_cli, run_together)
from fraud_pipeline_tests.s3_proxy import S3Proxy

pytestmark = pytest.mark.slow

DAYS = ("--partition-range", "2026-01-01...2026-01-03")
WORLD_AND_EVENTS = ("--select", "group:entities or group:events", *DAYS)
FUNNEL_DAY = ("--select", "web_visits,applications,new_accounts,new_account_transactions", "--partition", "2026-01-02")


def _start_with_fault(env: dict, fault: dict, *selection: str) -> subprocess.Popen:
    command = [sys.executable, "-m", "fraud_pipeline_tests.fault_cli", *materialize_command(*selection)[1:]]
    return subprocess.Popen(command, cwd=PROJECT, env={**env, **fault}, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def _partitions(store: ObjectStore) -> dict[str, dict | None]:
    """Each partition folder holding any file, by `table/date=…`, with its manifest or None."""
    folders = {path.rsplit("/", 1)[0] for path in data_tree(store) if "/date=" in path and "/_manifests/" not in path}
    return {f"{table}/{partition}": store.read_manifest(layer, table, partition.removeprefix("date="))
            for layer, table, partition in (folder.rsplit("/", 3)[1:] for folder in folders)}


def _assert_same_files(store: ObjectStore, clean: ObjectStore) -> None:
    tree, clean_tree = data_tree(store), data_tree(clean)
    assert sorted(tree) == sorted(clean_tree)
    assert [path for path in tree if tree[path] != clean_tree[path]] == []


def _assert_nothing_lost(store: ObjectStore, clean: ObjectStore, interrupted: set[str]) -> None:
    """Only the interrupted partitions lack a manifest (their old ones were removed before their files changed): one
    table's, or all the tables a bank day publishes together. Every other holds its manifest's checksums (a complete
    partition, never a mix) and is byte-identical to a clean run."""
    partitions, tree, clean_tree = _partitions(store), data_tree(store), data_tree(clean)
    assert {name for name, manifest in partitions.items() if manifest is None} == interrupted
    assert len(partitions) > 1
    for name, manifest in partitions.items():
        if manifest is None:
            continue
        table, partition = name.split("/")
        store.read_files(manifest["layer"], table, partition.removeprefix("date="))  # checksums hold
        for entry in manifest["files"]:
            path = f"/{manifest['layer']}/{name}/{entry['path']}"
            assert tree[path] == clean_tree[path], path


def test_a_run_killed_mid_write_leaves_nothing_that_looks_complete_and_a_retry_equals_a_clean_run(tmp_path):
    # A clean run of the scenario; and a store holding the scenario's complete days, which the run rewriting
    # them is killed in the middle of (a root holds one scenario: see test_one_scenario).
    clean = ObjectStore(root_url=str(tmp_path / "clean"))
    hurt = ObjectStore(root_url=str(tmp_path / "hurt"))
    run_together((cli_environment(tmp_path / "c", SMALL_WORLD, clean.root_url), WORLD_AND_EVENTS),
                  (cli_environment(tmp_path / "old", SMALL_WORLD, hurt.root_url), WORLD_AND_EVENTS))
    env = cli_environment(tmp_path / "h", SMALL_WORLD, hurt.root_url)
    killed = _start_with_fault(env, {"FAULT": "kill", "FAULT_AT": "events/applications/date=2026-01-02/"},
                               *WORLD_AND_EVENTS)
    killed.communicate(timeout=600)
    assert killed.returncode == -signal.SIGKILL

    _assert_nothing_lost(hurt, clean, interrupted={"applications/date=2026-01-02"})
    retry = run_cli(env, *WORLD_AND_EVENTS)
    assert retry.returncode == 0, retry.stderr[-3000:]
    _assert_same_files(hurt, clean)


def test_the_s3_server_stopping_mid_run_fails_it_clearly_and_a_retry_equals_a_clean_run(tmp_path, s3_server):
    port = _free_port()
    state = {"server": ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)}
    state["server"].start()
    endpoint = f"http://127.0.0.1:{port}"
    clean = ObjectStore(root_url="s3://clean-run/fraud", endpoint_url=endpoint)
    hurt = ObjectStore(root_url="s3://hurt-run/fraud", endpoint_url=endpoint)
    for store in (clean, hurt):
        store.filesystem().mkdir(store.root_url.removeprefix("s3://").split("/")[0])
    direct = {"AWS_ENDPOINT_URL": endpoint}
    run_together(({**cli_environment(tmp_path / "c", SMALL_WORLD, clean.root_url), **direct}, WORLD_AND_EVENTS),
                  ({**cli_environment(tmp_path / "old", SMALL_WORLD, hurt.root_url), **direct}, WORLD_AND_EVENTS))

    # The S3 server stops as the run starts replacing day 2 (before that PUT reaches it).
    first_file_of_day_2 = "/hurt-run/fraud/events/card_transactions/date%3D2026-01-02/part-b"
    with S3Proxy(endpoint, trigger=(lambda method, path: method == "PUT" and path.startswith(first_file_of_day_2),
                                    lambda: state["server"].stop())) as proxy:
        env = {**cli_environment(tmp_path / "h", SMALL_WORLD, hurt.root_url), "AWS_ENDPOINT_URL": proxy.url}
        failed = run_cli(env, *WORLD_AND_EVENTS)
        log = failed.stdout + failed.stderr
        assert failed.returncode != 0
        assert "attempt 1 of 4 failed" in log and "attempt 3 of 4 failed" in log  # retried, visibly
        assert re.search(r"card_transactions/date=2026-01-02/part-b\d{6}-b\d{6}\.parquet failed 4 times", log)

        state["server"] = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)  # it returns
        state["server"].start()
        # the bank day's tables are published together: none of day 2's keeps a manifest, no other table loses one
        _assert_nothing_lost(hurt, clean, interrupted={f"{table}/date=2026-01-02" for table in (
            "card_transactions", "account_balances", "card_events", "customer_events", "bank_state", "outbox")})
        retry = run_cli(env, *WORLD_AND_EVENTS)
    try:
        assert retry.returncode == 0, retry.stderr[-3000:]
        # The failed run could not release its lease (the store was gone); the retry took it over once expired.
        assert "took over the expired lock of s3://hurt-run/fraud/events/card_transactions/date=2026-01-02" in \
            retry.stdout + retry.stderr
        _assert_same_files(hurt, clean)
    finally:
        state["server"].stop()


def test_two_runs_writing_one_partition_at_once_leave_the_later_ones_complete_partition(tmp_path):
    """Run A pauses while it holds applications/2026-01-02; run B (another process, the same scenario: a root holds
    one) starts meanwhile and must wait for it, then replace it whole: that partition is exactly a clean run's.
    (Writers of different content racing on one partition: test_storage.)"""
    clean = ObjectStore(root_url=str(tmp_path / "clean"))
    run_together((cli_environment(tmp_path / "c", SMALL_WORLD, clean.root_url), FUNNEL_DAY))

    shared = str(tmp_path / "shared")
    marker = tmp_path / "paused"
    first = _start_with_fault(cli_environment(tmp_path / "a", SMALL_WORLD, shared),
                              {"FAULT": "pause", "FAULT_AT": "events/applications/date=2026-01-02/",
                               "FAULT_SECONDS": "25", "FAULT_MARKER": str(marker)}, *FUNNEL_DAY)
    deadline = time.monotonic() + 120
    while not marker.exists():
        assert first.poll() is None and time.monotonic() < deadline, first.stdout.read()
        time.sleep(0.1)
    second = run_cli(cli_environment(tmp_path / "b", SMALL_WORLD, shared), *FUNNEL_DAY)
    first_log, _ = first.communicate(timeout=600)

    assert first.returncode == 0, first_log[-3000:]
    assert second.returncode == 0, second.stderr[-3000:]
    assert "waiting for another writer of" in second.stdout + second.stderr
    stored = ObjectStore(root_url=shared)
    # The contended partition is whole, a clean run's. The tables each run writes after it race freely (A is ahead
    # unless the machine stalls it), so each of those is one run's complete partition, never a mix.
    contended = "/events/applications/date=2026-01-02"
    tree, clean_tree = data_tree(stored), data_tree(clean)
    assert {p: b for p, b in tree.items() if contended in p} == {p: b for p, b in clean_tree.items() if contended in p}
    assert json.loads(Path(stored.manifest_path("events", "applications", "2026-01-02")).read_text())["rows"] > 0
    for table in ("web_visits", "new_accounts", "new_account_transactions"):
        manifest = stored.read_manifest("events", table, partition="2026-01-02")
        stored.read_table("events", table, partition="2026-01-02")  # every file matches its manifest checksum
        assert sorted(f["path"] for f in manifest["files"]) == sorted(
            path.rsplit("/", 1)[1] for path in tree if path.startswith(f"/events/{table}/date=2026-01-02/"))
