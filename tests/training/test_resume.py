"""Exact resume after kill -9, world-size change, and fallback past damaged checkpoints."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from framework.training import checkpoint
from tests.training.helpers import REPO, run_cli, tiny_recipe, train_losses

STEPS = 24


def _recipe(tmp_path, tiny_data, name):
    folder = tmp_path / name
    folder.mkdir()
    return tiny_recipe(folder, tiny_data("bpe"), "gpt2-debug",
                       train={"max_steps": STEPS, "global_batch_size": 4, "micro_batch_size": 2},
                       checkpoint={"every": 3, "keep_last": 3}, export=False)


def _kill_at(recipe, run_dir, min_step: int) -> int:
    """Start 2 ranks, SIGKILL the whole group once a step >= min_step is logged; returns that step."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           "-m", "framework.cli.main", "pretrain", str(recipe)]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "OMP_NUM_THREADS": "1"}, start_new_session=True)
    deadline = time.time() + 300
    try:
        while time.time() < deadline:
            losses = train_losses(run_dir) if (run_dir / "metrics.jsonl").exists() else {}
            if losses and max(losses) >= min_step:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                return max(losses)
            assert proc.poll() is None, "run ended before it could be killed"
            time.sleep(0.02)
        raise AssertionError("run never reached the kill step")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)


@pytest.mark.slow
def test_kill_9_then_resume_reproduces_every_loss(tmp_path, tiny_data):
    reference_recipe = _recipe(tmp_path, tiny_data, "reference")
    run_cli(["pretrain", str(reference_recipe)], nproc=2)
    reference = train_losses(reference_recipe.parent / "run")
    assert sorted(reference) == list(range(1, STEPS + 1))

    recipe = _recipe(tmp_path, tiny_data, "killed")
    run_dir = recipe.parent / "run"
    killed_at = _kill_at(recipe, run_dir, min_step=10)
    committed = checkpoint.latest_valid(run_dir / "checkpoints")
    assert committed is not None and committed.step <= killed_at
    assert not (run_dir / "status.json").exists()

    run_cli(["pretrain", str(recipe)], nproc=2)  # resume: auto
    resumed = train_losses(run_dir)  # later lines (the resumed run) win for re-run steps
    assert sorted(resumed) == list(range(1, STEPS + 1))
    for step in range(committed.step + 1, STEPS + 1):
        assert resumed[step] == pytest.approx(reference[step], abs=1e-6), step
    assert json.loads((run_dir / "status.json").read_text())["status"] == "completed"

    # World size 2 -> 1 from the same checkpoint: accumulation doubles, no sample repeated or skipped.
    shrink = _recipe(tmp_path, tiny_data, "shrink")
    _kill_at(shrink, shrink.parent / "run", min_step=10)
    restart = checkpoint.latest_valid(shrink.parent / "run" / "checkpoints").step
    run_cli(["pretrain", str(shrink)], nproc=1)
    shrunk = train_losses(shrink.parent / "run")
    for step in range(restart + 1, STEPS + 1):
        assert shrunk[step] == pytest.approx(reference[step], abs=1e-5), step
    state = json.loads((shrink.parent / "run" / "checkpoints" / f"step_{STEPS:08d}" / "trainer_state.json").read_text())
    assert state["data"]["cursor"] == STEPS * 4 and state["world_size"] == 1


def test_damaged_checkpoints_are_skipped(tmp_path, tiny_data, caplog):
    recipe = _recipe(tmp_path, tiny_data, "damaged")
    run_cli(["pretrain", str(recipe), "train.max_steps=9"])
    root = recipe.parent / "run" / "checkpoints"
    assert checkpoint.committed_tags(root) == ["step_00000003", "step_00000006", "step_00000009"]
    newest, middle = root / "step_00000009", root / "step_00000006"
    weights = newest / "mp_rank_00_model_states.pt"
    blob = bytearray(weights.read_bytes())
    blob[len(blob) // 2] ^= 0xFF  # one flipped bit pattern
    weights.write_bytes(bytes(blob))
    (middle / "rng_rank00000.pt").write_bytes((middle / "rng_rank00000.pt").read_bytes()[:-7])  # truncated
    with caplog.at_level("WARNING"):
        found = checkpoint.latest_valid(root)
    assert found.step == 3
    assert "does not match its SHA-256" in caplog.text and "truncated" in caplog.text

    # A staging folder left by a kill mid-save is never taken for a checkpoint.
    (root / ".staging" / "step_00000012").mkdir(parents=True)
    assert checkpoint.committed_tags(root)[-1] == "step_00000009"

    proc = run_cli(["pretrain", str(recipe), "train.max_steps=12"])
    assert "skipping checkpoint" in proc.stderr and "step_00000009" in proc.stderr
    assert "resumed from" in proc.stderr and "step_00000003" in proc.stderr
    losses = train_losses(recipe.parent / "run")
    assert max(losses) == 12
