"""The requeue decision and its guard, without Slurm: attempts are simulated on a run folder."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from framework.cli.main import main
from framework.slurm import attempts, runs
from framework.slurm.attempts import DONE, FAILED, REQUEUE, Attempt
from framework.slurm.status import report
from framework.training import checkpoint

LIMIT = 1


def commit(run_dir: Path, step: int) -> None:
    (run_dir / "checkpoints" / f"step_{step:08d}").mkdir(parents=True, exist_ok=True)


def finish(run_dir: Path, status: str, step: int) -> None:
    (run_dir / "status.json").write_text(json.dumps({"status": status, "step": step}))


def end(run_dir: Path, attempt: Attempt, exit_code: int = 0, warned: bool = False, cancelled: bool = False,
        requeue_on_failure: bool = True) -> int:
    return attempts.end(run_dir, attempt, exit_code=exit_code, warned=warned, cancelled=cancelled,
                        requeue_on_failure=requeue_on_failure, max_stalled=LIMIT)


def test_warning_requeues_then_completion_is_done(tmp_path):
    first, second = Attempt("7", 0), Attempt("7", 1)
    assert attempts.begin(tmp_path, first, LIMIT) == 0
    commit(tmp_path, 12)
    finish(tmp_path, "stopped", 12)
    assert end(tmp_path, first, warned=True) == REQUEUE
    assert attempts.begin(tmp_path, second, LIMIT) == 12
    commit(tmp_path, 40)
    finish(tmp_path, "completed", 40)
    assert end(tmp_path, second) == DONE
    log = runs.read_records(runs.attempts_file(tmp_path))
    assert [(r["event"], r["restart"], r["committed_step"]) for r in log] == [
        ("begin", 0, 0), ("end", 0, 12), ("begin", 1, 12), ("end", 1, 40)]
    assert [r["decision"] for r in log if r["event"] == "end"] == ["requeue", "done"]


@pytest.mark.parametrize("status", ["completed", "early_stopped"])
def test_a_warning_that_arrives_after_the_run_finished_does_not_requeue(tmp_path, status):
    attempts.begin(tmp_path, Attempt("7", 0), LIMIT)
    finish(tmp_path, status, 40)
    assert end(tmp_path, Attempt("7", 0), warned=True) == DONE


def test_a_stop_on_request_is_not_requeued_and_a_cancelled_failure_fails(tmp_path):
    attempts.begin(tmp_path, Attempt("7", 0), LIMIT)
    finish(tmp_path, "stopped", 5)
    assert end(tmp_path, Attempt("7", 0)) == DONE  # SIGTERM from scancel, no warning: the user asked
    attempts.begin(tmp_path, Attempt("8", 0), LIMIT)
    assert end(tmp_path, Attempt("8", 0), exit_code=137, cancelled=True) == 137


def test_failures_requeue_until_the_guard_trips(tmp_path):
    a0, a1 = Attempt("9", 0), Attempt("9", 1)
    attempts.begin(tmp_path, a0, LIMIT)
    assert end(tmp_path, a0, exit_code=2) == REQUEUE  # 1 stalled attempt, 1 restart allowed
    attempts.begin(tmp_path, a1, LIMIT)
    assert end(tmp_path, a1, exit_code=2) == FAILED  # a 2nd restart without progress is refused
    last = runs.read_records(runs.attempts_file(tmp_path))[-1]
    assert last["decision"] == "failed" and "requeue guard: 2 attempts in a row of job 9" in last["reason"]
    assert end(tmp_path, a1, exit_code=2, requeue_on_failure=False) == 2


def test_progress_resets_the_guard(tmp_path):
    for restart in range(4):
        attempt = Attempt("3", restart)
        attempts.begin(tmp_path, attempt, LIMIT)
        commit(tmp_path, 10 * (restart + 1))  # every attempt commits something new, then fails
        assert end(tmp_path, attempt, exit_code=1) == REQUEUE


def test_begin_trips_on_restarts_that_slurm_made_without_progress(tmp_path):
    """Node failures or preemption requeue the job without our `end`: `begin` still counts them."""
    for restart in range(LIMIT + 1):
        attempts.begin(tmp_path, Attempt("5", restart), LIMIT)
    with pytest.raises(attempts.RequeueLoop, match="MAX_STALLED_RESTARTS=1"):
        attempts.begin(tmp_path, Attempt("5", LIMIT + 1), LIMIT)
    attempts.begin(tmp_path, Attempt("6", 0), LIMIT)  # a new submission starts a fresh count


def test_status_left_by_an_earlier_run_is_ignored(tmp_path):
    finish(tmp_path, "completed", 40)  # an earlier run's; this one crashes before writing its own
    attempts.begin(tmp_path, Attempt("7", 0), LIMIT)
    assert end(tmp_path, Attempt("7", 0), exit_code=1, warned=True) == REQUEUE


def test_committed_steps_agree_with_the_engine(tmp_path):
    root = tmp_path / "checkpoints"
    for name in ("step_00000003", "step_00000012", ".staging", "step_12", "latest"):
        (root / name).mkdir(parents=True)
    assert runs.committed_steps(tmp_path) == [int(t.split("_")[1]) for t in checkpoint.committed_tags(root)] == [3, 12]


def test_resolve_run_dir_applies_overrides(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("run_dir: runs/a\ntrain: {max_steps: 3}\n")
    assert runs.resolve_run_dir(recipe, []) == Path("runs/a")
    assert runs.resolve_run_dir(recipe, ["run_dir=/x/b", "train.max_steps=9"]) == Path("/x/b")


def test_attempt_command_exit_codes(tmp_path, monkeypatch):
    recipe = tmp_path / "r.yaml"
    recipe.write_text(f"run_dir: {tmp_path / 'run'}\n")
    monkeypatch.setenv("SLURM_JOB_ID", "11")
    monkeypatch.delenv("SLURM_RESTART_COUNT", raising=False)
    assert main(["slurm", "attempt", "begin", str(recipe), "--max-stalled-restarts", "0"]) == 0
    assert main(["slurm", "attempt", "end", str(recipe), "--exit-code", "1", "--max-stalled-restarts", "0"]) == FAILED
    monkeypatch.setenv("SLURM_RESTART_COUNT", "1")
    assert main(["slurm", "attempt", "begin", str(recipe), "--max-stalled-restarts", "0"]) == FAILED
    assert os.path.exists(tmp_path / "run" / "slurm" / "attempts.jsonl")


def test_status_shows_jobs_attempts_and_checkpoints(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no Slurm commands: job states read UNKNOWN
    runs.append_record(runs.jobs_file(tmp_path), {"job_id": "7", "script": "x", "nodes": 2})
    attempts.begin(tmp_path, Attempt("7", 0), LIMIT)
    commit(tmp_path, 12)
    (tmp_path / "checkpoints" / "step_00000012" / "manifest.json").write_text("{}")
    end(tmp_path, Attempt("7", 0), warned=True)
    shown = report(tmp_path)
    assert "no status.json yet" in shown
    assert re.search(r"^  7 +UNKNOWN ", shown, re.M)
    assert re.search(r"^  7 +1  \S+ \S+  0 -> 12 +requeue: time limit", shown, re.M)
    assert re.search(r"^  step_00000012 +0.0 MiB  committed$", shown, re.M)
