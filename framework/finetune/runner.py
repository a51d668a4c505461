"""`finetune(cfg)`: data, tokenizer and labels checked first; then the model (pretrained weights under
the task's head, optionally LoRA); then the pretraining engine with the task's hooks; at the end
the best checkpoint is exported (LoRA merged), evaluated on the test split, and given a model card.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

from transformers import AutoConfig, PretrainedConfig

from framework.data import load_tokenizer
from framework.data.errors import DataError
from framework.finetune import data as fdata
from framework.finetune.checkpoints import locate
from framework.finetune.config import FinetuneConfig
from framework.finetune.data import LabelSpace
from framework.finetune.init import check_head, initialise, local_model_type
from framework.finetune.tasks import Task, TaskSpec, build_task

logger = logging.getLogger(__name__)


@dataclass
class Prepared:
    """Everything known before a model exists: tokenizer, task, encoded splits."""

    cfg: FinetuneConfig
    tokenizer: object
    tokenizer_dir: str | None  # copied verbatim into run folders and exports; None: save_pretrained
    task: Task
    rows: dict[str, list[dict]] = field(default_factory=dict)
    examples: dict[str, list[dict]] = field(default_factory=dict)
    labels: LabelSpace | None = None


def validate(cfg: FinetuneConfig) -> None:
    """Static checks (no data, no weights): the init_from model has the task's head."""
    model_type = local_model_type(cfg.model.init_from)
    if model_type is not None:
        check_head(cfg, model_type)


def source_config(spec: str) -> PretrainedConfig:
    source = locate(spec)
    folder = source.run_dir / "model" if source.run_dir else spec
    if str(spec).startswith((".", "/")) and not Path(spec).exists():
        raise DataError(f"model.init_from={spec} does not exist; give a run folder, a checkpoint, an HF model folder "
                        f"or a Hub id (org/name).")
    try:
        return AutoConfig.from_pretrained(folder)
    except (OSError, ValueError) as err:
        raise DataError(f"model.init_from={spec}: no model config there ({str(err).splitlines()[0]}). Give a run "
                        f"folder, a checkpoint, an HF model folder or a Hub id.") from None


def prepare(cfg: FinetuneConfig) -> Prepared:
    validate(cfg)
    model_config = source_config(cfg.model.init_from)
    tokenizer_dir = cfg.model.tokenizer or locate(cfg.model.init_from).tokenizer
    tokenizer = load_tokenizer(tokenizer_dir)
    if tokenizer.pad_token is None and tokenizer.eos_token is not None and cfg.task != "seq2seq":
        logger.info("the tokenizer has no pad token; padding with eos %r (padding is masked out)", tokenizer.eos_token)
        tokenizer.pad_token = tokenizer.eos_token  # GPT-2 / Llama checkpoints; their configs get this pad id
        tokenizer_dir = None  # saved with save_pretrained from now on, so exports keep the pad token
    splits = fdata.load_splits(cfg)
    if cfg.eval.select and "validation" not in splits:
        raise DataError(f"eval.select={cfg.eval.select} needs a validation split; map data.splits.validation or set "
                        f"data.validation_fraction.")
    labels = fdata.label_space(cfg, splits["train"]) if cfg.task == "classification" else None
    rows = {role: list(split) for role, split in splits.items()}
    weights = None
    if labels is not None and not labels.multi_label:
        column = cfg.column("label")
        ids = [labels.encode(row[column], f"{cfg.data.dataset} [train] row {i}") for i, row in enumerate(rows["train"])]
        weights = fdata.class_weights(cfg, labels, ids)
    spec = TaskSpec(labels=labels, class_weights=weights, label_smoothing=cfg.train.label_smoothing,
                    use_token_types=model_config.model_type == "bert",
                    decoder_start_id=getattr(model_config, "decoder_start_token_id", None))
    task = build_task(cfg, tokenizer, spec)
    examples = {role: encode_rows(task, rows[role], f"{cfg.data.dataset} [{role}]") for role in rows}
    return Prepared(cfg, tokenizer, tokenizer_dir and str(tokenizer_dir), task, rows, examples, labels)


def encode_rows(task: Task, rows: list[dict], where: str) -> list[dict]:
    return [task.encode(row, f"{where} row {i}") for i, row in enumerate(rows)]


def finetune(cfg: FinetuneConfig):
    from framework.distributed.launch import default_backend, init_distributed
    from framework.training.trainer import Trainer, seed_everything

    prepared = prepare(cfg)  # every data error surfaces here, before processes and weights
    cfg.train.max_steps = cfg.resolve_max_steps(len(prepared.examples["train"]))
    seed_everything(cfg.train.seed)  # new heads and adapters: the same on every rank and every run
    model, report = initialise(cfg, prepared.tokenizer, prepared.labels)
    if cfg.model.lora.enabled:
        report.lora = _apply_lora(cfg, model, report.new_weights)
    backend = default_backend() if cfg.distributed.backend == "auto" else cfg.distributed.backend
    info = init_distributed(backend, cfg.distributed.timeout_s)
    feed = _feed(prepared, info)
    trainer = Trainer(cfg, info, feed=feed, model=model, hooks=_hooks(prepared))
    if info.rank == 0:
        report.write(Path(cfg.run_dir) / "init_report.json")
    result = trainer.run()
    return result, report


def _feed(prepared: Prepared, info):
    from framework.finetune.feed import FinetuneFeed

    cfg = prepared.cfg
    validation = prepared.examples.get("validation", [])
    return FinetuneFeed(prepared.task, prepared.examples["train"], validation, tokenizer_dir=prepared.tokenizer_dir,
                        seed=cfg.train.seed, rank=info.rank, world_size=info.world_size,
                        micro_batch=cfg.train.micro_batch_size)


def _apply_lora(cfg: FinetuneConfig, model, new_weights: list[str]) -> dict:
    from framework.finetune.lora import apply_lora

    lora = cfg.model.lora
    heads = sorted({key.rsplit(".", 1)[0] for key in new_weights})  # the new head always trains
    return apply_lora(model, r=lora.r, alpha=lora.alpha, dropout=lora.dropout, targets=lora.targets,
                      trainable=[*heads, *lora.train])


def _hooks(prepared: Prepared):
    from framework.training.trainer import TaskHooks

    cfg, task = prepared.cfg, prepared.task
    has_validation = bool(prepared.examples.get("validation"))
    return TaskHooks(
        loss=task.loss,
        evaluate=(lambda engine: _validate(prepared, engine.module)) if has_validation else None,
        select=cfg.eval.select, mode=cfg.select_mode, patience=cfg.eval.patience,
        export=lambda run_dir, best: export_finetuned(prepared, run_dir, best),
    )


def _limit(items: list, n: int) -> list:
    return items[:n] if n else items


def _validate(prepared: Prepared, model) -> dict:
    from framework.evaluation.predict import evaluate_split

    cfg, e = prepared.cfg, prepared.cfg.eval
    rows = _limit(prepared.rows["validation"], e.max_examples)
    examples = _limit(prepared.examples["validation"], e.max_examples)
    result = evaluate_split(prepared.task, model, rows, examples, cfg.metrics, batch_size=e.batch_size,
                            max_new_tokens=e.generation.max_new_tokens, num_beams=e.generation.num_beams)
    return result.metrics


def export_finetuned(prepared: Prepared, run_dir: Path, best: Path | None) -> Path:
    """run_dir/hf from the best checkpoint (or the last): weights with LoRA merged, tokenizer, test-split
    metrics (run_dir/eval_test.json) and the model card."""
    from framework.evaluation.predict import evaluate_split
    from framework.finetune.checkpoints import load_model
    from framework.hub.card import write_model_card

    model = load_model(best or run_dir)
    out = run_dir / "hf"
    model.save_pretrained(out)
    if not _copy_tokenizer(prepared, out):
        prepared.tokenizer.save_pretrained(out)
    cfg, e = prepared.cfg, prepared.cfg.eval
    if prepared.examples.get("test"):
        result = evaluate_split(prepared.task, model, prepared.rows["test"], prepared.examples["test"], cfg.metrics,
                                batch_size=e.batch_size, max_new_tokens=e.generation.max_new_tokens,
                                num_beams=e.generation.num_beams)
        record = {"split": "test", "checkpoint": str(best or run_dir), "num_examples": result.num_examples,
                  "metrics": result.metrics}
        (run_dir / "eval_test.json").write_text(json.dumps(record, indent=2))
        logger.info("test split: %s", result.metrics)
    write_model_card(out, run_dir)
    return out


def _copy_tokenizer(prepared: Prepared, out: Path) -> bool:
    from framework.models.tokenizer_files import copy_tokenizer_files

    src = prepared.tokenizer_dir
    return src is not None and Path(src).is_dir() and bool(copy_tokenizer_files(Path(src), out))
