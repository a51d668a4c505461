"""Non-finite losses skip the update (weights unchanged); too many in a row stop with a checkpoint."""

import json
import subprocess
import sys

from framework.training import checkpoint
from tests.training.helpers import REPO, tiny_recipe


def _run(recipe, bad, *overrides):
    proc = subprocess.run([sys.executable, "tests/training/nan_worker.py", str(recipe), bad, *overrides],
                          cwd=REPO, capture_output=True, text=True, timeout=300,
                          env={**__import__("os").environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-4000:]
    line = next(line for line in proc.stdout.splitlines() if line.startswith("REPORT "))
    return json.loads(line[len("REPORT "):]), proc.stderr


def test_nan_steps_are_skipped_and_counted(tmp_path, tiny_data):
    recipe = tiny_recipe(tmp_path, tiny_data("bpe"), "gpt2-debug",
                         train={"global_batch_size": 2, "max_steps": 12})
    report, log = _run(recipe, "4,5,9", "export=false")
    assert report["diverged"] is None
    assert report["step"] == 12 and report["skipped"] == 3
    assert report["unchanged"] == {"4": True}  # NaN at micro-step 4: weights equal at step 5's forward
    assert report["finite"]
    assert "non-finite loss, update skipped" in log


def test_consecutive_nan_steps_stop_with_last_good_checkpoint(tmp_path, tiny_data):
    recipe = tiny_recipe(tmp_path, tiny_data("bpe"), "gpt2-debug",
                         train={"global_batch_size": 2, "max_steps": 20, "max_bad_steps": 3})
    report, _ = _run(recipe, "6,7,8,9,10", "export=false")
    assert report["diverged"] and "train.max_bad_steps=3" in report["diverged"]
    assert report["step"] == 8 and report["skipped"] == 3
    tags = checkpoint.committed_tags(tmp_path / "run" / "checkpoints")
    assert tags == ["step_00000008"]
    state = json.loads((tmp_path / "run" / "checkpoints" / tags[0] / "trainer_state.json").read_text())
    assert state["skipped_steps"] == 3
