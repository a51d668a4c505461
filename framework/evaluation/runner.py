"""`evaluate_checkpoint`: what `framework evaluate` runs.

The settings (task, columns, template, lengths, metrics) are the fine-tuning run's own recipe
when CHECKPOINT is a run, one of its checkpoints or its `hf` export, so a split is encoded exactly
as in training; for other models they come from the architecture and `key=value` overrides.
Labels are read from the model config (id2label), so predictions are reported by name.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import yaml

from framework.config import ConfigError, apply_override, from_dict
from framework.data import load_tokenizer
from framework.data.errors import DataError
from framework.errors import FrameworkError
from framework.finetune.checkpoints import load_model, locate
from framework.finetune.config import FinetuneConfig
from framework.finetune.data import LabelSpace, load_splits
from framework.finetune.runner import encode_rows
from framework.finetune.tasks import TaskSpec, build_task

logger = logging.getLogger(__name__)


@dataclass
class Evaluation:
    record: dict  # what goes to the JSON file
    predictions: list[dict]
    results_path: Path


def task_for(architecture: str, is_encoder_decoder: bool) -> str:
    if architecture.endswith("ForSequenceClassification"):
        return "classification"
    if is_encoder_decoder:
        return "seq2seq"
    if architecture.endswith(("ForCausalLM", "LMHeadModel")):
        return "sft"
    raise FrameworkError(f"{architecture} has no evaluation task here: evaluate a classifier, a causal LM or an "
                         f"encoder-decoder.")


def run_recipe(spec: str) -> dict:
    """The fine-tuning recipe behind `spec` (a run, a checkpoint in it, or its hf/ export), else {}."""
    source = locate(spec)
    recipe = source.run_config()
    if not recipe and (Path(spec).parent / "config.yaml").exists():
        recipe = yaml.safe_load((Path(spec).parent / "config.yaml").read_text()) or {}
    return recipe if "task" in recipe else {}


def build_config(spec: str, model, data: str | None, metrics: list[str] | None, overrides: list[str]) -> FinetuneConfig:
    raw = run_recipe(spec)
    if not raw:
        raw = {"run_dir": "", "task": task_for(model.hf_architecture, model.is_encoder_decoder),
               "model": {"init_from": str(spec)}, "data": {"dataset": data or ""}}
    raw = json.loads(json.dumps(raw))  # a private copy
    if data:
        raw["data"]["dataset"] = data
    if metrics:
        raw.setdefault("eval", {})["metrics"] = list(metrics)
    for item in overrides:
        apply_override(raw, item)
    if not raw["data"].get("dataset"):
        raise ConfigError("no data to evaluate on: pass --data FILE_OR_HUB_ID (the checkpoint is not a fine-tuning run "
                          "whose recipe names its data).")
    return from_dict(FinetuneConfig, raw, where=f"evaluate {spec}")


def evaluate_checkpoint(spec: str, *, data: str | None = None, split: str = "test", metrics: list[str] | None = None,
                        overrides: list[str] | None = None, batch_size: int | None = None,
                        max_examples: int = 0, hub_metrics: bool = False, save_predictions: bool = False,
                        out: str | None = None) -> Evaluation:
    from framework.evaluation.predict import evaluate_split

    model = load_model(spec)
    cfg = build_config(spec, model, data, metrics, overrides or [])
    tokenizer = _tokenizer(locate(spec).tokenizer, cfg.model.tokenizer)
    splits = load_splits(cfg)
    if split not in splits:
        raise FrameworkError(f"{cfg.data.dataset} has no '{split}' split here (have {sorted(splits)}); map it with "
                             f"data.splits.{split}=NAME or pick --split from those.")
    labels = LabelSpace.from_config(model.config) if cfg.task == "classification" else None
    task = build_task(cfg, tokenizer, TaskSpec(
        labels=labels, use_token_types=model.config.model_type == "bert",
        decoder_start_id=getattr(model.config, "decoder_start_token_id", None)))
    rows = list(splits[split])
    rows = rows[:max_examples] if max_examples else rows
    examples = encode_rows(task, rows, f"{cfg.data.dataset} [{split}]")
    g = cfg.eval.generation
    result = evaluate_split(task, model, rows, examples, cfg.metrics, batch_size=batch_size or cfg.eval.batch_size,
                            max_new_tokens=g.max_new_tokens, num_beams=g.num_beams, hub=hub_metrics,
                            want_predictions=save_predictions)
    record = {"checkpoint": str(spec), "dataset": cfg.data.dataset, "split": split, "task": cfg.task,
              "num_examples": result.num_examples, "metrics": result.metrics,
              "metric_modules": "hub" if hub_metrics else "local"}
    path = Path(out) if out else results_path(spec, split)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=2))
    if save_predictions:
        pred_path = path.with_name(path.stem + "_predictions.jsonl")
        pred_path.write_text("".join(json.dumps(p) + "\n" for p in result.predictions))
    return Evaluation(record, result.predictions, path)


def _tokenizer(stored: str, fallback: str | None):
    """The tokenizer stored with the model; the recipe's model.tokenizer only when none is."""
    try:
        return load_tokenizer(stored)
    except DataError:
        if not fallback:
            raise
        return load_tokenizer(fallback)


def results_path(spec: str, split: str) -> Path:
    """Next to the checkpoint: inside a run or model folder, beside a committed checkpoint folder
    (whose files its manifest covers), in the working directory for a Hub id."""
    path = Path(spec)
    if path.is_dir() and (path / "manifest.json").exists():
        return path.parent / f"{path.name}.eval_{split}.json"
    if path.is_dir():
        return path / f"eval_{split}.json"
    return Path(f"eval_{split}.json")


def format_table(metrics: dict[str, float]) -> str:
    width = max(len(k) for k in metrics) if metrics else 6
    lines = [f"{'metric':<{width}}  value", f"{'-' * width}  {'-' * 10}"]
    lines += [f"{k:<{width}}  {v:.4f}" for k, v in metrics.items()]
    return "\n".join(lines)
