"""Watching a run: JSONL metrics, TensorBoard events, a progress bar, optional W&B, a loss plot.

Only rank 0 writes; other ranks get a logger whose methods do nothing.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from pathlib import Path

logger = logging.getLogger(__name__)


class MetricsLogger:
    def __init__(self, run_dir: Path, total_steps: int, start_step: int, *, enabled: bool, progress: bool,
                 tensorboard: bool, wandb: bool, config: dict) -> None:
        self.enabled = enabled
        self.path = run_dir / "metrics.jsonl"
        self._bar = self._tb = self._wandb = None
        if not enabled:
            return
        run_dir.mkdir(parents=True, exist_ok=True)
        self._file = open(self.path, "a", encoding="utf-8")
        if progress:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=total_steps, initial=start_step, unit="step", dynamic_ncols=True)
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self._tb = SummaryWriter(str(run_dir / "tensorboard"))
        if wandb:
            self._wandb = _start_wandb(run_dir, config)

    def log(self, record: dict) -> None:
        if not self.enabled:
            return
        record = {"time": time.time(), **record}
        self._file.write(json.dumps(record) + "\n")
        self._file.flush()
        step = record["step"]
        for key, value in record.items():
            if key not in ("step", "time", "kind") and isinstance(value, (int, float)) and math.isfinite(value):
                if self._tb is not None:
                    self._tb.add_scalar(f"{record.get('kind', 'train')}/{key}", value, step)
        if self._wandb is not None:
            self._wandb.log({f"{record.get('kind', 'train')}/{k}": v for k, v in record.items()
                             if isinstance(v, (int, float))}, step=step)

    def progress(self, step: int, postfix: dict) -> None:
        if self._bar is not None:
            self._bar.n = step
            self._bar.set_postfix(postfix, refresh=False)
            self._bar.refresh()

    def close(self) -> None:
        if not self.enabled:
            return
        self._file.close()
        if self._bar is not None:
            self._bar.close()
        if self._tb is not None:
            self._tb.close()
        if self._wandb is not None:
            self._wandb.finish()


def _start_wandb(run_dir: Path, config: dict):
    """Weights & Biases in offline mode: files under the run folder, `wandb sync` uploads later."""
    try:
        import wandb
    except ImportError:
        logger.warning("log.wandb=true but the wandb package is not installed; pip install wandb")
        return None
    os.environ.setdefault("WANDB_MODE", "offline")
    return wandb.init(dir=str(run_dir), config=config, project="framework", mode="offline")


def read_metrics(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def plot_losses(metrics_path: Path, out: Path) -> Path | None:
    """Train and validation loss against tokens seen, as a PNG."""
    records = read_metrics(metrics_path)
    train = [r for r in records if r.get("kind") == "train" and "loss" in r]
    val = [r for r in records if r.get("kind") == "eval"]
    if not train:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot([r["tokens"] for r in train], [r["loss"] for r in train], label="train", lw=1)
    if val:
        ax.plot([r["tokens"] for r in val], [r["loss"] for r in val], "o-", label="validation")
    ax.set_xlabel("tokens seen")
    ax.set_ylabel("loss")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
