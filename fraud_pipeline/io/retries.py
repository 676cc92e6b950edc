"""Transient S3 failures — a dropped connection, a timeout, a 5xx, "slow down" — are retried here, with
each failed attempt logged to the run, so an operator sees what happened; permanent ones (a missing key,
access denied) are not. The S3 client's own silent retries are switched off (`CLIENT_OPTIONS`,
`S3FS_TRIES`), so this is the one place that retries."""

import errno
import logging
import time
from collections.abc import Callable
from typing import TypeVar

ATTEMPTS = 4
FIRST_WAIT_SECONDS = 1.0  # then 2, 4: about 7 s before a store that stays away fails the run
CLIENT_OPTIONS = {"config_kwargs": {"retries": {"total_max_attempts": 1, "mode": "standard"}}}  # botocore: one try
S3FS_TRIES = 1  # s3fs's own retry loop (an attribute of the filesystem, not an option): one try
# s3fs turns HTTP errors into OSErrors by errno: 503 "slow down" is EBUSY, an unknown 5xx EIO; a failed
# precondition is EINVAL and access denied EPERM/EACCES, which no retry mends.
TRANSIENT_ERRNOS = {errno.EBUSY, errno.EIO, errno.EAGAIN, errno.ETIMEDOUT, errno.ECONNRESET, errno.ECONNREFUSED,
                    errno.ECONNABORTED, errno.EPIPE}

# Dagster copies the records of loggers under "dagster.builtin" into the run's log (this is the logger
# `dagster.get_dagster_logger("fraud_pipeline.storage")` returns), so no Dagster import is needed here.
LOG = logging.getLogger("dagster.builtin.fraud_pipeline.storage")
T = TypeVar("T")


class StorageUnavailable(ConnectionError):
    """The object store kept failing after every attempt."""


def is_transient(error: BaseException) -> bool:
    from_the_client = type(error).__module__.startswith(("botocore", "aiobotocore", "aiohttp"))  # connection, timeout
    return (from_the_client or isinstance(error, (TimeoutError, ConnectionError))
            or isinstance(error, OSError) and error.errno in TRANSIENT_ERRNOS)


def retrying(what: str, call: Callable[[], T]) -> T:
    """`call()`, retried on transient errors with doubling waits; `what` names the operation in the logs."""
    for attempt in range(1, ATTEMPTS):
        try:
            return call()
        except Exception as error:  # noqa: BLE001 - only transient errors are retried
            if not is_transient(error):
                raise
            wait = FIRST_WAIT_SECONDS * 2 ** (attempt - 1)
            LOG.warning(f"{what}: attempt {attempt} of {ATTEMPTS} failed ({type(error).__name__}: {error}); "
                        f"retrying in {wait:g} s")
            time.sleep(wait)
    try:
        return call()
    except Exception as error:  # noqa: BLE001
        if not is_transient(error):
            raise
        raise StorageUnavailable(f"{what} failed {ATTEMPTS} times, the last with {type(error).__name__}: {error}. "
                                 "Partitions this run did not finish have no manifest, so nothing half-written "
                                 "looks complete; re-run once the store answers.") from error
