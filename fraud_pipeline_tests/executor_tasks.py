"""A toy task for the executor tests, shaped like a block engine's: a fixed range of blocks, a keyed draw per block,
one part file written into the folder the task names, and a small picklable manifest returned.

Module-level, so pool and Ray workers import it by name. Every attempt leaves a file under `<folder>/runs/` saying
where it ran (host/pid, and the Ray node when on Ray), which is how the tests count runs across processes and nodes.
A marker file under `<folder>/markers/` makes a task fail, or kill its own process, only the first time.
"""

from __future__ import annotations

import hashlib
import os
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROWS_PER_BLOCK = 64
WAIT_SECONDS = 180.0  # long: on a busy 2-core machine a spawned worker may take a minute to start


@dataclass(frozen=True)
class BlockTask:
    """Blocks `first` to `last` (inclusive) of a bank with `seed`; files go to `folder`. `trouble` is None,
    "fail_once", "fail_always", "die_once" or "die_always"; `sleep` seconds are spent after the run is recorded;
    `wait_for` holds the task until a file appears (a test's progress callback makes it), so the order tasks
    finish in is known."""

    first: int
    last: int
    folder: str
    seed: int = 7
    trouble: str | None = None
    sleep: float = 0.0
    wait_for: str | None = None  # finish only once this file exists (within WAIT_SECONDS)

    @property
    def label(self) -> str:
        return f"blocks {self.first}–{self.last}"


def run_blocks(task: BlockTask) -> dict:
    """Draw each block's rows from a stream keyed by (seed, block) — never by the worker — write them as one .npy
    file and return its manifest: {file, rows, sha256, total}."""
    folder = Path(task.folder)
    (folder / "runs").mkdir(parents=True, exist_ok=True)
    (folder / "runs" / f"{task.first:05d}-{uuid.uuid4().hex}").write_text(where_this_runs())
    if task.trouble is not None:
        _trouble(task, folder)
    if task.sleep:
        time.sleep(task.sleep)
    if task.wait_for is not None:
        _wait_for(Path(task.wait_for))
    rows = np.concatenate([np.random.default_rng([task.seed, block]).lognormal(3.0, 1.0, ROWS_PER_BLOCK)
                           for block in range(task.first, task.last + 1)])
    name = f"part-b{task.first:05d}-b{task.last:05d}.npy"
    np.save(folder / name, rows)
    return {"file": name, "rows": len(rows), "sha256": hashlib.sha256((folder / name).read_bytes()).hexdigest(),
            "total": round(float(rows.sum()), 6)}


def _trouble(task: BlockTask, folder: Path) -> None:
    markers = folder / "markers"
    markers.mkdir(exist_ok=True)
    marker = markers / f"{task.first:05d}-{task.trouble}"
    first_time = not marker.exists()
    marker.touch()
    if task.trouble == "fail_always" or (task.trouble == "fail_once" and first_time):
        raise ValueError(f"{task.label} fails on purpose")
    if task.trouble == "die_always" or (task.trouble == "die_once" and first_time):
        os._exit(17)  # no exception, no cleanup: the process is just gone, as when the kernel kills it


def _wait_for(path: Path) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not path.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} did not appear within {WAIT_SECONDS:g} s")
        time.sleep(0.05)


def where_this_runs() -> str:
    """`host/pid`, and `ray node <id>` first when this is a Ray worker (which has imported Ray: importing it here
    would take a second before the run is recorded, a second in which a killed attempt would leave no trace)."""
    place = f"{os.uname().nodename}/{os.getpid()}"
    ray = sys.modules.get("ray")
    if ray is not None and ray.is_initialized():
        return f"ray node {ray.get_runtime_context().get_node_id()} {place}"
    return place


def runs(folder: str | Path) -> dict[int, list[str]]:
    """{first block: where each attempt of that task ran}, from the run files."""
    found: dict[int, list[str]] = {}
    for path in sorted((Path(folder) / "runs").glob("*")):
        found.setdefault(int(path.name.split("-")[0]), []).append(path.read_text())
    return found


def files(folder: str | Path) -> dict[str, bytes]:
    """{name: bytes} of the part files a run wrote."""
    return {path.name: path.read_bytes() for path in sorted(Path(folder).glob("part-*.npy"))}


def block_tasks(folder: str | Path, blocks: int = 16, per_task: int = 4, trouble: dict[int, str] | None = None,
                sleep: float = 0.0) -> list[BlockTask]:
    """`blocks` blocks in tasks of `per_task` each; `trouble` {first block: trouble} for the tasks that have some."""
    return [BlockTask(first, min(first + per_task, blocks) - 1, str(folder), trouble=(trouble or {}).get(first),
                      sleep=sleep) for first in range(0, blocks, per_task)]


def process_of(seconds: float) -> int:
    """A task that holds its worker for `seconds` and says which process it ran in."""
    time.sleep(seconds)
    return os.getpid()
