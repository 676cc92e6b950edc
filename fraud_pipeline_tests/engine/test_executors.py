"""The executors run the same tasks to the same results and the same files, in task order whatever order the tasks
finish in: in this process, on a pool of processes, on a local Ray and on a real two-node Ray cluster; they retry a
failing task alone, survive a dead worker process and a dead node, and name the task that kept failing.

Runs are counted from the files each attempt leaves (`executor_tasks.runs`), across processes and nodes."""

import dataclasses
import multiprocessing
import os
import shutil
import socket
import tempfile
import threading
from pathlib import Path

import pytest

from fraud_pipeline.engine.executors import (
    ExecutorSettings,
    TaskDone,
    TaskFailed,
    available_cpus,
    executor_session,
    run_tasks,
    settings_from_environment,
)
from fraud_pipeline.engine.process_pool import WorkerDied
from fraud_pipeline_tests.executor_tasks import block_tasks, files, process_of, run_blocks, runs

LOCAL_KINDS = [ExecutorSettings("in_process"), ExecutorSettings("processes", 1), ExecutorSettings("processes", 2)]


def execute(tasks, settings, **options) -> tuple[list, list[TaskDone]]:
    """run_tasks with every progress report kept; once every task but those waiting for a file is reported, the
    file is made, so those finish last."""
    done: list[TaskDone] = []
    gates = [Path(task.wait_for) for task in tasks if task.wait_for]

    def progress(report: TaskDone) -> None:
        done.append(report)
        if len(done) == len(tasks) - len(gates):
            for gate in gates:
                gate.touch()

    results = run_tasks(run_blocks, tasks, [task.label for task in tasks], settings, progress=progress, **options)
    return results, done


def out_of_order(folder) -> list:
    """Four tasks of which the first finishes only after this process has the other three's results: given two
    workers (one held by the first task), the order the tasks finish in is known."""
    tasks = block_tasks(folder)
    return [dataclasses.replace(tasks[0], wait_for=str(Path(folder) / "go")), *tasks[1:]]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The in_process results and files: the reference every executor must reproduce."""
    folder = tmp_path_factory.mktemp("reference")
    results, _ = execute(block_tasks(folder), ExecutorSettings("in_process"))
    return results, files(folder)


def assert_reports_match_runs(done: list[TaskDone], folder, count: int, exact: bool = True) -> None:
    """One report per task, each naming the attempt that succeeded, which is how many times it ran. When a worker
    died, the pool stopped the tasks running beside it: one stopped between announcing itself and recording its
    run counts an attempt with no run file, so then a task may have run fewer times than its attempt says — never
    more: a finished task never runs again."""
    assert sorted(report.index for report in done) == list(range(count))
    attempts = {int(report.label.split()[1].split("–")[0]): report.attempt for report in done}
    counted = {first: len(where) for first, where in runs(folder).items()}
    if exact:
        assert counted == attempts
    else:
        assert counted.keys() == attempts.keys() and all(counted[first] <= attempts[first] for first in attempts)


# --- settings ------------------------------------------------------------------------------------------------------

def test_settings_default_to_in_process_on_the_cpus_this_process_may_use():
    assert settings_from_environment({}) == ExecutorSettings("in_process", len(os.sched_getaffinity(0)))
    empty = {"FRAUD_PIPELINE_EXECUTOR": "", "FRAUD_PIPELINE_WORKERS": " "}
    assert settings_from_environment(empty).kind == "in_process"


def test_settings_read_both_variables():
    environ = {"FRAUD_PIPELINE_EXECUTOR": "ray", "FRAUD_PIPELINE_WORKERS": "3"}
    assert settings_from_environment(environ) == ExecutorSettings("ray", 3)
    assert settings_from_environment({"FRAUD_PIPELINE_EXECUTOR": " processes "}).kind == "processes"


@pytest.mark.parametrize("variable, value, allowed", [
    ("FRAUD_PIPELINE_EXECUTOR", "dask", "use one of in_process, processes, ray"),
    ("FRAUD_PIPELINE_EXECUTOR", "Ray", "use one of in_process, processes, ray"),
    ("FRAUD_PIPELINE_WORKERS", "0", "use a whole number ≥ 1"),
    ("FRAUD_PIPELINE_WORKERS", "-2", "use a whole number ≥ 1"),
    ("FRAUD_PIPELINE_WORKERS", "1.5", "use a whole number ≥ 1"),
    ("FRAUD_PIPELINE_WORKERS", "four", "use a whole number ≥ 1"),
])
def test_a_bad_variable_is_named_with_its_value_and_the_allowed_values(variable, value, allowed):
    with pytest.raises(ValueError) as raised:
        settings_from_environment({variable: value})
    assert variable in str(raised.value) and repr(value) in str(raised.value) and allowed in str(raised.value)


@pytest.mark.parametrize("kind, workers", [("threads", None), ("processes", 0), ("processes", True), ("ray", 2.0)])
def test_settings_refuse_what_no_executor_means(kind, workers):
    with pytest.raises(ValueError, match="is not allowed"):
        ExecutorSettings(kind, workers)


def test_unset_workers_are_decided_when_tasks_run():
    assert ExecutorSettings("processes").worker_count == available_cpus()
    assert ExecutorSettings("processes", 5).worker_count == 5


def test_labels_name_one_task_each(tmp_path):
    tasks = block_tasks(tmp_path)
    with pytest.raises(ValueError, match="4 tasks but 3 labels"):
        run_tasks(run_blocks, tasks, ["a", "b", "c"], ExecutorSettings())
    with pytest.raises(ValueError, match="'a' name several"):
        run_tasks(run_blocks, tasks, ["a", "a", "b", "c"], ExecutorSettings())
    with pytest.raises(ValueError, match="retries=-1"):
        run_tasks(run_blocks, tasks, ["a", "b", "c", "d"], ExecutorSettings(), retries=-1)
    assert not (tmp_path / "runs").exists()


def test_no_tasks_start_nothing():
    assert run_tasks(run_blocks, [], [], ExecutorSettings("ray", 2)) == []
    assert run_tasks(run_blocks, [], [], ExecutorSettings("processes", 2)) == []


# --- the same results and files, in task order -------------------------------------------------------------------

@pytest.mark.parametrize("settings", LOCAL_KINDS, ids=lambda s: f"{s.kind}-{s.workers}")
def test_every_local_executor_gives_the_reference_results_and_files(settings, reference, tmp_path):
    tasks = out_of_order(tmp_path) if settings.workers == 2 else block_tasks(tmp_path)
    results, done = execute(tasks, settings)
    assert (results, files(tmp_path)) == reference
    assert_reports_match_runs(done, tmp_path, len(tasks))
    if settings.workers == 2:  # the first task finished last, and its result is still first
        assert [report.index for report in done][-1] == 0
    pids = {int(report.where.rsplit("/", 1)[1]) for report in done}
    assert all(report.where.startswith(f"{socket.gethostname()}/") for report in done)
    assert (pids == {os.getpid()}) == (settings.kind == "in_process")
    assert all(report.seconds >= 0 and report.cpu_seconds is not None for report in done)


# --- retries and failures ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("settings", LOCAL_KINDS[::2], ids=lambda s: f"{s.kind}-{s.workers}")
def test_a_task_that_fails_once_is_retried_and_the_others_run_once(settings, reference, tmp_path):
    results, done = execute(block_tasks(tmp_path, trouble={4: "fail_once"}), settings)
    assert (results, files(tmp_path)) == reference
    assert {first: len(where) for first, where in runs(tmp_path).items()} == {0: 1, 4: 2, 8: 1, 12: 1}
    assert_reports_match_runs(done, tmp_path, 4)


@pytest.mark.parametrize("settings", LOCAL_KINDS[::2], ids=lambda s: f"{s.kind}-{s.workers}")
def test_a_task_that_always_fails_is_named(settings, tmp_path):
    with pytest.raises(TaskFailed) as raised:
        execute(block_tasks(tmp_path, trouble={4: "fail_always"}), settings, retries=1)
    assert raised.value.labels == ["blocks 4–7"]
    assert "blocks 4–7 after 2 attempts (ValueError: blocks 4–7 fails on purpose)" in str(raised.value)
    assert isinstance(raised.value, RuntimeError) and isinstance(raised.value.__cause__, ValueError)
    counted = {first: len(where) for first, where in runs(tmp_path).items()}
    assert counted[4] == 2 and all(n == 1 for first, n in counted.items() if first != 4)


def test_a_worker_process_that_dies_is_replaced_and_its_tasks_rerun(reference, tmp_path):
    results, done = execute(block_tasks(tmp_path, trouble={8: "die_once"}), ExecutorSettings("processes", 2))
    assert (results, files(tmp_path)) == reference
    assert len(runs(tmp_path)[8]) == 2
    assert_reports_match_runs(done, tmp_path, 4, exact=False)  # a task that had finished was never run again


def test_a_task_that_keeps_killing_its_worker_is_named(tmp_path):
    with pytest.raises(TaskFailed) as raised:
        execute(block_tasks(tmp_path, trouble={8: "die_always"}), ExecutorSettings("processes", 2), retries=1)
    assert raised.value.labels == ["blocks 8–11"]
    assert isinstance(raised.value.failures["blocks 8–11"], WorkerDied)
    assert "the worker process running blocks 8–11 alone died" in str(raised.value)
    assert len(runs(tmp_path)[8]) == 2


def test_a_run_stopped_midway_leaves_no_worker_running(tmp_path):
    """A run stopped from outside (here its progress callback raises, as Dagster's termination would) terminates
    the workers still running and never starts the tasks left."""

    class Stopped(Exception):
        pass

    def stop(report: TaskDone):
        raise Stopped(report.label)

    tasks = block_tasks(tmp_path, sleep=1.0)
    with pytest.raises(Stopped):
        run_tasks(run_blocks, tasks, [task.label for task in tasks], ExecutorSettings("processes", 2), progress=stop)
    assert multiprocessing.active_children() == []
    assert 1 <= len(runs(tmp_path)) <= 2  # at most the two running when the first finished; no other started


# --- Ray -----------------------------------------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_local_ray_gives_the_reference_results_on_loopback_and_stops(reference, tmp_path, monkeypatch):
    import ray

    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    assert not ray.is_initialized()
    results, done = execute(out_of_order(tmp_path), ExecutorSettings("ray", 2))
    assert (results, files(tmp_path)) == reference
    assert [report.index for report in done][-1] == 0
    assert_reports_match_runs(done, tmp_path, 4)
    assert all(" at 127.0.0.1/" in report.where for report in done)  # bound to loopback, not the host's address
    assert not ray.is_initialized()  # the Ray it started is shut down


@pytest.fixture(scope="module")
def cluster():
    """A head and a worker node (1 CPU each), each its own raylet started by `ray start`; stopped in any case."""
    from fraud_pipeline.engine.local_ray_cluster import LocalRayCluster

    if not Path("/proc/self/stat").exists():
        pytest.skip("finds the nodes' processes in /proc")
    root = Path(tempfile.mkdtemp(prefix="fp-ray-", dir="/tmp"))  # short: Ray's socket paths must fit in 107 bytes
    nodes = LocalRayCluster(root)
    try:
        nodes.start_head()
        worker = nodes.add_node()
        yield nodes, worker
    finally:
        left = nodes.stop()
        shutil.rmtree(root, ignore_errors=True)
        assert left == [], f"processes of the test cluster still alive: {left}"


def node_ids(address: str) -> dict[int, str]:
    """{node manager port: node id} of the cluster's live nodes."""
    import ray

    ray.init(address=address, logging_level="WARNING")
    try:
        return {node["NodeManagerPort"]: node["NodeID"] for node in ray.nodes() if node["Alive"]}
    finally:
        ray.shutdown()


def node_of(where: str) -> str:
    return where.split()[2]


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_real_cluster_runs_tasks_on_both_nodes_to_the_reference_results(cluster, reference, tmp_path, monkeypatch):
    nodes, _ = cluster
    monkeypatch.setenv("RAY_ADDRESS", nodes.address)
    # the first task holds one node's only CPU until the others have finished, so they must run on the other node
    results, done = execute(out_of_order(tmp_path), ExecutorSettings("ray"))
    assert (results, files(tmp_path)) == reference
    assert {node_of(report.where) for report in done} == set(node_ids(nodes.address).values())
    assert_reports_match_runs(done, tmp_path, 4)


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_real_cluster_retries_a_failing_task_and_a_dying_worker_alone(cluster, reference, tmp_path, monkeypatch):
    nodes, _ = cluster
    monkeypatch.setenv("RAY_ADDRESS", nodes.address)
    results, done = execute(block_tasks(tmp_path, trouble={4: "fail_once", 8: "die_once"}), ExecutorSettings("ray"))
    assert (results, files(tmp_path)) == reference
    assert {first: len(where) for first, where in runs(tmp_path).items()} == {0: 1, 4: 2, 8: 2, 12: 1}
    assert_reports_match_runs(done, tmp_path, 4)


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_real_cluster_names_the_task_that_always_fails(cluster, tmp_path, monkeypatch):
    nodes, _ = cluster
    monkeypatch.setenv("RAY_ADDRESS", nodes.address)
    with pytest.raises(TaskFailed) as raised:
        execute(block_tasks(tmp_path, trouble={12: "fail_always"}), ExecutorSettings("ray"), retries=1)
    assert raised.value.labels == ["blocks 12–15"]
    assert "blocks 12–15 after 2 attempts (ValueError: blocks 12–15 fails on purpose)" in str(raised.value)
    assert len(runs(tmp_path)[12]) == 2


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_the_bank_on_a_real_cluster_spreads_its_ranges_over_both_nodes_to_the_same_files(
        cluster, small_bank, tmp_path, monkeypatch):
    """The bank's days (two ranges of blocks a day) on the two-node cluster, as a run pointed at it by `RAY_ADDRESS`
    executes them: every file of the store is the one the in-process run writes, and the ranges ran on both
    nodes."""
    from fraud_pipeline_tests.engine.test_ranges import stored_bank

    nodes, _ = cluster
    reference = stored_bank(small_bank, tmp_path / "in_process", [ExecutorSettings("in_process")] * 2)
    monkeypatch.setenv("RAY_ADDRESS", nodes.address)
    done: list[TaskDone] = []
    on_cluster = stored_bank(small_bank, tmp_path / "cluster", [ExecutorSettings("ray")] * 2, done.append)
    assert on_cluster == reference
    # the world's two ranges (built on the cluster too, before the first day), then two days of two ranges
    assert [report.label.startswith("world ") for report in done] == [True] * 2 + [False] * 4
    assert {node_of(report.where) for report in done} == set(node_ids(nodes.address).values())


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_losing_a_node_mid_run_reruns_its_tasks_or_names_them(cluster, tmp_path, monkeypatch):
    """The worker node is killed (every process of it, SIGKILL) as soon as a task has started there. The run then
    either finishes with the reference results, the lost tasks rerun on the head, or raises TaskFailed naming only
    tasks that were on the lost node — nothing else. Runs last in this module: the cluster loses its node."""
    nodes, worker = cluster
    tasks = block_tasks(tmp_path / "run", blocks=24, sleep=1.5)
    expected, _ = execute([dataclasses.replace(task, folder=str(tmp_path / "reference"), sleep=0) for task in tasks],
                          ExecutorSettings("in_process"))
    lost_node = node_ids(nodes.address)[worker.node_manager_port]
    killed: list[int] = []
    stop = threading.Event()

    def kill_once_a_task_runs_there():
        while not stop.wait(0.05):
            if any(lost_node in where for found in runs(tmp_path / "run").values() for where in found):
                killed.append(nodes.kill(worker))
                return

    watcher = threading.Thread(target=kill_once_a_task_runs_there, daemon=True)
    watcher.start()
    monkeypatch.setenv("RAY_ADDRESS", nodes.address)
    try:
        outcome, done = execute(tasks, ExecutorSettings("ray"))
    except TaskFailed as failed:
        outcome, done = failed, []
    finally:
        stop.set()
        watcher.join()
    assert killed and killed[0] > 0  # the node was killed while one of its tasks ran
    started_there = {first for first, found in runs(tmp_path / "run").items() if any(lost_node in w for w in found)}
    labels = {task.first: task.label for task in tasks}
    if isinstance(outcome, TaskFailed):
        assert set(outcome.labels) <= {labels[first] for first in started_there}, outcome
    else:
        assert outcome == [dict(result) for result in expected]
        assert all(lost_node not in report.where for report in done if tasks[report.index].first in started_there)
        assert {report.index for report in done} == set(range(len(tasks)))


def test_a_session_keeps_its_pool_of_processes_between_calls():
    """A run's days are one `run_tasks` call each: in a session they run on the same worker processes (which keep
    what they cached, the bank's world), and without one each call has its own."""
    settings = ExecutorSettings("processes", 2)
    labels = ["a", "b", "c", "d"]
    with executor_session(settings) as where:
        first = set(run_tasks(process_of, [0.3] * 4, labels, settings))
        second = set(run_tasks(process_of, [0.3] * 4, labels, settings))
    assert where == "a pool of 2 local processes"
    kept = first | second
    assert len(kept) <= 2 and os.getpid() not in kept  # the two calls ran on one pool of two (a new one: new pids)
    alone = set(run_tasks(process_of, [0.3] * 4, labels, settings))
    assert alone and not alone & kept  # without a session, a pool of its own: other processes
