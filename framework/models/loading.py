"""`framework.load`: any HF-format folder or Hub id of a zoo architecture, as a zoo model."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from transformers import AutoConfig

from framework.errors import FrameworkError, UnsupportedModelError
from framework.models import hf_io
from framework.models.base import ZooModel
from framework.models.registry import resolve_class, supported_model_types

logger = logging.getLogger(__name__)

HUB_PATTERNS = ["config.json", "generation_config.json", "*.safetensors", "*.safetensors.index.json"]


def load(path: str | Path, task: str | None = None, num_labels: int | None = None) -> ZooModel:
    """Load a zoo model from an HF-format folder (or Hub id), or from one of our training runs or
    committed checkpoints (ZeRO shards consolidated), weights and config checked.

    `task` picks a head other than the one `config.json` names (e.g. a sequence classifier on top
    of a pretrained causal LM); weights for the new head are initialised and reported, and
    `num_labels` sizes a new classification head.
    """
    folder = _resolve_folder(path)
    from framework.training.export import is_run_dir, load_run_model

    if is_run_dir(folder) or (folder / "manifest.json").exists():
        if task is not None:
            raise FrameworkError("task= applies to HF folders; export the run first (framework export RUN OUT).")
        return load_run_model(folder)
    config = _read_config(folder)
    if num_labels is not None:
        config.num_labels = num_labels
    cls = resolve_class(config, task)
    model = cls(config)
    model.init_weights()
    state = hf_io.load_weights(folder)
    if task is not None:
        state = _keep_known(model, state)
    model.load_hf_state_dict(state, source=str(folder))
    return model.eval()


def _resolve_folder(path: str | Path) -> Path:
    local = Path(path)
    if local.is_dir():
        return local
    if local.exists():
        raise FrameworkError(f"{path} is a file; point at the model folder that holds config.json.")
    text = str(path)
    if text.count("/") == 1 and not text.startswith((".", "/")):
        return _download(text)
    raise FrameworkError(f"{path} does not exist (not a local folder, and not a Hub id like 'org/name').")


def _download(repo_id: str) -> Path:
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(repo_id, allow_patterns=HUB_PATTERNS))
    except Exception as err:  # network, auth, missing repo: one message for people
        raise FrameworkError(
            f"could not fetch '{repo_id}' from the Hub ({type(err).__name__}: {err}). "
            f"Check the id and network, or download it and pass the local folder."
        ) from None


def _read_config(folder: Path):
    cfg_path = folder / "config.json"
    if not cfg_path.exists():
        raise FrameworkError(f"{folder} has no config.json; it is not an HF-format model folder.")
    raw = json.loads(cfg_path.read_text())
    model_type = raw.get("model_type")
    if model_type not in supported_model_types():
        raise UnsupportedModelError(
            f"{cfg_path}: model_type '{model_type}' is not in the zoo; supported: "
            f"{', '.join(supported_model_types())}."
        )
    return AutoConfig.from_pretrained(folder)


def _keep_known(model: ZooModel, state: dict) -> dict:
    """When switching heads, drop the old head's tensors and keep the new head's fresh init."""
    own = model.hf_state_dict()
    kept = {k: v for k, v in state.items() if k in own}
    fresh = sorted(own.keys() - kept.keys())
    if fresh:
        logger.warning("initialised new weights (not in the checkpoint): %s", ", ".join(fresh))
    for key in fresh:
        kept[key] = own[key]
    return kept
