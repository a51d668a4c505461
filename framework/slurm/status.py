"""`framework slurm status`: a run's jobs (live state from Slurm), their attempts and its checkpoints."""

from __future__ import annotations

import json
import time
from pathlib import Path

from framework.slurm import queue, runs


def report(run_dir: Path, verify: bool = False) -> str:
    lines = [f"run {run_dir}: {_run_status(run_dir)}", ""]
    lines += _jobs(run_dir) + [""] + _attempts(run_dir) + [""] + _checkpoints(run_dir, verify)
    return "\n".join(lines) + "\n"


def _run_status(run_dir: Path) -> str:
    path = run_dir / "status.json"
    if not path.exists():
        return "no status.json yet (not finished)" if run_dir.exists() else "no such run folder yet"
    status = json.loads(path.read_text())
    return f"{status.get('status')} at step {status.get('step')} (status.json)"


def _jobs(run_dir: Path) -> list[str]:
    records = runs.read_records(runs.jobs_file(run_dir))
    if not records:
        return ["jobs: none submitted with `framework slurm submit` for this run"]
    lines = ["jobs:", f"  {'job':<10} {'state':<12} {'restarts':>8}  {'nodes':<16} submitted"]
    for record in records:
        state = queue.job_state(str(record["job_id"]))
        restarts = "?" if state.restarts is None else str(state.restarts)
        where = state.nodes if state.nodes and state.nodes != "(null)" else state.reason
        lines.append(f"  {state.job_id:<10} {state.state:<12} {restarts:>8}  {where:<16} {_clock(record['time'])}")
    return lines


def _attempts(run_dir: Path) -> list[str]:
    records = runs.read_records(runs.attempts_file(run_dir))
    begins = [r for r in records if r.get("event") == "begin"]
    if not begins:
        return ["attempts: none yet"]
    ends = {(r["job_id"], r["restart"]): r for r in records if r.get("event") == "end"}
    lines = ["attempts:", f"  {'job':<10} {'#':>3}  {'started':<19}  {'steps':<15} outcome"]
    for b in begins:
        e = ends.get((b["job_id"], b["restart"]))
        steps = f"{b['committed_step']} -> {e['committed_step'] if e else '?'}"
        outcome = f"{e['decision']}: {e['reason']}" if e else "running, or ended without `attempt end`"
        lines.append(f"  {b['job_id']:<10} {b['restart'] + 1:>3}  {_clock(b['time']):<19}  {steps:<15} {outcome}")
    return lines


def _checkpoints(run_dir: Path, verify: bool) -> list[str]:
    root = run_dir / "checkpoints"
    steps = runs.committed_steps(run_dir)
    if not steps:
        return [f"checkpoints: none committed in {root}"]
    lines = [f"checkpoints ({root}):"]
    for step in steps:
        path = root / f"step_{step:08d}"
        size = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
        lines.append(f"  {path.name}  {size / 2**20:10.1f} MiB  {_check(path, verify)}")
    return lines


def _check(path: Path, verify: bool) -> str:
    if not verify:
        return "committed" if (path / "manifest.json").exists() else "no manifest.json"
    from framework.training.checkpoint import verify as verify_checkpoint

    problem = verify_checkpoint(path)
    return f"DAMAGED: {problem}" if problem else "verified"


def _clock(seconds: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(seconds))
