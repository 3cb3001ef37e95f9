"""
A Docker Swarm of three nodes on one machine: the running engine as manager, and two workers,
each a dockerd in a network namespace of its own wired to a bridge on the host by a veth pair.
close() undoes all that start() made, in reverse order, even when start() failed half-way.

    with SwarmCluster() as cluster:
        image = cluster.load_image("python:3.11-slim-bookworm")  # name services by this ID
        cluster.workers["node1"].hostname  # the name Swarm gives the node: {{.Node.Hostname}}
        cluster.stop_node("node1"); cluster.start_node("node1")
"""

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tests.stack.docker_cli import docker

NETNS_DIR = Path("/run/netns")
NODE_LABEL = "org.visits.node"  # manager, node1, node2: placement constraints can name them
# There is no registry: workers run the images they hold without trying to pull a newer one.
OFFLINE = {"DOCKER_SERVICE_PREFER_OFFLINE_IMAGE": "1"}


def run(*argv: str, check: bool = True, timeout: float = 120) -> str:
    result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    if check and result.returncode != 0:
        raise RuntimeError(
            f"{' '.join(argv)} exited {result.returncode}:\n{result.stdout}{result.stderr}"
        )
    return result.stdout.strip()


@dataclass
class Worker:
    name: str  # node1, node2
    netns: str  # also its hostname
    veth: str  # the host's end; the other is eth0 in the namespace
    address: str
    root: Path = Path()  # data-root, exec-root, socket, pidfile and log
    process: subprocess.Popen | None = None  # its dockerd
    node_id: str = ""
    hostname: str = ""  # as Swarm reports it

    @property
    def host(self) -> str:
        return f"unix://{self.root}/docker.sock"

    def docker(self, *arguments: str, check: bool = True) -> str:
        return run("docker", "--host", self.host, *arguments, check=check)


class SwarmCluster:
    """Three swarm nodes on one machine; refuses to start beside anything it would clash with."""

    def __init__(self, prefix: str = "visits-test", subnet: str = "172.29.231"):
        self.subnet = f"{subnet}.0/24"  # clear of eth0, docker0 and Swarm's pool, 10.0.0.0/8
        short = prefix[:11]  # interface names have at most 15 characters
        self.bridge = f"{short}-br"
        self.manager_address = f"{subnet}.1"
        self.manager_hostname = ""
        self.workers = {
            name: Worker(name, f"{prefix}-{name}", f"{short}-n{n}", f"{subnet}.{n + 1}")
            for n, name in ((1, "node1"), (2, "node2"))
        }
        self.root = Path()  # a temporary directory holding the workers' roots
        self._undo = contextlib.ExitStack()

    def __enter__(self) -> "SwarmCluster":
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def start(self) -> None:
        self._refuse_clashes()
        self.root = Path(tempfile.mkdtemp(prefix="vt-"))  # short: sockets live under it
        self._undo.callback(self._remove_tree, self.root)
        if not NETNS_DIR.exists():
            self._undo.callback(self._remove_netns_dir)
        run("ip", "link", "add", self.bridge, "type", "bridge")
        self._undo.callback(run, "ip", "link", "delete", self.bridge)
        run("ip", "address", "add", f"{self.manager_address}/24", "dev", self.bridge)
        run("ip", "link", "set", self.bridge, "up")
        # bridge-nf-call-iptables puts bridged frames through FORWARD, whose policy Docker sets
        # to DROP: without this rule the workers reach the manager but not each other.
        rule = ["FORWARD", "--in-interface", self.bridge, "--out-interface", self.bridge]
        run("iptables", "--insert", *rule, "--jump", "ACCEPT")
        self._undo.callback(run, "iptables", "--delete", *rule, "--jump", "ACCEPT")

        had_gwbridge = self._has_gwbridge()
        listen = f"{self.manager_address}:2377"
        # A one-second heartbeat: a lost node is marked down within seconds.
        docker("swarm", "init", "--advertise-addr", self.manager_address, "--listen-addr", listen,
               "--dispatcher-heartbeat", "1s")  # fmt: skip
        self._undo.callback(self._manager_leave, had_gwbridge=had_gwbridge)
        manager_id = docker("info", "--format", "{{.Swarm.NodeID}}")
        docker("node", "update", "--label-add", f"{NODE_LABEL}=manager", manager_id)
        self.manager_hostname = self._hostname(manager_id)
        token = docker("swarm", "join-token", "--quiet", "worker")

        for worker in self.workers.values():
            worker.root = self.root / worker.name
            worker.root.mkdir()
            self._add_namespace(worker)
            self._undo.callback(self._remove_cgroups, worker.netns)
            self.start_node(worker.name)
            self._undo.callback(self.stop_node, worker.name)
            worker.docker("swarm", "join", "--token", token, "--advertise-addr", worker.address,
                          "--listen-addr", f"{worker.address}:2377", listen)  # fmt: skip
            self._undo.callback(worker.docker, "swarm", "leave", "--force", check=False)
            worker.node_id = worker.docker("info", "--format", "{{.Swarm.NodeID}}")
            docker("node", "update", "--label-add", f"{NODE_LABEL}={worker.name}", worker.node_id)
            worker.hostname = self._hostname(worker.node_id)

    def close(self) -> None:
        self._undo.close()

    def load_image(self, tag: str) -> str:
        """Copies image TAG to every worker and returns its ID: a service naming its image by ID
        never asks a registry for it, not even from the manager."""
        archive = self.root / "image.tar"  # removed with the root if a load fails
        docker("save", "--output", str(archive), tag)
        loads = [
            subprocess.Popen(["docker", "--host", worker.host, "load", "--input", archive],
                             stdout=subprocess.DEVNULL)
            for worker in self.workers.values()
        ]  # fmt: skip
        if [load.wait(timeout=600) for load in loads] != [0] * len(loads):
            raise RuntimeError(f"docker load of {tag} failed on a worker; see its error above.")
        archive.unlink()
        return docker("image", "inspect", "--format", "{{.Id}}", tag)

    def node_state(self, name: str) -> str:
        """ready or down: worker NAME as the manager sees it now."""
        node_id = self.workers[name].node_id
        return docker("node", "inspect", "--format", "{{.Status.State}}", node_id)

    def start_node(self, name: str) -> None:
        """Starts worker NAME's dockerd, or starts it again after stop_node(), and waits for it."""
        worker = self.workers[name]
        log_path = worker.root / "dockerd.log"
        # A UTS namespace of its own gives the node its own hostname, which Swarm reports.
        with log_path.open("ab") as log:
            worker.process = subprocess.Popen(
                ["nsenter", f"--net={NETNS_DIR / worker.netns}", "unshare", "--uts", "--",
                 "sh", "-c", 'hostname "$0" && exec "$@"', worker.netns,
                 "dockerd", "--host", worker.host, "--pidfile", f"{worker.root}/dockerd.pid",
                 "--data-root", f"{worker.root}/data", "--exec-root", f"{worker.root}/exec",
                 "--cgroup-parent", worker.netns, "--bridge", "none",
                 "--iptables"],  # the iptables of its own namespace
                stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **OFFLINE},
            )  # fmt: skip
        deadline = time.monotonic() + 60
        while not worker.docker("info", "--format", "{{.ID}}", check=False):
            if worker.process.poll() is not None or time.monotonic() > deadline:
                tail = "\n".join(log_path.read_text().splitlines()[-20:])
                raise RuntimeError(f"The dockerd of {name} did not answer; its log ends:\n{tail}")
            time.sleep(0.2)

    def stop_node(self, name: str) -> None:
        """Stops worker NAME's dockerd, as a lost node goes: its tasks stop with it."""
        worker = self.workers[name]
        if worker.process is None or worker.process.poll() is not None:
            return
        worker.process.send_signal(signal.SIGTERM)
        try:
            worker.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            worker.process.kill()
            worker.process.wait()
            # A killed dockerd leaves its containerd, shims and containers running: end them.
            for proc in Path("/proc").glob("[0-9]*"):
                with contextlib.suppress(OSError):
                    if f"{worker.root}/".encode() in (proc / "cmdline").read_bytes():
                        children = (proc / "task" / proc.name / "children").read_text().split()
                        for pid in [*children, proc.name]:
                            os.kill(int(pid), signal.SIGKILL)

    def _refuse_clashes(self) -> None:
        clashes = []
        if docker("info", "--format", "{{.Swarm.LocalNodeState}}") != "inactive":
            clashes.append("the engine is in a swarm (`docker swarm leave --force`)")
        namespaces = run("ip", "netns", "list").split()
        for netns in (worker.netns for worker in self.workers.values()):
            if netns in namespaces:
                clashes.append(f"namespace {netns} exists (`ip netns pids`, `ip netns delete`)")
        for link in [self.bridge, *(worker.veth for worker in self.workers.values())]:
            if run("ip", "link", "show", link, check=False):
                clashes.append(f"interface {link} exists (`ip link delete {link}`)")
        if run("ip", "route", "show", "root", self.subnet):
            clashes.append(f"{self.subnet} is in use (pass SwarmCluster another subnet)")
        if clashes:
            raise RuntimeError(
                "The test swarm will not start beside what it would clash with; if a test run "
                f"left it, clear it: {'; '.join(clashes)}."
            )

    def _add_namespace(self, worker: Worker) -> None:
        """The worker's network namespace on the bridge. No default route: it reaches only the
        bridge's /24, so nothing it runs can send traffic off the machine."""
        run("ip", "netns", "add", worker.netns)
        self._undo.callback(run, "ip", "netns", "delete", worker.netns)
        run("ip", "link", "add", worker.veth, "type", "veth",
            "peer", "name", "eth0", "netns", worker.netns)  # fmt: skip
        self._undo.callback(run, "ip", "link", "delete", worker.veth, check=False)
        run("ip", "link", "set", worker.veth, "master", self.bridge, "up")
        inside = ["ip", "-netns", worker.netns]
        run(*inside, "address", "add", f"{worker.address}/24", "dev", "eth0")
        run(*inside, "link", "set", "eth0", "up")
        run(*inside, "link", "set", "lo", "up")

    def _hostname(self, node_id: str) -> str:
        return docker("node", "inspect", "--format", "{{.Description.Hostname}}", node_id)

    def _has_gwbridge(self) -> bool:
        return bool(docker("network", "ls", "--quiet", "--filter", "name=^docker_gwbridge$"))

    def _manager_leave(self, *, had_gwbridge: bool) -> None:
        docker("swarm", "leave", "--force")
        if not had_gwbridge and self._has_gwbridge():  # swarm init made it; leave keeps it
            docker("network", "rm", "docker_gwbridge")

    @staticmethod
    def _remove_tree(root: Path) -> None:
        """Removes ROOT, unmounting first, deepest first, what stopped dockerds left mounted."""
        mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
        for mount in sorted((path for path in mounts if path.startswith(f"{root}/")), reverse=True):
            run("umount", "--lazy", mount)
        shutil.rmtree(root)

    @staticmethod
    def _remove_cgroups(parent: str) -> None:
        """Removes the worker's cgroup parent, and what a killed dockerd left in it."""
        root = Path("/sys/fs/cgroup")
        for cgroup in sorted([*root.glob(f"{parent}/**/"), *root.glob(f"*/{parent}/**/")])[::-1]:
            cgroup.rmdir()

    @staticmethod
    def _remove_netns_dir() -> None:
        """`ip netns add` made /run/netns a mount point: undo that once it holds no namespace."""
        if not any(NETNS_DIR.iterdir()):
            run("umount", str(NETNS_DIR))
            NETNS_DIR.rmdir()
