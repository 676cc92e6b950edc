"""One writer per table or partition at a time, so two runs writing the same partition leave one complete
partition — the later writer's — never a mix of their files.

Locally the lock is `flock` on a lock file: the kernel releases it when its process dies, even by SIGKILL.
On S3 it is a small object created only if absent (a conditional PUT, `If-None-Match: *`) holding a lease
that a background thread renews (a conditional PUT on its ETag); a writer that cannot renew stops before
its manifest. A writer killed mid-write, or cut off from the store, leaves a lease that the next writer
takes over once it has expired (writers' clocks must agree to within seconds), so it blocks that
partition for at most `LEASE_SECONDS`. Lock files live under `<root>/.locks/`, outside every table folder.
"""

import contextlib
import fcntl
import json
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator

import fsspec
from fsspec.asyn import sync

from fraud_pipeline.io.retries import LOG, retrying

LEASE_SECONDS = 20.0
POLL_SECONDS = 0.5


class LockLost(RuntimeError):
    """Another writer took over this writer's expired lease: this write must not finish."""


@contextlib.contextmanager
def local_lock(path: str, what: str) -> Iterator[Callable[[], None]]:
    """Hold an exclusive `flock` on `path` (created if needed); yields `still_ours()`, which always is."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    handle = os.open(path, os.O_CREAT | os.O_RDWR, 0o644)
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            LOG.info(f"waiting for another writer of {what}")
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield lambda: None
    finally:
        os.close(handle)  # closing releases the lock


@contextlib.contextmanager
def s3_lock(fs: fsspec.AbstractFileSystem, path: str, what: str) -> Iterator[Callable[[], None]]:
    """Hold the S3 lease at `bucket/key` `path`, renewed in the background; yields `still_ours()`, which raises
    `LockLost` once a renewal has failed — call it before each file and before the manifest."""
    bucket, key = path.split("/", 1)
    owner = uuid.uuid4().hex

    def call(operation: str, **kwargs):
        return retrying(f"S3 {operation} of lock {path}",
                        lambda: sync(fs.loop, fs._call_s3, operation, Bucket=bucket, Key=key, **kwargs))

    def lease() -> bytes:
        return json.dumps({"owner": owner, "expires": time.time() + LEASE_SECONDS}).encode()

    etag, waited = None, False
    while etag is None:
        try:
            etag = call("put_object", Body=lease(), IfNoneMatch="*")["ETag"]
        except FileExistsError:
            try:
                held = call("get_object")
                holder = json.loads(sync(fs.loop, held["Body"].read))
                if holder["expires"] < time.time():
                    etag = call("put_object", Body=lease(), IfMatch=held["ETag"])["ETag"]  # take over, or lose the race
                    LOG.info(f"took over the expired lock of {what} from a writer that stopped without releasing it")
                    continue
            except OSError as gone:  # released, or another writer took it over first
                if not _precondition_or_missing(gone):
                    raise
            if not waited:
                LOG.info(f"waiting for another writer of {what} (its lease expires within {LEASE_SECONDS:g} s)")
                waited = True
            time.sleep(POLL_SECONDS)

    def renew() -> None:
        nonlocal etag
        etag = call("put_object", Body=lease(), IfMatch=etag)["ETag"]

    stop, lost = threading.Event(), []

    def heartbeat() -> None:
        while not stop.wait(LEASE_SECONDS / 3):
            try:
                renew()
            except Exception as error:  # noqa: BLE001 - the writer sees it at its next check
                lost.append(error)
                return

    def still_ours() -> None:
        if lost:
            raise LockLost(f"the lock of {what} could not be renewed ({lost[0]}); this write stops before its "
                           "manifest, so nothing it wrote looks complete") from lost[0]

    beating = threading.Thread(target=heartbeat, name=f"lease {path}", daemon=True)
    beating.start()
    try:
        yield still_ours
    finally:
        stop.set()
        beating.join()
        with contextlib.suppress(OSError):  # taken over, or the store is gone: the lease expires anyway
            call("delete_object", IfMatch=etag)


def _precondition_or_missing(error: OSError) -> bool:
    """s3fs reports a failed `If-Match` as EINVAL ("pre-conditions … did not hold") and a gone key as not found."""
    return isinstance(error, FileNotFoundError) or "pre-condition" in str(error)
