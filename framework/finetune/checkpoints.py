"""Loading whatever a user points at as one model: an HF folder or Hub id, a pretraining or
fine-tuning run (its best checkpoint when one was selected, else its newest), or one committed
checkpoint; LoRA adapters are merged into the base weights on the way."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import yaml
from transformers import AutoConfig

from framework.errors import FrameworkError
from framework.finetune.lora import has_lora, merge_lora_state
from framework.models.base import ZooModel
from framework.models.registry import resolve_class
from framework.training import checkpoint
from framework.training.export import consolidated_state_dict, is_run_dir, resolve_checkpoint


@dataclass
class Source:
    """Where a model comes from: `run_dir` and `checkpoint` for our runs, `folder` otherwise (an HF
    folder or Hub id); `tokenizer` is where its tokenizer files live."""

    spec: str
    run_dir: Path | None = None
    checkpoint: Path | None = None

    @property
    def tokenizer(self) -> str:
        return str(self.run_dir / "model") if self.run_dir else self.spec

    def run_config(self) -> dict:
        """The run's resolved recipe (config.yaml), {} for HF folders."""
        if self.run_dir is None or not (self.run_dir / "config.yaml").exists():
            return {}
        return yaml.safe_load((self.run_dir / "config.yaml").read_text()) or {}


def locate(spec: str | Path) -> Source:
    path = Path(spec)
    if path.is_dir() and (path / checkpoint.MANIFEST).exists():
        return Source(str(spec), path.parent.parent, resolve_checkpoint(path))
    if path.is_dir() and is_run_dir(path):
        return Source(str(spec), path, best_or_latest(path))
    return Source(str(spec))


def best_or_latest(run_dir: Path) -> Path:
    """The checkpoint a fine-tuning run selected (best.json), if it is intact; else the newest valid one."""
    best = run_dir / "best.json"
    if best.exists():
        step = json.loads(best.read_text())["step"]
        path = run_dir / "checkpoints" / checkpoint.tag_for(step)
        if path.is_dir() and checkpoint.verify(path) is None:
            return path
    return resolve_checkpoint(run_dir)


def load_model(spec: str | Path) -> ZooModel:
    """The fp32 model for `spec` in eval mode (see the module docstring)."""
    source = locate(spec)
    if source.checkpoint is None:
        import framework

        return framework.load(source.spec)
    return load_checkpoint(source)


def load_checkpoint(source: Source) -> ZooModel:
    config = AutoConfig.from_pretrained(source.run_dir / "model")
    model = resolve_class(config)(config)
    state = consolidated_state_dict(source.checkpoint)
    if has_lora(state):
        lora = (source.run_config().get("model") or {}).get("lora") or {}
        if not lora.get("r"):
            raise FrameworkError(f"{source.checkpoint} holds LoRA adapters but {source.run_dir}/config.yaml has no "
                                 f"model.lora.r to scale them; it is not a fine-tuning run of this framework.")
        state = merge_lora_state(state, lora["alpha"] / lora["r"])
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if k not in model.tied_keys]
    if missing or unexpected:
        raise FrameworkError(f"{source.checkpoint}: checkpoint does not match the run's model: missing "
                             f"{missing[:5]}, unexpected {unexpected[:5]}.")
    model.tie_weights()
    return model.eval()
