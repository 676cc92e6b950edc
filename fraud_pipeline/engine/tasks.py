"""What every executor shares: the report of a finished task, the error of one that kept failing, and the wrapper
that runs one attempt where the task runs (this process, a pool worker or a Ray worker) and measures it there.

The wrapper is module-level so pool and Ray workers can import it by name; it returns the task's result together
with the attempt's wall and CPU seconds and the place it ran, so the caller can log "blocks 0–15 done on node X in
3.2 s" without the task knowing anything about executors.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

# Dagster copies the records of loggers under "dagster.builtin" into the run's log, with no Dagster import here.
LOG = logging.getLogger("dagster.builtin.fraud_pipeline.executors")


@dataclass(frozen=True)
class TaskDone:
    """One task finished: given to `run_tasks`' `progress` callback in the order tasks finish.

    `index` is the task's place in the caller's list, `attempt` the attempt that succeeded (1 = first try; None
    when the engine does not say), `seconds` the attempt's wall time and `cpu_seconds` the CPU time of the process
    that ran it over the attempt (its threads included; in_process, anything else this process did meanwhile too),
    both measured where it ran. `where` is `host/pid`, or `ray node <node id> at <ip>/<pid>` on Ray.
    """

    label: str
    index: int
    attempt: int | None
    seconds: float
    cpu_seconds: float | None
    where: str


class TaskFailed(RuntimeError):
    """A task still failed after its retries (or its worker kept dying). The message names every failed task's
    label and its last error; `failures` maps each label to that error, `not_run` counts the tasks that were
    stopped or never started because of it. Raised `from` the first failure's error, so its traceback shows."""

    def __init__(self, failures: dict[str, BaseException], attempts: dict[str, int], not_run: int = 0):
        self.failures, self.attempts, self.not_run = dict(failures), dict(attempts), not_run
        parts = [f"{label} after {attempts[label]} attempt{'s' if attempts[label] != 1 else ''} "
                 f"({type(error).__name__}: {error})" for label, error in failures.items()]
        noun = "task" if len(failures) == 1 else "tasks"
        tail = f"; {not_run} other task{'s' if not_run != 1 else ''} stopped or not run" if not_run else ""
        super().__init__(f"{len(failures)} {noun} failed: " + "; ".join(parts) + tail)

    @property
    def labels(self) -> list[str]:
        return list(self.failures)


@dataclass(frozen=True)
class Attempt:
    """What a worker sends back for one successful attempt: the result and how it went."""

    result: Any
    seconds: float
    cpu_seconds: float
    where: str


def here() -> str:
    """`host/pid` of this process."""
    return f"{socket.gethostname()}/{os.getpid()}"


def attempt(function: Callable[[Any], Any], task: Any, where: Callable[[], str] = here) -> Attempt:
    """`function(task)`, timed in this process (wall and CPU seconds); exceptions propagate untouched."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = function(task)
    return Attempt(result, time.perf_counter() - wall, time.process_time() - cpu, where())


def check_tasks(tasks: Sequence, labels: Sequence[str], retries: int) -> None:
    """Raises ValueError unless there is one distinct label per task and `retries` is a whole number ≥ 0."""
    if len(tasks) != len(labels):
        raise ValueError(f"{len(tasks)} tasks but {len(labels)} labels: give one label per task")
    repeated = sorted(label for label, n in Counter(labels).items() if n > 1)
    if repeated:
        raise ValueError(f"labels name one task each, but {', '.join(map(repr, repeated))} name several")
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise ValueError(f"retries={retries!r}: a whole number ≥ 0 (the attempts after the first)")
