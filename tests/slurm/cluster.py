"""A real two-node Slurm cluster on this one host, for the tests: munged, slurmctld, `slurmd -N node1/2`.

Everything lives in a private folder under /tmp (config, state, spools, logs, pid files and a
private munge socket) with free ports, so it never touches /etc/slurm, /run/munge or another
cluster running on the same host. `stop()` cancels the jobs and stops every daemon it started by
the pid in its pid file, then any process the cluster's jobs left behind.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

PACKAGES = ["slurm-wlm", "munge"]
BINARIES = ["munged", "slurmctld", "slurmd", "sbatch", "scontrol", "squeue", "scancel"]
MUNGE_KEY = Path("/etc/munge/munge.key")


class Unavailable(Exception):
    """Slurm cannot be installed or started here; the message says why (it becomes the skip reason)."""


def ensure_installed() -> None:
    """apt-get install slurm-wlm and munge when their binaries are missing (needs root)."""
    if all(shutil.which(b) for b in BINARIES):
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise Unavailable("Slurm tests need slurmctld, slurmd, munged and the Slurm clients; they are not installed "
                          "and installing them needs root and apt-get (apt-get install slurm-wlm munge)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update"], ["apt-get", "install", "-y", *PACKAGES]):
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
        if proc.returncode != 0:
            raise Unavailable(f"`{' '.join(cmd)}` failed: {proc.stderr.strip()[-500:]}")
    missing = [b for b in BINARIES if not shutil.which(b)]
    if missing:
        raise Unavailable(f"installed {' '.join(PACKAGES)} but still missing: {', '.join(missing)}")


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


class LocalCluster:
    NODES = ("node1", "node2")

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="framework-slurm-"))
        self.root.chmod(0o755)  # munged runs as `munge` and must reach its socket folder
        self.conf = self.root / "slurm.conf"
        self.munge_dir = self.root / "munge"
        self.socket = self.munge_dir / "munge.socket"
        self._pid_files: list[Path] = []

    @property
    def env(self) -> dict[str, str]:
        """Environment for Slurm clients (and, through sbatch, for the jobs)."""
        return {**os.environ, "SLURM_CONF": str(self.conf)}

    # -- start ----------------------------------------------------------------------------------
    def start(self, timeout: float = 90) -> None:
        if os.geteuid() != 0:
            raise Unavailable("Slurm tests start slurmd, which needs root")
        self._start_munge()
        self._write_conf()
        self._daemon(["slurmctld", "-f", str(self.conf)], self.root / "slurmctld.pid")
        for node in self.NODES:
            self._daemon(["slurmd", "-f", str(self.conf), "-N", node], self.root / f"slurmd-{node}.pid")
        self._wait_idle(timeout)

    def _start_munge(self) -> None:
        if not MUNGE_KEY.exists():
            subprocess.run(["mungekey", "--create", f"--keyfile={MUNGE_KEY}"], check=True, capture_output=True)
            shutil.chown(MUNGE_KEY, "munge", "munge")
        self.munge_dir.mkdir(mode=0o755)
        shutil.chown(self.munge_dir, "munge", "munge")
        pid = self.munge_dir / "munged.pid"
        self._daemon(["munged", f"--socket={self.socket}", f"--pid-file={pid}", f"--key-file={MUNGE_KEY}",
                      f"--log-file={self.munge_dir / 'munged.log'}", f"--seed-file={self.munge_dir / 'munged.seed'}"],
                     pid, user="munge")

    def _write_conf(self) -> None:
        host = socket.gethostname()
        ctld, *node_ports = free_ports(1 + len(self.NODES))
        (self.root / "state").mkdir()
        for node in self.NODES:
            (self.root / "spool" / node).mkdir(parents=True)
        r = self.root
        lines = [
            "ClusterName=framework-test", f"SlurmctldHost={host}(127.0.0.1)", f"SlurmctldPort={ctld}",
            "AuthType=auth/munge", "CredType=cred/munge",
            # cred_expire also sets how long a requeued job waits before it may start again (default 120 s).
            f"AuthInfo=socket={self.socket},cred_expire=5", "SlurmUser=root",
            f"StateSaveLocation={r}/state", f"SlurmctldPidFile={r}/slurmctld.pid",
            f"SlurmctldLogFile={r}/slurmctld.log", f"SlurmdPidFile={r}/slurmd-%n.pid",
            f"SlurmdSpoolDir={r}/spool/%n", f"SlurmdLogFile={r}/slurmd-%n.log",
            "ProctrackType=proctrack/linuxproc", "TaskPlugin=task/none", "MpiDefault=none",
            "SelectType=select/cons_tres", "SelectTypeParameters=CR_Core", "ReturnToService=2",
            "SchedulerType=sched/backfill", "SchedulerParameters=sched_interval=1,bf_interval=1",
            "JobCompType=jobcomp/none", "AccountingStorageType=accounting_storage/none",
            "SlurmctldDebug=info", "SlurmdDebug=info",
        ]
        lines += [f"NodeName={node} NodeHostname={host} NodeAddr=127.0.0.1 Port={port} CPUs=1 RealMemory=1000 "
                  f"State=UNKNOWN" for node, port in zip(self.NODES, node_ports)]
        lines.append(f"PartitionName=debug Nodes={','.join(self.NODES)} Default=YES MaxTime=INFINITE State=UP")
        self.conf.write_text("\n".join(lines) + "\n")

    def _daemon(self, cmd: list[str], pid_file: Path, user: str | None = None) -> None:
        """Start a self-daemonising program and wait for its pid file."""
        self._pid_files.append(pid_file)
        err = self.root / f"{pid_file.stem}.stderr"
        with open(err, "w") as f:  # not a pipe: the daemon keeps its inherited descriptors open
            code = subprocess.call(cmd, stdin=subprocess.DEVNULL, stdout=f, stderr=f, env=self.env, user=user,
                                   timeout=60)
        if code != 0:
            raise RuntimeError(f"`{' '.join(cmd)}` failed ({code}): {err.read_text().strip()}")
        deadline = time.time() + 30
        while _read_pid(pid_file) is None:
            if time.time() > deadline:
                raise RuntimeError(f"`{' '.join(cmd)}` wrote no pid file {pid_file}; see the logs in {self.root}")
            time.sleep(0.1)

    def _wait_idle(self, timeout: float) -> None:
        deadline = time.time() + timeout
        states = ""
        while time.time() < deadline:
            proc = self.run(["sinfo", "-h", "-N", "-o", "%N %T"], check=False)
            states = proc.stdout.strip()
            if proc.returncode == 0 and sorted(states.split()) == sorted([*self.NODES, "idle", "idle"]):
                return
            time.sleep(0.5)
        raise RuntimeError(f"nodes not idle after {timeout:.0f} s: {states!r}; see the logs in {self.root}")

    # -- use ------------------------------------------------------------------------------------
    def run(self, cmd: list[str], check: bool = True, **kwargs) -> subprocess.CompletedProcess:
        kwargs.setdefault("env", self.env)
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60, **kwargs)
        if check and proc.returncode != 0:
            raise AssertionError(f"`{' '.join(cmd)}` failed: {proc.stderr}")
        return proc

    def job(self, job_id: str) -> dict[str, str]:
        """`scontrol show job` fields (JobState, Restarts, ExitCode, ...)."""
        out = self.run(["scontrol", "show", "job", "--oneliner", job_id]).stdout
        return dict(item.split("=", 1) for item in out.split() if "=" in item)

    def wait_for(self, job_id: str, timeout: float) -> dict[str, str]:
        """Poll until the job has left the queue for good (a requeue passes through PENDING)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            fields = self.job(job_id)
            if fields["JobState"] in ("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY"):
                return fields
            time.sleep(1)
        raise AssertionError(f"job {job_id} still {self.job(job_id)['JobState']} after {timeout:.0f} s")

    # -- stop -----------------------------------------------------------------------------------
    def stop(self) -> None:
        """Cancel every job, stop the daemons (newest first), then the jobs' leftovers. Never raises."""
        try:
            self.run(["scancel", "--user", pwd.getpwuid(os.geteuid()).pw_name], check=False)
            deadline = time.time() + 45
            while time.time() < deadline and self.run(["squeue", "-h"], check=False).stdout.strip():
                time.sleep(0.5)
        except Exception:  # the controller may never have started
            pass
        for pid_file in reversed(self._pid_files):
            _terminate(_read_pid(pid_file))
        for pid in self._leftovers():
            _terminate(pid)
        shutil.rmtree(self.root, ignore_errors=True)

    def _leftovers(self) -> list[int]:
        """Processes this cluster started: job scripts and ranks carry our SLURM_CONF in their environment,
        slurmstepd holds its socket in our spool folder."""
        marker = f"SLURM_CONF={self.conf}".encode()
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) == os.getpid():
                continue
            try:
                ours = marker in (entry / "environ").read_bytes().split(b"\0") or any(
                    os.readlink(fd).startswith(str(self.root)) for fd in (entry / "fd").iterdir())
            except OSError:
                continue
            if ours:
                found.append(int(entry.name))
        return found


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def _terminate(pid: int | None, grace: float = 10) -> None:
    if pid is None:
        return
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.time() + grace
    while time.time() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
