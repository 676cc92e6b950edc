"""Where a day's tasks run: one after another in this process (the reference), on a local pool of processes, or on
Ray (a local Ray, or a cluster by `RAY_ADDRESS`). The choice changes where the work happens, never its result.

A *task* is a small picklable description of a fixed piece of work (a group of blocks of customers) and `function`
a module-level function of it that writes its own files and returns a small picklable result (a manifest).
`run_tasks` returns the results in task order whatever order the tasks finish in, retries a failing task alone
(tasks already finished never run again), reports each finished task to `progress`, and raises `TaskFailed`
naming the tasks that kept failing. The executor is chosen by `FRAUD_PIPELINE_EXECUTOR` and
`FRAUD_PIPELINE_WORKERS` (or the Dagster resource `defs.resources.ExecutorResource`, which shows them).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from fraud_pipeline.engine.process_pool import pool_session, run_in_pool
from fraud_pipeline.engine.ray_tasks import ray_session, run_on_ray
from fraud_pipeline.engine.tasks import LOG, TaskDone, TaskFailed, attempt, check_tasks

__all__ = ["ExecutorSettings", "TaskDone", "TaskFailed", "available_cpus", "executor_session", "run_tasks",
           "settings_from_environment"]

KINDS = ("in_process", "processes", "ray")
EXECUTOR_VARIABLE = "FRAUD_PIPELINE_EXECUTOR"
WORKERS_VARIABLE = "FRAUD_PIPELINE_WORKERS"
Kind = Literal["in_process", "processes", "ray"]


def available_cpus() -> int:
    """The CPUs this process may run on (its affinity mask, which container CPU sets narrow), not the machine's."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS and Windows have no affinity call
        return os.cpu_count() or 1


def check_kind(value: Any) -> Kind:
    """`value` if it names an executor; else ValueError naming the variable, the value and the allowed values."""
    if value not in KINDS:
        raise ValueError(f"{EXECUTOR_VARIABLE} (the executor's `kind`) = {value!r} is not allowed: "
                         f"use one of {', '.join(KINDS)}")
    return value


def check_workers(value: Any) -> int | None:
    """`value` as a number of workers (None: the CPUs this process may use, decided when the tasks run); else
    ValueError naming the variable, the value and what is allowed. Accepts whole numbers ≥ 1, also as text."""
    if value is None:
        return None
    number = value.strip() if isinstance(value, str) else value
    if isinstance(number, str) and number.isdecimal():
        number = int(number)
    if isinstance(number, bool) or not isinstance(number, int) or number < 1:
        raise ValueError(f"{WORKERS_VARIABLE} (the executor's `workers`) = {value!r} is not allowed: "
                         f"use a whole number ≥ 1 (unset, it is the CPUs this process may use: {available_cpus()})")
    return number


@dataclass(frozen=True)
class ExecutorSettings:
    """How to run tasks: `kind` one of in_process, processes, ray; `workers` the worker processes (processes) or
    the CPUs of a local Ray (ray without a cluster address; a cluster brings its own), None for the CPUs this
    process may use. in_process ignores `workers`. Raises ValueError for anything else."""

    kind: Kind = "in_process"
    workers: int | None = None

    def __post_init__(self) -> None:
        check_kind(self.kind)
        check_workers(self.workers)

    @property
    def worker_count(self) -> int:
        return self.workers if self.workers is not None else available_cpus()


def settings_from_environment(environ: Mapping[str, str] = os.environ) -> ExecutorSettings:
    """The settings `FRAUD_PIPELINE_EXECUTOR` (default in_process) and `FRAUD_PIPELINE_WORKERS` (default the CPUs
    this process may use) ask for; an empty variable counts as unset. Raises ValueError naming a bad variable."""
    kind = (environ.get(EXECUTOR_VARIABLE) or "").strip() or "in_process"
    workers = (environ.get(WORKERS_VARIABLE) or "").strip() or None
    return ExecutorSettings(kind=check_kind(kind), workers=check_workers(workers) or available_cpus())


@contextlib.contextmanager
def executor_session(settings: ExecutorSettings) -> Iterator[str]:
    """Keep the executor's workers between the `run_tasks` calls of the block — a pool of processes, or the
    connection to Ray (a local Ray started once) — so a run's days reuse them and what they cached; yields a
    description of where tasks run, for the log. Without a session each call starts and stops its own."""
    if settings.kind == "processes":
        with pool_session(settings.worker_count):
            yield f"a pool of {settings.worker_count} local processes"
    elif settings.kind == "ray":
        with ray_session(settings.worker_count) as where:
            yield where
    else:
        yield "this process"


def run_tasks(function: Callable[[Any], Any], tasks: Sequence, labels: Sequence[str], settings: ExecutorSettings,
              *, retries: int = 2, progress: Callable[[TaskDone], None] | None = None) -> list:
    """`[function(task) for task in tasks]`, run where `settings` says; results in task order.

    `function` must be a module-level function and each task and result picklable (processes and ray send them to
    other processes). `labels` names each task (distinct; used in logs, progress and errors). A task that raises,
    or whose worker dies, runs again up to `retries` times, alone: finished tasks are not re-run. `progress` is
    called in this process once per finished task, in the order they finish. Raises TaskFailed (naming the labels
    and last errors) when a task still fails; the other tasks are then stopped or let finish, never left running.
    Raises ValueError for mismatched or repeated labels or a negative `retries`.
    """
    check_tasks(tasks, labels, retries)
    if not tasks:
        return []
    if settings.kind == "processes":
        return run_in_pool(function, tasks, labels, settings.worker_count, retries, progress)
    if settings.kind == "ray":
        return run_on_ray(function, tasks, labels, settings.worker_count, retries, progress)
    return run_here(function, tasks, labels, retries, progress)


def run_here(function: Callable[[Any], Any], tasks: Sequence, labels: Sequence[str], retries: int,
             progress: Callable[[TaskDone], None] | None) -> list:
    """The in_process executor: each task in turn in this process, with the same retries as the others."""
    results = []
    for index, (task, label) in enumerate(zip(tasks, labels)):
        for number in range(1, retries + 2):
            try:
                done = attempt(function, task)
                break
            except Exception as error:  # noqa: BLE001 - any error of the task is retried, then reported
                if number > retries:
                    raise TaskFailed({label: error}, {label: number}, not_run=len(tasks) - index - 1) from error
                LOG.warning(f"task {label}: attempt {number} of {retries + 1} failed "
                            f"({type(error).__name__}: {error}); retrying")
        results.append(done.result)
        if progress is not None:
            progress(TaskDone(label, index, number, done.seconds, done.cpu_seconds, done.where))
    return results
