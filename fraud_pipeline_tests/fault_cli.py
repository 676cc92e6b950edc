"""The real `dagster` command, in a process that hurts itself at a chosen moment of a real write: when it
opens a temporary file whose path contains $FAULT_AT it sends itself SIGKILL ($FAULT=kill), or touches
$FAULT_MARKER and sleeps $FAULT_SECONDS ($FAULT=pause) while holding the partition's writer lock.
An audit hook picks the moment, so the fault lands at the same point of the write on every run."""

import os
import signal
import sys
import time
from pathlib import Path

from dagster._cli import main  # what the `dagster` console script runs


FIRED = []


def _hook(event: str, args: tuple) -> None:
    if FIRED or event != "open" or not isinstance(args[0], str):
        return
    if os.environ["FAULT_AT"] not in args[0] or not args[0].endswith(".tmp"):
        return
    FIRED.append(args[0])
    if os.environ["FAULT"] == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    Path(os.environ["FAULT_MARKER"]).touch()
    time.sleep(float(os.environ["FAULT_SECONDS"]))


if __name__ == "__main__":
    sys.addaudithook(_hook)
    sys.exit(main())
