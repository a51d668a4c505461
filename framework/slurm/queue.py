"""The only place that runs Slurm's commands (sbatch, squeue, scontrol)."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from framework.errors import FrameworkError


class SlurmError(FrameworkError):
    """A Slurm command is missing or refused the request; the message carries its output."""


@dataclass
class JobState:
    job_id: str
    state: str  # PENDING, RUNNING, COMPLETED, FAILED, ... or UNKNOWN when Slurm has forgotten the job
    restarts: int | None = None
    nodes: str = ""
    reason: str = ""


def _run(cmd: list[str], timeout: float = 60) -> subprocess.CompletedProcess:
    if shutil.which(cmd[0]) is None:
        raise SlurmError(f"`{cmd[0]}` is not on PATH: run this on a Slurm login node (or use --dry-run to only "
                         f"print the script).")
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def sbatch(script: Path) -> str:
    """Submit a script from the current directory; returns the job id."""
    proc = _run(["sbatch", "--parsable", str(script)])
    if proc.returncode != 0:
        raise SlurmError(f"sbatch refused {script}: {proc.stderr.strip() or proc.stdout.strip()}")
    return proc.stdout.strip().split(";")[0]


def job_state(job_id: str) -> JobState:
    """From scontrol (pending, running and recently finished jobs), else UNKNOWN."""
    try:
        proc = _run(["scontrol", "show", "job", "--oneliner", job_id])
    except SlurmError:
        return JobState(job_id, "UNKNOWN")
    if proc.returncode != 0 or "JobState=" not in proc.stdout:
        return JobState(job_id, "UNKNOWN")
    fields = dict(item.split("=", 1) for item in proc.stdout.split() if "=" in item)
    restarts = fields.get("Restarts", "")
    return JobState(job_id, fields.get("JobState", "UNKNOWN"), int(restarts) if restarts.isdigit() else None,
                    fields.get("NodeList", ""), fields.get("Reason", ""))
