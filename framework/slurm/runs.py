"""Where a run keeps its Slurm files, found from the recipe alone (no torch import, any command).

RUN_DIR/slurm/ holds `jobs.jsonl` (one line per submission), `attempts.jsonl` (a `begin` and an
`end` line per attempt), the submitted scripts (`<job id>.sbatch`) and the job logs.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import yaml

from framework.config import ConfigError, apply_override

# The engine's committed-checkpoint folders (framework/training/checkpoint.py: TAG_RE); listing them
# here keeps the job script's bookkeeping free of the torch import.
CHECKPOINT_TAG = re.compile(r"^step_(\d{8})$")


def resolve_run_dir(recipe: str | Path, overrides: list[str]) -> Path:
    """`run_dir` of a recipe after its overrides, for any command's recipe (pretrain or finetune)."""
    try:
        data = yaml.safe_load(Path(recipe).read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise ConfigError(f"recipe {recipe} does not exist.") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"{recipe} is not valid YAML: {err}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{recipe} must hold a mapping of keys to values at the top level.")
    for item in overrides:
        apply_override(data, item)
    if not data.get("run_dir"):
        raise ConfigError(f"{recipe}: 'run_dir' is missing; set it in the recipe or as run_dir=PATH.")
    return Path(str(data["run_dir"]))


def slurm_dir(run_dir: Path) -> Path:
    return Path(run_dir) / "slurm"


def jobs_file(run_dir: Path) -> Path:
    return slurm_dir(run_dir) / "jobs.jsonl"


def attempts_file(run_dir: Path) -> Path:
    return slurm_dir(run_dir) / "attempts.jsonl"


def append_record(path: Path, record: dict) -> None:
    """One JSON line, appended: requeued attempts and resubmissions add to the history."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps({"time": round(time.time(), 3), **record}) + "\n")


def read_records(path: Path) -> list[dict]:
    if not path.exists():
        return []
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:  # a line cut short by a killed job: skip it
            continue
    return records


def committed_steps(run_dir: Path) -> list[int]:
    """Steps of the committed checkpoints (renamed out of staging), oldest first; no hashing."""
    root = Path(run_dir) / "checkpoints"
    if not root.exists():
        return []
    return sorted(int(m.group(1)) for p in root.iterdir() if p.is_dir() and (m := CHECKPOINT_TAG.match(p.name)))


def newest_committed_step(run_dir: Path) -> int:
    """The step of the newest committed checkpoint, 0 when there is none."""
    steps = committed_steps(run_dir)
    return steps[-1] if steps else 0
