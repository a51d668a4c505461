"""The model a fine-tuning run starts from: pretrained weights under the task's head.

`init_from` may be a pretraining or fine-tuning run, one committed checkpoint, an HF folder or a
Hub id. The weights are read through the zoo, the config gets the run's changes (label names,
dropout, special ids), and every tensor the head does not share with the checkpoint is freshly
initialised and reported, e.g. `classifier.weight` on top of a masked LM.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path

from framework.config import ConfigError
from framework.data.checks import check_model_compatibility
from framework.errors import UnsupportedModelError, WeightsMismatchError
from framework.finetune.checkpoints import load_model, locate
from framework.finetune.config import FinetuneConfig
from framework.finetune.data import LabelSpace
from framework.finetune.tasks import HF_TASK
from framework.models.base import ZooModel
from framework.models.registry import family_of, resolve_class

logger = logging.getLogger(__name__)

DECODER_TYPES = ("gpt2", "llama")


@dataclass
class InitReport:
    source: str
    architecture: str
    new_weights: list[str] = field(default_factory=list)  # initialised here (a new head)
    dropped_weights: list[str] = field(default_factory=list)  # in the checkpoint, not used (an old head)
    lora: dict | None = None

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=2))


def check_head(cfg: FinetuneConfig, model_type: str) -> None:
    """A clear error when the model family has no head for the task."""
    family = family_of(model_type)
    task = HF_TASK[cfg.task]
    if task not in family.tasks:
        fits = sorted(t for t, f in _families_with(task))
        raise ConfigError(
            f"model.init_from={cfg.model.init_from} is a {model_type} model, which has no '{task}' head for task "
            f"'{cfg.task}' (it has {', '.join(sorted(family.tasks))}). Families with one: {', '.join(fits)}.")


def _families_with(task: str):
    from framework.models.registry import FAMILIES

    return [(name, f) for name, f in FAMILIES.items() if task in f.tasks]


def local_model_type(spec: str) -> str | None:
    """The model_type of a local init_from (run, checkpoint or HF folder) without loading weights."""
    source = locate(spec)
    folder = source.run_dir / "model" if source.run_dir else Path(spec)
    config = folder / "config.json"
    return json.loads(config.read_text()).get("model_type") if config.is_file() else None


def initialise(cfg: FinetuneConfig, tokenizer, labels: LabelSpace | None) -> tuple[ZooModel, InitReport]:
    base = load_model(cfg.model.init_from)
    check_head(cfg, base.config.model_type)
    config = _task_config(cfg, base, tokenizer, labels)
    check_model_compatibility(config, tokenizer=tokenizer)
    try:
        cls = resolve_class(config, HF_TASK[cfg.task])
    except UnsupportedModelError as err:
        raise ConfigError(f"model.init_from={cfg.model.init_from}: {err}") from None
    model = cls(config)
    model.init_weights()
    report = _load_shared(model, base, cfg.model.init_from)
    if report.new_weights:
        logger.warning("initialised new weights (not in %s): %s", cfg.model.init_from, ", ".join(report.new_weights))
    return model.train(), report


def _task_config(cfg: FinetuneConfig, base: ZooModel, tokenizer, labels: LabelSpace | None):
    config = base.config.__class__.from_dict(base.config.to_dict())
    for key, value in cfg.model.config.items():
        setattr(config, key, value)
    if labels is not None:
        wanted = cfg.model.config.get("num_labels")
        if wanted is not None and wanted != labels.num_labels:
            raise ConfigError(f"model.config.num_labels={wanted} but the data has {labels.num_labels} labels "
                              f"{labels.names}; drop num_labels or fix data.labels.")
        for key, value in labels.config_fields().items():
            setattr(config, key, value)
    _align_pad(cfg, config, tokenizer)
    return config


def _align_pad(cfg: FinetuneConfig, config, tokenizer) -> None:
    """Batches are padded with the tokenizer's pad id; a decoder classifier finds its last token by
    it, so the model must agree (HF checkpoints of decoders often have none: it is set)."""
    tok_pad, model_pad = tokenizer.pad_token_id, getattr(config, "pad_token_id", None)
    if model_pad is None:
        config.pad_token_id = tok_pad
    elif model_pad != tok_pad and (cfg.task == "classification" or config.model_type not in DECODER_TYPES):
        raise ConfigError(f"the tokenizer pads with id {tok_pad} but the model's pad_token_id is {model_pad}; they "
                          f"must agree. Use the tokenizer the model was trained with (model.tokenizer).")


def _load_shared(model: ZooModel, base: ZooModel, source: str) -> InitReport:
    """Copy every tensor the checkpoint and the new model share; keep the fresh init for the rest."""
    old, own = base.hf_state_dict(), model.hf_state_dict()
    kept = {}
    for key, tensor in old.items():
        if key not in own:
            continue
        if tensor.shape != own[key].shape:
            if not _is_head(model, key):
                raise WeightsMismatchError(f"{source}: '{key}' has shape {tuple(tensor.shape)} but the model expects "
                                           f"{tuple(own[key].shape)}; model.config changes the architecture.")
            continue  # a head with another number of labels: re-initialised
        kept[key] = tensor
    model.load_hf_state_dict({**own, **kept}, source=source)
    return InitReport(source, model.hf_architecture, sorted(own.keys() - kept.keys()), sorted(old.keys() - own.keys()))


def _is_head(model: ZooModel, key: str) -> bool:
    return key.startswith(("classifier.", "score."))
