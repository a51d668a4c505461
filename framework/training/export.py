"""Consolidate a run's ZeRO-sharded checkpoint into one model and write the vanilla HF format."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import torch
from transformers import AutoConfig

from framework.errors import FrameworkError
from framework.models.base import ZooModel
from framework.models.registry import resolve_class
from framework.models.tokenizer_files import copy_tokenizer_files
from framework.training import checkpoint

logger = logging.getLogger(__name__)


def is_run_dir(path: Path) -> bool:
    return (path / "model" / "config.json").is_file() and (path / "checkpoints").is_dir()


def resolve_checkpoint(path: Path) -> Path:
    """A run folder (newest valid checkpoint) or one committed checkpoint folder."""
    if (path / checkpoint.MANIFEST).exists():
        problem = checkpoint.verify(path)
        if problem:
            raise FrameworkError(f"checkpoint {path}: {problem}.")
        return path
    found = checkpoint.latest_valid(path / "checkpoints")
    if found is None:
        raise FrameworkError(f"{path} has no valid committed checkpoint under checkpoints/; nothing to export.")
    return found.path


def load_run_model(path: Path) -> ZooModel:
    """The fp32 model of a run's newest valid checkpoint (or of the given checkpoint folder)."""
    ckpt = resolve_checkpoint(path)
    run_dir = ckpt.parent.parent
    config = AutoConfig.from_pretrained(run_dir / "model")
    model = resolve_class(config)(config)
    state = consolidated_state_dict(ckpt)
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if k not in model.tied_keys]
    if missing or unexpected:
        raise FrameworkError(f"{ckpt}: checkpoint does not match the run's model: missing {missing[:5]}, "
                             f"unexpected {unexpected[:5]}.")
    model.tie_weights()
    return model.eval()


def consolidated_state_dict(ckpt: Path) -> dict[str, torch.Tensor]:
    """Full fp32 weights: gathered from ZeRO partitions (stages 1-3) or the stage-0 model file.

    Only called on checkpoints whose SHA-256 manifest verified, so DeepSpeed's pickled files
    are known to be the ones we wrote.
    """
    state = json.loads((ckpt / checkpoint.TRAINER_STATE).read_text())
    stage = state["config"]["train"]["zero_stage"]
    if stage == 0:
        blob = torch.load(ckpt / "mp_rank_00_model_states.pt", map_location="cpu", weights_only=False)
        return {k: v.float() for k, v in blob["module"].items()}
    from deepspeed.utils.zero_to_fp32 import get_fp32_state_dict_from_zero_checkpoint

    return get_fp32_state_dict_from_zero_checkpoint(str(ckpt.parent), tag=ckpt.name)


def export_run(path: Path, out: Path) -> Path:
    """Write `out` as an HF model folder (weights, config, generation config, tokenizer)."""
    model = load_run_model(path)
    model.save_pretrained(out)
    run_dir = resolve_checkpoint(path).parent.parent
    copy_tokenizer_files(run_dir / "model", out)
    logger.info("exported %s to %s", type(model).__name__, out)
    return out
