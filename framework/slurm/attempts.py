"""What the job script calls around each attempt: a log of attempts, the requeue decision, the guard.

`begin` records where the attempt starts (the newest committed checkpoint) and fails the job when
the previous restarts made no progress; `end` records how it ended and decides: done, requeue, or
fail. Progress means a newer committed checkpoint; an attempt that commits nothing new is stalled.
After `max_stalled_restarts` restarts in a row without progress the job fails with a message
instead of requeueing forever (a broken node, bad data, a bug that crashes every attempt).
"""

from __future__ import annotations

import json
import logging
import os
import socket
from dataclasses import dataclass
from pathlib import Path

from framework.errors import FrameworkError
from framework.slurm import runs

logger = logging.getLogger(__name__)

REQUEUE = 75  # EX_TEMPFAIL: the job script runs `scontrol requeue`
DONE, FAILED = 0, 1
FINISHED = ("completed", "early_stopped")  # statuses in status.json that end a run


class RequeueLoop(FrameworkError):
    """The job was restarted too often without committing a new checkpoint."""


@dataclass(frozen=True)
class Attempt:
    job_id: str
    restart: int  # SLURM_RESTART_COUNT: 0 for the first attempt

    @classmethod
    def from_env(cls) -> Attempt:
        return cls(os.environ.get("SLURM_JOB_ID", "local"), int(os.environ.get("SLURM_RESTART_COUNT", "0") or 0))


def begin(run_dir: Path, attempt: Attempt, max_stalled: int) -> int:
    """Log the attempt's start; raise RequeueLoop when the restarts before it made no progress."""
    step = runs.newest_committed_step(run_dir)
    status = run_dir / "status.json"
    runs.append_record(runs.attempts_file(run_dir), {
        "event": "begin", "job_id": attempt.job_id, "restart": attempt.restart, "host": socket.gethostname(),
        "nodes": os.environ.get("SLURM_JOB_NODELIST", ""), "committed_step": step,
        "status_mtime": status.stat().st_mtime_ns if status.exists() else None,
    })
    stalled = stalled_attempts(run_dir, attempt.job_id, step, include_current=False)
    if stalled > max_stalled:
        raise RequeueLoop(_loop_message(attempt, stalled, step, max_stalled, run_dir))
    logger.info("job %s attempt %d starts at committed step %d", attempt.job_id, attempt.restart + 1, step)
    return step


def end(run_dir: Path, attempt: Attempt, *, exit_code: int, warned: bool, cancelled: bool,
        requeue_on_failure: bool, max_stalled: int) -> int:
    """Log the attempt's end and return DONE, REQUEUE or a failing exit code."""
    step = runs.newest_committed_step(run_dir)
    status = _status_of_this_attempt(run_dir, attempt)
    decision, reason = _decide(exit_code, warned, cancelled, requeue_on_failure, status)
    if decision == REQUEUE:
        started = _begin_record(run_dir, attempt)
        start_step = started["committed_step"] if started else step
        stalled = stalled_attempts(run_dir, attempt.job_id, start_step, include_current=step <= start_step)
        if stalled > max_stalled:
            decision, reason = FAILED, _loop_message(attempt, stalled, step, max_stalled, run_dir)
    runs.append_record(runs.attempts_file(run_dir), {
        "event": "end", "job_id": attempt.job_id, "restart": attempt.restart, "exit_code": exit_code,
        "warned": warned, "cancelled": cancelled, "status": status, "committed_step": step,
        "decision": {DONE: "done", REQUEUE: "requeue"}.get(decision, "failed"), "reason": reason,
    })
    log = logger.info if decision in (DONE, REQUEUE) else logger.error
    log("job %s attempt %d: %s", attempt.job_id, attempt.restart + 1, reason)
    return decision


def _decide(exit_code: int, warned: bool, cancelled: bool, requeue_on_failure: bool,
            status: str | None) -> tuple[int, str]:
    if status in FINISHED:
        return DONE, f"training {status.replace('_', ' ')}"
    if warned:
        saved = "checkpoint committed" if exit_code == 0 else f"the ranks exited with {exit_code}"
        return REQUEUE, f"time limit or preemption ahead: {saved}, requeueing"
    if exit_code == 0:
        return DONE, f"training {status or 'ended'} without a warning signal (a stop on request): not requeued"
    if cancelled:
        return max(exit_code, 1), f"the ranks exited with {exit_code} after the job was cancelled"
    if requeue_on_failure:
        return REQUEUE, f"the ranks failed (exit code {exit_code}): requeueing to resume from the newest checkpoint"
    return max(exit_code, 1), f"the ranks failed (exit code {exit_code}); REQUEUE_ON_FAILURE=0, not requeueing"


def stalled_attempts(run_dir: Path, job_id: str, step: int, include_current: bool) -> int:
    """Attempts in a row of this job that started at `step` and left it there.

    The previous attempts' begin records say where each started; every one that started at `step`
    and was followed by another still at `step` made no progress. The current attempt counts when
    `include_current` (it is ending without a new checkpoint).
    """
    begins = [r for r in runs.read_records(runs.attempts_file(run_dir))
              if r.get("event") == "begin" and str(r.get("job_id")) == str(job_id)]
    previous = begins[:-1]  # the last begin is the current attempt's
    stalled = 0
    for record in reversed(previous):
        if record.get("committed_step") != step:
            break
        stalled += 1
    return stalled + int(include_current)


def _begin_record(run_dir: Path, attempt: Attempt) -> dict | None:
    for record in reversed(runs.read_records(runs.attempts_file(run_dir))):
        if record.get("event") == "begin" and str(record.get("job_id")) == attempt.job_id \
                and record.get("restart") == attempt.restart:
            return record
    return None


def _status_of_this_attempt(run_dir: Path, attempt: Attempt) -> str | None:
    """status.json's status when this attempt wrote it (rank 0 writes it when training returns)."""
    path = run_dir / "status.json"
    if not path.exists():
        return None
    started = _begin_record(run_dir, attempt)
    if started is not None and started.get("status_mtime") == path.stat().st_mtime_ns:
        return None  # left by an earlier attempt or run
    try:
        return json.loads(path.read_text()).get("status")
    except (json.JSONDecodeError, OSError):
        return None


def _loop_message(attempt: Attempt, stalled: int, step: int, limit: int, run_dir: Path) -> str:
    return (f"requeue guard: {stalled} attempts in a row of job {attempt.job_id} committed no checkpoint past step "
            f"{step}, and MAX_STALLED_RESTARTS={limit} allows {limit} restart(s) without progress; failing instead "
            f"of requeueing. Read these attempts in {runs.slurm_dir(run_dir)}/*.out for the cause, fix it and "
            f"resubmit: the run resumes from its newest checkpoint.")
