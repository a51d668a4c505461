"""Small labelled data sets the fine-tuning tests generate (seeded, a few hundred rows at most)."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import yaml

POSITIVE = ["good", "great", "fine", "nice", "happy", "love", "best", "well"]
NEGATIVE = ["bad", "poor", "awful", "sad", "hate", "worst", "wrong", "ugly"]
FILLER = ["the", "movie", "was", "a", "this", "film", "it", "and", "very", "story", "of", "in", "with", "to"]


def sentiment_rows(n: int, seed: int, positive_share: float = 0.6) -> list[dict]:
    """'positive' rows carry positive words, 'negative' rows negative ones, among filler words."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        label = "positive" if rng.random() < positive_share else "negative"
        words = rng.sample(FILLER, 5) + rng.sample(POSITIVE if label == "positive" else NEGATIVE, 2)
        rng.shuffle(words)
        rows.append({"sentence": " ".join(words), "sentiment": label})
    return rows


def write_csv(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def copy_rows(n: int, seed: int) -> list[dict]:
    """'repeat: w1 w2 w3' -> 'w1 w2 w3' (and 'say ...' for seq2seq): learnable in a few dozen steps."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        words = " ".join(rng.sample(POSITIVE + NEGATIVE, 3))
        rows.append({"instruction": f"repeat: {words}", "output": words, "document": f"say {words} please",
                     "summary": words})
    return rows


TOPICS = {"sport": ["ball", "goal", "team", "run"], "food": ["bread", "soup", "cake", "rice"],
          "music": ["song", "band", "drum", "tune"]}


def topic_rows(n: int, seed: int) -> list[dict]:
    """Multi-label: each text mentions one or two topics; labels are their names, comma-separated."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        topics = sorted(rng.sample(sorted(TOPICS), rng.choice([1, 1, 2])))
        words = [w for t in topics for w in rng.sample(TOPICS[t], 2)] + rng.sample(FILLER, 3)
        rng.shuffle(words)
        rows.append({"text": " ".join(words), "topics": ",".join(topics)})
    return rows


def write_shipped_data(root: Path) -> None:
    """The tiny data sets under recipes/finetune/data (regenerate with this function)."""
    for split, n, seed in (("train", 240, 0), ("validation", 40, 1), ("test", 60, 2)):
        write_csv(root / "sentiment" / f"{split}.csv", sentiment_rows(n, seed))
        write_jsonl(root / "topics" / f"{split}.jsonl", topic_rows(n, seed))
    for split, n, seed in (("train", 200, 0), ("validation", 16, 1), ("test", 16, 2)):
        write_jsonl(root / "copy" / f"{split}.jsonl", copy_rows(n, seed))


def write_recipe(path: Path, recipe: dict) -> Path:
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    return path


def hf_folder(out: Path, preset: str, tokenizer_dir: Path, task: str | None = None, **config) -> Path:
    """A freshly initialised zoo model saved in the HF format with a tokenizer: an `init_from` that is
    an HF model folder, as downloaded from the Hub."""
    from framework.models.registry import build, config_from_preset
    from framework.models.tokenizer_files import copy_tokenizer_files

    model = build(config_from_preset(preset, **config), task)
    model.save_pretrained(out)
    copy_tokenizer_files(tokenizer_dir, out)
    return out


def launch(args: list[str], log: Path):
    """`framework ...` in a background subprocess (one thread), output to `log`."""
    import os
    import subprocess
    import sys

    from tests.training.helpers import REPO

    env = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    handle = open(log, "w")
    proc = subprocess.Popen([sys.executable, "-m", "framework.cli.main", *args], stdout=handle,
                            stderr=subprocess.STDOUT, env=env, cwd=REPO)
    proc.log_path = log
    return proc


def wait_all(procs: list, timeout: float = 600) -> None:
    failed = []
    for proc in procs:
        if proc.wait(timeout=timeout) != 0:
            failed.append(f"{' '.join(proc.args[3:])} -> {proc.returncode}:\n{proc.log_path.read_text()[-4000:]}")
    if failed:
        raise AssertionError("\n\n".join(failed))
