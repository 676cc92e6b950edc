"""A real multi-node Ray cluster on this machine, for the tests and the benchmark: a head and worker nodes of one CPU
each, each its own raylet started by `ray start` as it would be on separate hosts, on ports chosen free (tests run two
at a time under xdist).

Each `ray start` runs in a new session, so every process it leaves behind (raylet, agents, log monitor, the worker
processes the raylet forks) carries that session id; a node is killed — as a machine dies — by SIGKILL to every
process of its session, and the cluster is stopped the same way. `ray stop` is never used: it would stop every Ray
on the machine, other tests' and other users' included.

On Linux `ray start` replaces `--node-ip-address=127.0.0.1` by the host's own address (deliberately, ray issue
#26293), so the nodes listen on that address; traffic between them never leaves the machine.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # the project: the nodes import this package from it
RAY = str(Path(sys.executable).with_name("ray"))
START_SECONDS = 120  # `ray start` takes 15–20 s per node on a slow 2-core machine
# A dead node is declared dead after about 1 s of failed health checks instead of the default ~30 s.
FAST_FAILURE_DETECTION = {"RAY_health_check_initial_delay_ms": "1000", "RAY_health_check_period_ms": "500",
                          "RAY_health_check_timeout_ms": "500", "RAY_health_check_failure_threshold": "3"}
WORKER_PORTS_PER_NODE = 12
MAX_NODES = 3


def free_ports(count: int) -> list[int]:
    """`count` distinct TCP ports that were free a moment ago (held together while chosen, so they differ)."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind(("", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


@dataclass
class Node:
    session: int  # the session id (the pid of its `ray start`) every process of the node carries
    node_manager_port: int


class LocalRayCluster:
    """Nodes started with `ray start` under `temp_dir` (keep it short: Ray's socket paths must fit in 107 bytes)."""

    def __init__(self, temp_dir: Path):
        self.temp_dir = temp_dir
        self.nodes: list[Node] = []
        self.address: str | None = None
        self.log = temp_dir / "ray-start.log"
        # every port of every node chosen at once, so a node never gets a port another node holds but has not bound yet
        self._ports = iter(free_ports(MAX_NODES * (12 + WORKER_PORTS_PER_NODE)))

    def _take(self, count: int) -> list[int]:
        return [next(self._ports) for _ in range(count)]

    def _environment(self) -> dict[str, str]:
        environment = {key: value for key, value in os.environ.items() if key != "RAY_ADDRESS"}
        python_path = [str(ROOT), *filter(None, environment.get("PYTHONPATH", "").split(os.pathsep))]
        environment.update(FAST_FAILURE_DETECTION, RAY_USAGE_STATS_ENABLED="0", PYTHONPATH=os.pathsep.join(python_path))
        return environment

    def _start(self, arguments: list[str], node_manager_port: int) -> Node:
        ports = self._take(8 + WORKER_PORTS_PER_NODE)
        command = [RAY, "start", "--node-ip-address=127.0.0.1", "--num-cpus=1", f"--temp-dir={self.temp_dir}",
                   "--disable-usage-stats", "--include-log-monitor=false", f"--node-manager-port={node_manager_port}",
                   f"--object-manager-port={ports[0]}", f"--dashboard-agent-listen-port={ports[1]}",
                   f"--dashboard-agent-grpc-port={ports[2]}", f"--runtime-env-agent-port={ports[3]}",
                   f"--metrics-export-port={ports[4]}", f"--worker-port-list={','.join(map(str, ports[8:]))}",
                   *arguments]
        with self.log.open("a") as log:
            process = subprocess.Popen(command, cwd=ROOT, env=self._environment(), stdin=subprocess.DEVNULL,
                                       stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
            node = Node(session=process.pid, node_manager_port=node_manager_port)
            self.nodes.append(node)  # before waiting: a failed start is still cleaned up
            try:
                code = process.wait(timeout=START_SECONDS)
            except subprocess.TimeoutExpired:
                code = None
        if code != 0:
            raise RuntimeError(f"`ray start` ended with {code}; see {self.log}:\n{self.log.read_text()[-3000:]}")
        return node

    def start_head(self) -> str:
        """Start the head node (1 CPU); returns the cluster's address `127.0.0.1:port`."""
        port, node_manager, client, dashboard = self._take(4)
        self._start(["--head", f"--port={port}", "--include-dashboard=false", f"--ray-client-server-port={client}",
                     f"--dashboard-port={dashboard}"], node_manager)
        self.address = f"127.0.0.1:{port}"
        return self.address

    def add_node(self) -> Node:
        """Start a worker node (1 CPU) joined to the head."""
        (node_manager,) = self._take(1)
        return self._start([f"--address={self.address}"], node_manager)

    def kill(self, node: Node) -> int:
        """SIGKILL every process of the node's session, as if its machine died; returns how many there were."""
        pids = session_processes(node.session)
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        return len(pids)

    def stop(self) -> list[int]:
        """Kill every node; returns the pids still alive a few seconds later (should be none)."""
        for node in reversed(self.nodes):
            self.kill(node)
        deadline = time.monotonic() + 10
        left = [pid for node in self.nodes for pid in session_processes(node.session)]
        while left and time.monotonic() < deadline:
            time.sleep(0.2)
            left = [pid for node in self.nodes for pid in session_processes(node.session)]
        return left


def session_processes(session: int) -> list[int]:
    """The live (not zombie) processes whose session id is `session`, from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_bytes().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != b"Z" and int(fields[3]) == session:  # fields after the name: state, ppid, pgrp, session
            found.append(int(entry.name))
    return found
