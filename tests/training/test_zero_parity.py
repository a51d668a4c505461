"""ZeRO 0-3 on 2 gloo ranks give the single-process loss curve, for a debug model of every family."""

import json
import math
import subprocess
import sys

import pytest

from tests.training.helpers import FAMILIES, REPO, tiny_recipe

TOL = 1e-5


def _matrix(tmp_path, world: int, stages: str, recipes: list) -> dict:
    out = tmp_path / f"world{world}.json"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={world}",
           "tests/training/zero_matrix.py", str(out), stages, *map(str, recipes)]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=900,
                          env={**__import__("os").environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)})
    assert proc.returncode == 0, proc.stderr[-6000:]
    return json.loads(out.read_text())


@pytest.mark.slow
def test_zero_stages_match_single_process(tmp_path, tiny_data):
    recipes = []
    for preset, (kind, _, _) in FAMILIES.items():
        folder = tmp_path / preset
        folder.mkdir()
        recipes.append(tiny_recipe(folder, tiny_data(kind), preset))
    single = _matrix(tmp_path, 1, "0", recipes)
    multi = _matrix(tmp_path, 2, "0,1,2,3", recipes)
    for preset in FAMILIES:
        reference = single[f"{preset}/zero0"]["losses"]
        assert len(reference) == 20
        assert reference["20"] < reference["1"], f"{preset} did not learn: {reference}"
        for stage in range(4):
            got = multi[f"{preset}/zero{stage}"]
            assert got["engine"] == "DeepSpeedEngine"
            if stage:
                assert "Zero" in got["optimizer"], got["optimizer"]
            diffs = [abs(got["losses"][k] - v) for k, v in reference.items()]
            assert max(diffs) < TOL, f"{preset} ZeRO-{stage}: max diff {max(diffs):.2e}"


@pytest.mark.slow
def test_every_family_trains_in_bf16(tmp_path, tiny_data):
    recipes = []
    for preset, (kind, _, _) in FAMILIES.items():
        folder = tmp_path / preset
        folder.mkdir()
        recipes.append(tiny_recipe(folder, tiny_data(kind), preset, train={"precision": "bf16", "max_steps": 4}))
    results = _matrix(tmp_path, 1, "0,3", recipes)
    for key, got in results.items():
        losses = list(got["losses"].values())
        assert len(losses) == 4 and all(math.isfinite(v) for v in losses), key
