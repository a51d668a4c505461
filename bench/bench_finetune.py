"""Metrics of the tiny fine-tuning recipes, on the debug-size bases `make test` uses.

For each CPU twin in recipes/finetune/: pretrain its debug base for a few steps (or write a random
HF folder, for the recipes that start from one), fine-tune with the recipe as shipped, and record
the test-split metrics `framework evaluate` reports, the wall time, and the trainable parameters.
Classification rows also give the majority-class baseline of the test split.

Writes bench/results/finetune.json and prints the markdown table copied into docs/finetune.md.

    python bench/bench_finetune.py [--pretrain-steps 3]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.finetune.conftest import CHAINS, TOKENIZER_KIND  # noqa: E402  (the chains the tests run)
from tests.finetune.helpers import hf_folder  # noqa: E402
from tests.training.helpers import prepare_tiny, tiny_recipe  # noqa: E402

RECIPES = ROOT / "recipes" / "finetune"


def cli(args: list[str], log: Path) -> float:
    start = time.perf_counter()
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    with open(log, "w") as f:
        rc = subprocess.call([sys.executable, "-m", "framework.cli.main", *args], stdout=f, stderr=subprocess.STDOUT,
                             cwd=ROOT, env=env)
    if rc:
        raise SystemExit(f"framework {' '.join(args)} failed; see {log}")
    return time.perf_counter() - start


def majority_baseline(recipe: str) -> float | None:
    if recipe != "bert-tiny-sentiment.yaml":
        return None
    labels = [r["sentiment"] for r in csv.DictReader(open(RECIPES / "data/sentiment/test.csv"))]
    return max(Counter(labels).values()) / len(labels)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pretrain-steps", type=int, default=3)
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-finetune-"))
    rows = []
    for name, (recipe, base, overrides) in CHAINS.items():
        if overrides:  # the early-stopping and 2-rank variants are tests, not recipes
            continue
        kind, preset = base.split(":")
        tok_dir = prepare_tiny(root / "data", TOKENIZER_KIND[name]).parent / "tokenizer"
        if kind == "hf":
            init, pretrain_s = hf_folder(root / f"{name}-hf", preset, tok_dir), 0.0
        else:
            shards = prepare_tiny(root / "data", TOKENIZER_KIND[name])
            (root / name).mkdir()
            pre = tiny_recipe(root / name, shards, preset, train={"max_steps": args.pretrain_steps},
                              log={"progress": False, "tensorboard": False, "plot": False, "eval_every": 0})
            pretrain_s = cli(["pretrain", str(pre)], root / f"{name}-pretrain.log")
            init = root / name / "run"
        run = root / f"{name}-finetune"
        finetune_s = cli(["finetune", str(RECIPES / recipe), f"run_dir={run}", f"model.init_from={init}"],
                         root / f"{name}-finetune.log")
        status = json.loads((run / "status.json").read_text())
        test = json.loads((run / "eval_test.json").read_text())
        rows.append({"recipe": recipe.removesuffix(".yaml"), "base": f"{preset} ({'HF folder' if kind == 'hf' else f'pretrained {args.pretrain_steps} steps'})",
                     "steps": status["step"], "best": status["best"], "lora": status["lora"],
                     "finetune_wall_s": round(finetune_s, 1), "pretrain_wall_s": round(pretrain_s, 1),
                     "test_examples": test["num_examples"], "majority_baseline": majority_baseline(recipe),
                     "test_metrics": {k: round(v, 4) for k, v in test["metrics"].items()}})
        print(f"{recipe}: {rows[-1]['test_metrics']} ({finetune_s:.0f}s)", flush=True)
    result = {"machine": {"platform": platform.platform(), "python": platform.python_version(),
                          "cpu_count": os.cpu_count(), "load_average_at_end": [round(x, 2) for x in os.getloadavg()]},
              "note": "CPU, fp32, 1 process; debug-size bases (2 layers, 64 wide, 512-token vocabularies) as in make test",
              "runs": rows}
    out = ROOT / "bench" / "results" / "finetune.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print("\n| recipe | base | steps | test metrics | majority baseline | fine-tune wall |")
    print("| --- | --- | --- | --- | --- | --- |")
    for r in rows:
        metrics = ", ".join(f"{k} {v:.3f}" for k, v in r["test_metrics"].items())
        base = "-" if r["majority_baseline"] is None else f"{r['majority_baseline']:.3f}"
        print(f"| {r['recipe']} | {r['base']} | {r['steps']} | {metrics} | {base} | {r['finetune_wall_s']} s |")


if __name__ == "__main__":
    main()
