"""Jobs on a real two-node Slurm cluster: parity with local ranks, preemption and requeue, fallback past
a damaged checkpoint, and the requeue guard.

Both "nodes" are this host, so the shared filesystem is simply its disk. Every job is a 2-rank
(or 1-rank) gloo run of the debug GPT-2 with ZeRO-3, fp32, 32-token sequences.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from safetensors.torch import load_file

from framework.slurm.status import report
from tests.training.helpers import REPO, run_cli, tiny_recipe, train_losses

pytestmark = pytest.mark.slurm

STEPS = 80
JOB_TIMEOUT = 420  # seconds; generous, the host is shared


# -- fixtures -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def recipe(tmp_path_factory, slurm_data) -> Path:
    folder = tmp_path_factory.mktemp("slurm-recipe")
    return tiny_recipe(folder, slurm_data, "gpt2-debug", train={"max_steps": STEPS, "zero_stage": 3},
                       checkpoint={"every": 25, "keep_last": 3})


@pytest.fixture(scope="module")
def reference(recipe, tmp_path_factory) -> Path:
    """The same recipe run by 2 local processes (`framework pretrain --nproc 2`)."""
    run_dir = tmp_path_factory.mktemp("local") / "run"
    run_cli(["pretrain", str(recipe), f"run_dir={run_dir}"], nproc=2)
    return run_dir


@pytest.fixture(scope="module")
def two_node_run(slurm_cluster, recipe, reference, tmp_path_factory) -> tuple[Path, dict]:
    """One uninterrupted 2-node job (after the reference, which builds DeepSpeed's CPU op once)."""
    run_dir = tmp_path_factory.mktemp("two-nodes") / "run"
    job = submit(slurm_cluster, recipe, run_dir, nodes=2)
    return run_dir, slurm_cluster.wait_for(job, JOB_TIMEOUT)


def job_env(cluster) -> dict[str, str]:
    # Both nodes are this host, so the cache where the local reference run built DeepSpeed's CPU op is
    # node-local here; reusing it saves each job a minute of compiling.
    from torch.utils.cpp_extension import _get_build_directory

    extensions = str(Path(_get_build_directory("deepspeed_shm_comm", verbose=False)).parent)
    return {**cluster.env, "OMP_NUM_THREADS": "1", "TORCH_EXTENSIONS_DIR": extensions}


def framework(cluster, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "framework.cli.main", *args], cwd=REPO, env=job_env(cluster),
                          capture_output=True, text=True, timeout=300)


def submit(cluster, recipe: Path, run_dir: Path, *options: str, nodes: int) -> str:
    proc = framework(cluster, "slurm", "submit", str(recipe), f"run_dir={run_dir}", "--nodes", str(nodes),
                     "--gpus-per-node", "0", *options)
    assert proc.returncode == 0, proc.stderr
    return re.search(r"submitted job (\d+)", proc.stdout).group(1)


def job_log(run_dir: Path, job: str) -> str:
    return "\n".join(p.read_text(errors="replace") for p in sorted((run_dir / "slurm").glob(f"*-{job}.out")))


def attempts(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "slurm" / "attempts.jsonl").read_text().splitlines()]


def logged_steps(run_dir: Path) -> int:
    path = run_dir / "metrics.jsonl"
    steps = [0]
    for line in path.read_text().splitlines() if path.exists() else []:
        try:
            record = json.loads(line)
        except json.JSONDecodeError:  # a line being written
            continue
        if record.get("kind") == "train":
            steps.append(record["step"])
    return max(steps)


def assert_same_losses(run_dir: Path, reference: Path, steps) -> None:
    got, want = train_losses(run_dir), train_losses(reference)
    for step in steps:
        assert got[step] == pytest.approx(want[step], abs=1e-6), step


# -- tests ----------------------------------------------------------------------------------------
def test_two_node_job_matches_two_local_processes(two_node_run, reference):
    run_dir, fields = two_node_run
    assert fields["JobState"] == "COMPLETED", job_log(run_dir, fields["JobId"])
    assert fields["NumNodes"] == "2" and fields["Restarts"] == "0"
    assert sorted(train_losses(run_dir)) == list(range(1, STEPS + 1))
    assert_same_losses(run_dir, reference, range(1, STEPS + 1))
    assert json.loads((run_dir / "status.json").read_text())["status"] == "completed"
    log = job_log(run_dir, fields["JobId"])
    assert re.search(r"^1: ", log, re.M), "no output from rank 1 (the second node)"
    assert "rendezvous at 127.0.0.1:" in log  # node1 is not in DNS: its NodeAddr came from scontrol


def test_preempted_job_requeues_once_and_ends_like_an_uninterrupted_run(slurm_cluster, recipe, reference, tmp_path,
                                                                         monkeypatch):
    run_dir = tmp_path / "run"
    job = submit(slurm_cluster, recipe, run_dir, nodes=2)
    deadline = time.time() + JOB_TIMEOUT
    while logged_steps(run_dir) < 10:
        state = slurm_cluster.job(job)["JobState"]
        assert time.time() < deadline and state in ("PENDING", "RUNNING"), f"{state}: {job_log(run_dir, job)}"
        time.sleep(0.2)
    # What Slurm does --signal-lead seconds before the time limit (--signal=B:USR2@300): SIGUSR2 to the batch shell.
    slurm_cluster.run(["scancel", "--batch", "--signal=USR2", job])
    fields = slurm_cluster.wait_for(job, JOB_TIMEOUT)
    log = job_log(run_dir, job)
    assert fields["JobState"] == "COMPLETED", log
    assert fields["Restarts"] == "1"

    records = attempts(run_dir)
    begins = [r for r in records if r["event"] == "begin"]
    ends = [r for r in records if r["event"] == "end"]
    assert [r["restart"] for r in begins] == [0, 1]
    assert [r["decision"] for r in ends] == ["requeue", "done"]
    stopped_at = begins[1]["committed_step"]
    assert 10 <= stopped_at < STEPS and ends[0]["committed_step"] == stopped_at
    assert "stop requested (SIGTERM)" in log
    assert f"resumed from {run_dir / 'checkpoints' / f'step_{stopped_at:08d}'}" in log

    monkeypatch.setenv("SLURM_CONF", str(slurm_cluster.conf))
    shown = report(run_dir)  # `framework slurm status`
    assert re.search(rf"^  {job} +COMPLETED +1 ", shown, re.M) and "requeue: time limit or preemption" in shown

    assert sorted(train_losses(run_dir)) == list(range(1, STEPS + 1))
    assert_same_losses(run_dir, reference, range(1, STEPS + 1))
    final, want = load_file(run_dir / "hf" / "model.safetensors"), load_file(reference / "hf" / "model.safetensors")
    assert final.keys() == want.keys()
    for name in want:
        assert (final[name] - want[name]).abs().max().item() <= 1e-6, name


def test_damaged_newest_checkpoint_falls_back_to_the_previous_one(slurm_cluster, two_node_run, recipe, reference,
                                                                   tmp_path):
    done, _ = two_node_run
    run_dir = tmp_path / "run"
    shutil.copytree(done, run_dir, ignore=shutil.ignore_patterns("slurm"))
    newest = run_dir / "checkpoints" / f"step_{STEPS:08d}"
    shard = newest / "zero_pp_rank_1_mp_rank_00_optim_states.pt"
    blob = bytearray(shard.read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    shard.write_bytes(bytes(blob))

    job = submit(slurm_cluster, recipe, run_dir, nodes=2)
    fields = slurm_cluster.wait_for(job, JOB_TIMEOUT)
    log = job_log(run_dir, job)
    assert fields["JobState"] == "COMPLETED", log
    assert re.search(rf"skipping checkpoint \S*step_{STEPS:08d}: \S+ does not match its SHA-256", log)
    assert "resumed from" in log and "step_00000075 (step 75" in log
    assert_same_losses(run_dir, reference, range(76, STEPS + 1))


def test_a_job_that_cannot_progress_fails_after_the_allowed_restarts(slurm_cluster, recipe, tmp_path):
    """Data that is not there (say, its filesystem is not mounted): every attempt crashes before step 1."""
    run_dir = tmp_path / "run"
    proc = framework(slurm_cluster, "slurm", "submit", str(recipe), f"run_dir={run_dir}",
                     f"data.path={tmp_path / 'gone'}", "--nodes", "1", "--gpus-per-node", "0",
                     "--max-stalled-restarts", "1", "--dry-run")
    assert proc.returncode == 0 and "has no index.json" in proc.stderr  # --dry-run warns, submit would refuse
    script = tmp_path / "job.sbatch"
    script.write_text(proc.stdout)
    (run_dir / "slurm").mkdir(parents=True)  # the log's folder (submit creates it)
    job = slurm_cluster.run(["sbatch", "--parsable", str(script)], cwd=REPO, env=job_env(slurm_cluster)).stdout.strip()

    fields = slurm_cluster.wait_for(job, JOB_TIMEOUT)
    log = job_log(run_dir, job)
    assert fields["JobState"] == "FAILED" and fields["Restarts"] == "1", log
    assert "requeue guard: 2 attempts in a row" in log and "MAX_STALLED_RESTARTS=1" in log
    assert [r["decision"] for r in attempts(run_dir) if r["event"] == "end"] == ["requeue", "failed"]
    assert not (run_dir / "checkpoints").exists()
