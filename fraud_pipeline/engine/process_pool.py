"""Tasks on a local pool of worker processes, started with `spawn` (never `fork`: Dagster runs threads, and a
forked child inherits their locks held), with retries per task and recovery from a worker that dies.

When a worker dies (out of memory, a segfault, `os._exit`), `concurrent.futures` breaks the whole pool and cannot
say which task killed it. Workers therefore announce each task as it starts, on a pipe to this process (one 8-byte
write each, atomic without a lock, so a worker killed mid-write cannot block the others): the tasks that had
started and not finished are the suspects. Each counts an attempt and then runs *alone* in a fresh pool until it
finishes, so a task that kills its worker is named exactly, and one that ran out of memory gets the machine to itself
when retried. Tasks the pool held but had not started are resubmitted without counting; finished ones never rerun.
"""

from __future__ import annotations

import contextlib
import multiprocessing
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from multiprocessing.connection import Connection
from typing import Any

from fraud_pipeline.engine.tasks import LOG, Attempt, TaskDone, TaskFailed, attempt


class WorkerDied(RuntimeError):
    """The worker process running a task ended without a result."""


_announce: Connection | None = None  # in a worker: where it says which task it starts


def _listen(announce: Connection) -> None:
    global _announce
    _announce = announce


def _pool_attempt(function: Callable[[Any], Any], task: Any, index: int) -> Attempt:
    """One attempt in a pool worker, announced first (4 bytes: a write below PIPE_BUF is never interleaved)."""
    _announce.send_bytes(index.to_bytes(4, "big"))
    return attempt(function, task)


@dataclass
class _KeptPool:
    """A pool kept between `run_in_pool` calls (`pool_session`), with the pipe its workers announce tasks on."""

    workers: int
    context: multiprocessing.context.BaseContext
    starts: Connection
    announce: Connection
    pool: ProcessPoolExecutor | None = None


_kept: _KeptPool | None = None


@contextlib.contextmanager
def pool_session(workers: int) -> Iterator[None]:
    """Every `run_in_pool` call of `workers` workers in the block uses one pool, kept alive between calls (a run's
    days one after another: its workers keep what they cached — the bank's world — from day to day); a pool a dead
    worker broke is replaced as in a single call. Nested: the outer session's pool is used. The pool is shut down
    when the block ends."""
    global _kept
    if _kept is not None:
        yield
        return
    context = multiprocessing.get_context("spawn")
    starts, announce = context.Pipe(duplex=False)
    _kept = _KeptPool(workers, context, starts, announce)
    try:
        yield
    finally:
        kept, _kept = _kept, None
        if kept.pool is not None:
            kept.pool.shutdown(wait=True, cancel_futures=True)
        starts.close()
        announce.close()


def run_in_pool(function: Callable[[Any], Any], tasks: Sequence, labels: Sequence[str], workers: int,
                retries: int, progress: Callable[[TaskDone], None] | None) -> list:
    """The results of `function(task)` in task order, on up to `workers` spawned processes. Raises TaskFailed
    once a task has failed `retries + 1` times; the tasks still running then finish first, and no new one
    starts, so no worker of this call is left writing when it returns or raises."""
    results: list = [None] * len(tasks)
    attempts = [0] * len(tasks)
    waiting = deque(range(len(tasks)))  # tasks to (re)submit, in order
    alone: set[int] = set()  # running when a worker died: run one at a time until they finish
    failures: dict[int, BaseException] = {}
    running: dict[Future, int] = {}
    kept = _kept if _kept is not None and _kept.workers == workers else None
    if kept is not None:
        context, starts, announce, pool = kept.context, kept.starts, kept.announce, kept.pool
        while starts.poll():  # nothing of an earlier call is still running: drop what it left unread
            starts.recv_bytes()
    else:
        context = multiprocessing.get_context("spawn")
        starts, announce = context.Pipe(duplex=False)
        pool = None
    started: set[int] = set()  # announced and not finished
    idle_deaths = 0  # pools broken in a row before any of their tasks started
    try:
        while running or (waiting and not failures):
            if pool is None:
                pool = ProcessPoolExecutor(max_workers=workers if kept else min(workers, len(tasks)),
                                           mp_context=context, initializer=_listen, initargs=(announce,))
            room = (1 if alone else workers) - len(running)
            while room > 0 and waiting and not failures:
                index = next((i for i in waiting if i in alone), None) if alone else waiting[0]
                if index is None:  # the suspects are running: wait for them before starting others
                    break
                waiting.remove(index)
                attempts[index] += 1
                running[pool.submit(_pool_attempt, function, tasks[index], index)] = index
                room -= 1
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            if any(isinstance(future.exception(), BrokenProcessPool) for future in finished):
                finished, _ = wait(running)  # a broken pool fails every future it holds: take them all
            while starts.poll():
                started.add(int.from_bytes(starts.recv_bytes(), "big"))
            held = [running[f] for f in finished if isinstance(f.exception(), BrokenProcessPool)]
            died = [index for index in held if index in started]
            idle_deaths = idle_deaths + 1 if held and not died else 0
            again = []
            for future in sorted(finished, key=running.get):
                index = running.pop(future)
                started.discard(index)
                error = future.exception()
                if error is None:
                    alone.discard(index)
                    done = future.result()
                    results[index] = done.result
                    if progress is not None:
                        progress(TaskDone(labels[index], index, attempts[index], done.seconds, done.cpu_seconds,
                                          done.where))
                    continue
                if index in held and index not in died:  # the pool held it, no worker had started it
                    if idle_deaths <= retries:
                        attempts[index] -= 1
                        again.append(index)
                    else:  # workers die before any task starts: they cannot start at all
                        failures[index] = WorkerDied(f"{idle_deaths} pools of worker processes died before starting "
                                                     f"{labels[index]} (can a new process import the task's function?)")
                    continue
                if index in died:
                    error = WorkerDied(_death_message(index, died, alone, labels))
                    alone.add(index)
                if attempts[index] <= retries and not failures:
                    LOG.warning(f"task {labels[index]}: attempt {attempts[index]} of {retries + 1} failed "
                                f"({type(error).__name__}: {error}); retrying")
                    again.append(index)
                else:
                    failures[index] = error
            waiting.extendleft(reversed(again))  # retried before the tasks not yet started, in task order
            if held:
                LOG.warning("a worker process died: a new pool runs the tasks it held one at a time")
                pool.shutdown(wait=True, cancel_futures=True)
                pool = None
    except BaseException:
        if pool is not None:  # interrupted (the run was stopped) or a progress callback failed: stop the workers
            _terminate(pool)
            pool = None
        raise
    finally:
        if kept is not None:
            kept.pool = pool  # stays for the session's next call (None when stopped or broken)
        else:
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)
            starts.close()
            announce.close()
    if failures:
        first = failures[min(failures)]
        raise TaskFailed({labels[i]: failures[i] for i in sorted(failures)}, {labels[i]: attempts[i] for i in failures},
                         not_run=sum(1 for i in range(len(tasks)) if attempts[i] == 0 or i in waiting)) from first
    return results


def _death_message(index: int, died: list[int], alone: set[int], labels: Sequence[str]) -> str:
    if died == [index] and index in alone:
        return f"the worker process running {labels[index]} alone died (killed, out of memory, or it exited)"
    together = ", ".join(labels[i] for i in died)
    return f"a worker process died while {together} ran (killed, out of memory, or it exited); which one is not known"


def _terminate(pool: ProcessPoolExecutor) -> None:
    """Stop the pool's workers now, running tasks included."""
    if hasattr(pool, "terminate_workers"):  # Python 3.14
        pool.terminate_workers()
    else:
        for process in list((getattr(pool, "_processes", None) or {}).values()):
            process.terminate()
    pool.shutdown(wait=True, cancel_futures=True)
