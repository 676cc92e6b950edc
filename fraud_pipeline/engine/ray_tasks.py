"""Tasks on Ray: the cluster at `RAY_ADDRESS` (or the one this process is already connected to), else a local Ray
started for the call on 127.0.0.1 and shut down after it.

Ray retries a task itself (`max_retries`, `retry_exceptions=True`): after an exception, and after its worker or
its whole node died, on any node that is left. Results come back pickled to bytes and are unpickled here, so the
caller holds plain values that do not point into Ray's object store (which is gone after the shutdown); they should
stay small — manifests, not tables. Ray is an optional dependency (`pip install 'fraud_pipeline[ray]'`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from fraud_pipeline.engine.tasks import LOG, TaskDone, TaskFailed, attempt

LARGE_RESULT_BYTES = 1 << 20  # a result above this is logged: tasks should return manifests, not tables
CANCEL_WAIT_SECONDS = 60.0  # after a failure, how long to wait for the other tasks to stop


def import_ray():
    try:
        import ray
    except ImportError as missing:
        raise ImportError("the 'ray' executor needs Ray: pip install 'fraud_pipeline[ray]'") from missing
    return ray


@contextlib.contextmanager
def ray_session(workers: int) -> Iterator[str]:
    """Connected to Ray for the block; yields a description of the cluster for the log.

    Already connected: that connection is used and left open. Else `RAY_ADDRESS` set: connect to it (and disconnect
    after; the cluster stays). Else: start a local Ray with `workers` CPUs, no dashboard, listening on 127.0.0.1 only,
    and stop it after.
    """
    ray = import_ray()
    if ray.is_initialized():
        yield f"the Ray cluster this process is connected to ({ray.get_runtime_context().gcs_address})"
        return
    address = os.environ.get("RAY_ADDRESS")
    if address:
        ray.init(address=address, logging_level=logging.WARNING, log_to_driver=False)
        cpus = ray.cluster_resources().get("CPU", 0)
        where = f"the Ray cluster at {address} ({len(ray.nodes())} nodes, {cpus:g} CPUs)"
    else:
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # a local run reports nothing to anyone
        _start_local_ray(ray, workers)
        where = f"a local Ray on 127.0.0.1 with {workers} CPUs"
    try:
        yield where
    finally:
        ray.shutdown()


def _start_local_ray(ray, workers: int) -> None:
    """`ray.init` of a new local Ray bound to 127.0.0.1. On Linux Ray replaces 127.0.0.1 by the host's address (so
    that other nodes could join) and then listens on every interface, without authentication; its switch for
    macOS and Windows (`ENABLE_RAY_CLUSTER`, read when addresses are resolved) keeps the loopback address, so it is
    turned off for the start alone (a test checks where the local Ray's tasks ran)."""
    from ray._private import ray_constants  # private, pinned Ray: the same switch Ray itself uses on macOS

    saved = ray_constants.ENABLE_RAY_CLUSTER
    ray_constants.ENABLE_RAY_CLUSTER = False
    try:
        ray.init(address="local", num_cpus=workers, include_dashboard=False, _node_ip_address="127.0.0.1",
                 logging_level=logging.WARNING, log_to_driver=False)
    finally:
        ray_constants.ENABLE_RAY_CLUSTER = saved


def ray_attempt(function: Callable[[Any], Any], task: Any) -> tuple[bytes, float, float, str, int | None]:
    """One attempt inside a Ray worker: the pickled result, wall and CPU seconds, where it ran and Ray's attempt
    number (1 = the first)."""
    done = attempt(function, task, where=_ray_where)
    return pickle.dumps(done.result, protocol=pickle.HIGHEST_PROTOCOL), done.seconds, done.cpu_seconds, done.where, \
        _attempt_number()


def _ray_where() -> str:
    import ray

    context = ray.get_runtime_context()
    return f"ray node {context.get_node_id()} at {ray.util.get_node_ip_address()}/{os.getpid()}"


def _attempt_number() -> int | None:
    """Ray counts a task's attempts but has no public call for it; None if this private one moves."""
    try:
        from ray._private.worker import global_worker

        return global_worker.core_worker.get_current_task_attempt_number() + 1
    except Exception:  # noqa: BLE001 - only a report; the task's result does not depend on it
        return None


def run_on_ray(function: Callable[[Any], Any], tasks: Sequence, labels: Sequence[str], workers: int, retries: int,
               progress: Callable[[TaskDone], None] | None) -> list:
    """The results of `function(task)` in task order, one Ray task each (1 CPU). Raises TaskFailed naming every
    task that still failed after Ray's retries; the others still pending or running are cancelled first."""
    ray = import_ray()
    with ray_session(workers) as cluster:
        LOG.info(f"{len(tasks)} tasks on {cluster}")
        remote = ray.remote(num_cpus=1, max_retries=retries, retry_exceptions=True)(ray_attempt)
        pending = {remote.options(name=label).remote(function, task): index
                   for index, (task, label) in enumerate(zip(tasks, labels))}
        results: list = [None] * len(tasks)
        failures: dict[int, BaseException] = {}
        try:
            while pending and not failures:
                ready, _ = ray.wait(list(pending), num_returns=1)
                for ref in ready:
                    index = pending.pop(ref)
                    try:
                        payload, seconds, cpu_seconds, where, attempt_number = ray.get(ref)
                    except Exception as error:  # noqa: BLE001 - Ray's own retries are spent: the task failed
                        failures[index] = _cause(error)
                        continue
                    if len(payload) > LARGE_RESULT_BYTES:
                        LOG.warning(f"task {labels[index]} returned {len(payload) / 2**20:.1f} MiB: return a manifest, "
                                    "not the data")
                    results[index] = pickle.loads(payload)
                    if progress is not None:
                        progress(TaskDone(labels[index], index, attempt_number, seconds, cpu_seconds, where))
        finally:
            if pending:  # a failure, an interruption or a failing progress callback: stop the rest
                _cancel(ray, list(pending))
        if failures:
            first = failures[min(failures)]
            attempts = {labels[i]: retries + 1 for i in failures}
            raise TaskFailed({labels[i]: failures[i] for i in sorted(failures)}, attempts,
                             not_run=len(pending)) from first
        return results


def _cause(error: BaseException) -> BaseException:
    """The task's own exception inside Ray's wrapper (`RayTaskError.cause`), else Ray's error (a worker or node
    that died, a cancelled task)."""
    cause = getattr(error, "cause", None)
    return cause if isinstance(cause, BaseException) else error


def _cancel(ray, refs: list) -> None:
    """Cancel `refs` (queued ones never start; running ones are interrupted) and wait until they have ended."""
    for ref in refs:
        with contextlib.suppress(Exception):
            ray.cancel(ref, recursive=True)
    with contextlib.suppress(Exception):
        ray.wait(refs, num_returns=len(refs), timeout=CANCEL_WAIT_SECONDS)

