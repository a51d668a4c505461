"""What a run leaves behind: a consolidated HF export (ZeRO-3 included), metrics, and a clean stop."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

import framework
from framework.cli.main import main
from framework.training import checkpoint
from tests.training.helpers import REPO, run_cli, tiny_recipe, train_losses


@pytest.mark.slow
def test_zero3_run_exports_to_stock_transformers(tmp_path, tiny_data):
    recipe = tiny_recipe(tmp_path, tiny_data("bpe"), "llama-debug",
                         train={"max_steps": 6, "zero_stage": 3}, export=True,
                         log={"eval_every": 3, "tensorboard": True, "plot": True})
    run_cli(["pretrain", str(recipe)], nproc=2)
    run = tmp_path / "run"
    names = sorted(p.name for p in (run / "hf").iterdir())
    assert {"config.json", "generation_config.json", "model.safetensors", "tokenizer.json"} <= set(names)
    assert (run / "loss.png").stat().st_size > 0 and any((run / "tensorboard").iterdir())
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    evals = [r for r in records if r["kind"] == "eval"]
    assert [r["step"] for r in evals] == [3, 6] and all(r["perplexity"] > 1 for r in evals)
    assert all("tokens" in r for r in records)
    assert (run / "config.yaml").exists()
    state = json.loads((run / "checkpoints" / "step_00000006" / "trainer_state.json").read_text())
    assert state["config"]["train"]["zero_stage"] == 3  # the resolved config travels with the checkpoint

    stock = AutoModelForCausalLM.from_pretrained(run / "hf").eval()
    ours = framework.load(run)  # consolidates the ZeRO-3 shards itself
    tok = AutoTokenizer.from_pretrained(run / "hf")
    ids = tok(["def f(x): return x"], return_tensors="pt")["input_ids"]
    with torch.no_grad():
        assert (stock(ids).logits - ours(ids).logits).abs().max() < 1e-5
    # `framework export RUN_DIR OUT` gives the same folder on demand.
    assert main(["export", str(run), str(tmp_path / "again")]) == 0
    again = AutoModelForCausalLM.from_pretrained(tmp_path / "again").eval()
    with torch.no_grad():
        assert torch.equal(again(ids).logits, stock(ids).logits)


@pytest.mark.slow
def test_stop_signal_on_one_rank_commits_on_all_and_resumes(tmp_path, tiny_data):
    recipe = tiny_recipe(tmp_path, tiny_data("bpe"), "gpt2-debug", train={"max_steps": 400})
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           "-m", "framework.cli.main", "pretrain", str(recipe)]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "OMP_NUM_THREADS": "1"}, start_new_session=True)
    try:
        deadline = time.time() + 300
        while not ((run / "metrics.jsonl").exists() and train_losses(run) and max(train_losses(run)) >= 3):
            assert time.time() < deadline and proc.poll() is None
            time.sleep(0.05)
        workers = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout.split()
        assert len(workers) == 2
        os.kill(int(workers[1]), signal.SIGTERM)  # one rank only, as a scheduler may do
        out, _ = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 0, out[-3000:]
    status = json.loads((run / "status.json").read_text())
    assert status["status"] == "stopped" and status["step"] < 400
    assert checkpoint.latest_valid(run / "checkpoints").step == status["step"]
    run_cli(["pretrain", str(recipe), "train.max_steps=" + str(status["step"] + 2)], nproc=2)
    assert json.loads((run / "status.json").read_text())["status"] == "completed"
    assert max(train_losses(run)) == status["step"] + 2


@pytest.mark.slow
def test_cpu_offload_matches_the_plain_run(tmp_path, tiny_data):
    curves = {}
    for name, overrides in [("plain", []), ("zero2-offload", ["train.zero_stage=2", "train.offload_optimizer=true"]),
                            ("zero3-offload", ["train.zero_stage=3", "train.offload_optimizer=true",
                                               "train.offload_params=true"])]:
        folder = tmp_path / name
        folder.mkdir()
        recipe = tiny_recipe(folder, tiny_data("bpe"), "gpt2-debug", train={"max_steps": 5})
        run_cli(["pretrain", str(recipe), *overrides])
        curves[name] = train_losses(folder / "run")
    for name in ("zero2-offload", "zero3-offload"):
        assert curves[name] == pytest.approx(curves["plain"], abs=1e-5)
