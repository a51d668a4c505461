"""Typed fine-tuning recipe: YAML under recipes/finetune/, `key=value` overrides, strict checks.

The engine sections (train, optim, checkpoint, log, distributed) are the pretraining ones, so a
fine-tuning run steps, checkpoints, resumes and logs exactly like a pretraining run. What is new:
the task, where the weights come from (`model.init_from`), the labelled data and its columns,
LoRA, and the metrics that evaluate the run and select its best checkpoint.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from framework.config import load_config
from framework.training.config import (
    CheckpointSection, DistributedSection, LogSection, OptimSection, TrainSection, accumulation_steps,
)

Task = Literal["classification", "sft", "seq2seq"]

# role -> what the column holds, per task (the recipe maps roles to the dataset's column names)
ROLES: dict[str, tuple[str, ...]] = {
    "classification": ("text", "text_pair", "label"),
    "sft": ("prompt", "response", "system"),
    "seq2seq": ("source", "target"),
}
REQUIRED_ROLES: dict[str, tuple[str, ...]] = {
    "classification": ("text", "label"),
    "sft": ("prompt", "response"),
    "seq2seq": ("source", "target"),
}
DEFAULT_METRICS: dict[str, list[str]] = {
    "classification": ["accuracy", "f1_macro"],
    "sft": ["perplexity"],
    "seq2seq": ["rouge", "sacrebleu"],
}


@dataclass
class LoraSection:
    """Low-rank adapters (Hu et al. 2021): W x + (alpha / r) B A x, with W frozen.

    Args:
    r: adapter rank; 0 disables LoRA (full fine-tuning).
    alpha: scale numerator; the update is scaled by alpha / r.
    dropout: dropout on the adapter's input.
    targets: names of the Linear modules to adapt (suffix match, e.g. `query`, `attn.c_attn`, `q_proj`);
        empty picks the family's attention projections.
    train: modules trained in full besides the adapters (suffix match); the new head is always trained.
    """

    r: int = 0
    alpha: float = 16.0
    dropout: float = 0.0
    targets: list[str] = field(default_factory=list)
    train: list[str] = field(default_factory=list)

    @property
    def enabled(self) -> bool:
        return self.r > 0


@dataclass
class FinetuneModelSection:
    """Args:
    init_from: a pretraining or fine-tuning run folder, one committed checkpoint folder, an HF model
        folder, or a Hub id (`org/name`).
    tokenizer: tokenizer folder or Hub id; defaults to the one stored with the weights.
    config: overrides of the transformers config (e.g. {hidden_dropout_prob: 0.1}).
    """

    init_from: str
    tokenizer: str | None = None
    config: dict = field(default_factory=dict)
    lora: LoraSection = field(default_factory=LoraSection)
    activation_checkpointing: bool = False
    compile: bool = False


@dataclass
class FinetuneDataSection:
    """Args:
    dataset: a `datasets` Hub id (e.g. `imdb`, `glue`), a local csv / jsonl / json / parquet file, or a
        folder of such files (one per split, named after the split).
    name: the dataset's configuration on the Hub (e.g. `sst2` for `glue`).
    columns: role -> column name; roles are text, text_pair, label (classification), prompt, response,
        system (sft), source, target (seq2seq). Unmapped roles use the column of the same name.
    splits: role (train, validation, test) -> split name in the dataset.
    validation_fraction / test_fraction: carved out of train (seeded) when the split is absent.
    labels: label names in id order; read from the dataset (ClassLabel names, or the sorted distinct
        values) when empty. Kept in the model config as id2label / label2id.
    multi_label: the label column holds a list of label names or ids per example (sigmoid + BCE).
    class_weights: per-class loss weights (single-label): a list in label order, or `balanced`.
    max_length: tokens per input (classification text, SFT prompt + response, seq2seq source).
    max_target_length: tokens per seq2seq target.
    template: SFT prompt formatting: `plain` (prompt then response), `chat` (role-tagged turns), or a
        format string with {prompt} (and optionally {system}).
    source_prefix: prepended to every seq2seq source (e.g. `summarize: ` for t5).
    """

    dataset: str
    name: str | None = None
    format: Literal["auto", "csv", "json", "parquet"] = "auto"
    columns: dict[str, str] = field(default_factory=dict)
    splits: dict[str, str] = field(default_factory=lambda: {"train": "train", "validation": "validation",
                                                            "test": "test"})
    validation_fraction: float = 0.0
    test_fraction: float = 0.0
    labels: list[str] = field(default_factory=list)
    multi_label: bool = False
    class_weights: list[float] | Literal["balanced"] | None = None
    max_length: int = 128
    max_target_length: int = 64
    template: str = "plain"
    source_prefix: str = ""
    max_train_examples: int | None = None

    @property
    def seq_len(self) -> int:
        """What the engine reads for its FLOPs and ETA estimates (an upper bound per example)."""
        return self.max_length


@dataclass
class GenerationSection:
    max_new_tokens: int = 32
    num_beams: int = 1


@dataclass
class EvalSection:
    """Args:
    metrics: metric names (see `framework.evaluation.METRICS`); the task's defaults when empty.
    select: the metric that picks the best checkpoint (exported at the end), e.g. `accuracy`
        or `loss`; empty keeps the last.
    mode: whether a larger (`max`) or smaller (`min`) value of `select` is better; `auto` infers it.
    patience: evaluations without improvement of `select` before training stops early; 0 never stops.
    max_examples: cap on validation examples per evaluation (generation is slow); 0 for all.
    """

    metrics: list[str] = field(default_factory=list)
    select: str | None = None
    mode: Literal["auto", "max", "min"] = "auto"
    patience: int = 0
    max_examples: int = 0
    batch_size: int = 16
    generation: GenerationSection = field(default_factory=GenerationSection)


@dataclass
class CardSection:
    """Model card metadata for export: licence, datasets and language for the YAML header;
    pipeline_tag overrides the one read from the architecture (e.g. summarization, translation)."""

    license: str = "apache-2.0"
    pipeline_tag: Literal["text-classification", "fill-mask", "text-generation", "text2text-generation",
                          "summarization", "translation"] | None = None
    datasets: list[str] = field(default_factory=list)
    language: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)


@dataclass
class FinetuneTrainSection(TrainSection):
    """The pretraining train section with fine-tuning defaults (fp32, 100 steps), plus `epochs`:
    when set, max_steps is derived from it and the size of the training split."""

    max_steps: int = 100
    precision: Literal["fp32", "bf16", "fp16"] = "fp32"
    epochs: float | None = None
    label_smoothing: float = 0.0  # seq2seq: 0.1 in "Attention Is All You Need"


@dataclass
class FinetuneOptimSection(OptimSection):
    """The pretraining optimizer section with the usual fine-tuning defaults (BERT paper: 5e-5,
    a constant schedule unless set, weight decay 0.01)."""

    lr: float = 5e-5
    weight_decay: float = 0.01
    betas: list[float] = field(default_factory=lambda: [0.9, 0.999])
    schedule: Literal["cosine", "wsd", "constant"] = "constant"
    warmup_steps: int = 0


@dataclass
class FinetuneLogSection(LogSection):
    eval_every: int = 50


@dataclass
class FinetuneConfig:
    run_dir: str
    task: Task
    model: FinetuneModelSection
    data: FinetuneDataSection
    train: FinetuneTrainSection = field(default_factory=FinetuneTrainSection)
    optim: FinetuneOptimSection = field(default_factory=FinetuneOptimSection)
    eval: EvalSection = field(default_factory=EvalSection)
    checkpoint: CheckpointSection = field(default_factory=CheckpointSection)
    log: FinetuneLogSection = field(default_factory=FinetuneLogSection)
    distributed: DistributedSection = field(default_factory=DistributedSection)
    card: CardSection = field(default_factory=CardSection)
    export: bool = True  # write the HF-format model (best checkpoint, LoRA merged) to <run_dir>/hf

    def __post_init__(self) -> None:
        self._check_train()
        self._check_data()
        self._check_eval()
        lora = self.model.lora
        if lora.r < 0 or (lora.enabled and lora.alpha <= 0):
            raise ValueError("model.lora.r must be >= 0 and model.lora.alpha > 0.")

    def _check_train(self) -> None:
        t = self.train
        if t.max_steps < 1 or t.micro_batch_size < 1 or t.global_batch_size < 1:
            raise ValueError("train.max_steps, micro_batch_size and global_batch_size must be >= 1.")
        if t.global_batch_size % t.micro_batch_size:
            raise ValueError(f"train.global_batch_size ({t.global_batch_size}) must be a multiple of "
                             f"train.micro_batch_size ({t.micro_batch_size}) times the number of ranks.")
        if t.epochs is not None and t.epochs <= 0:
            raise ValueError("train.epochs must be > 0 (or left out to use train.max_steps).")
        if t.offload_params and t.zero_stage != 3:
            raise ValueError("train.offload_params needs train.zero_stage=3.")
        if t.offload_optimizer and t.zero_stage == 0:
            raise ValueError("train.offload_optimizer needs train.zero_stage >= 1.")
        if not 0 <= t.label_smoothing < 1:
            raise ValueError("train.label_smoothing must be within [0, 1).")
        if t.label_smoothing and self.task != "seq2seq":
            raise ValueError("train.label_smoothing applies to task seq2seq (token-level targets).")
        if len(self.optim.betas) != 2:
            raise ValueError("optim.betas must hold two numbers, e.g. [0.9, 0.999].")

    def _check_data(self) -> None:
        d = self.data
        unknown = sorted(set(d.columns) - set(ROLES[self.task]))
        if unknown:
            raise ValueError(f"data.columns: {unknown} are not roles of task '{self.task}'; "
                             f"valid roles: {list(ROLES[self.task])}.")
        bad_splits = sorted(set(d.splits) - {"train", "validation", "test"})
        if bad_splits:
            raise ValueError(f"data.splits: keys must be train, validation or test, not {bad_splits}.")
        for name in ("validation_fraction", "test_fraction"):
            if not 0 <= getattr(d, name) < 1:
                raise ValueError(f"data.{name} must be within [0, 1).")
        if d.max_length < 2 or d.max_target_length < 1:
            raise ValueError("data.max_length must be >= 2 and data.max_target_length >= 1.")
        if self.task != "classification" and (d.labels or d.multi_label or d.class_weights):
            raise ValueError(f"data.labels, multi_label and class_weights apply to classification, not '{self.task}'.")
        if d.multi_label and d.class_weights is not None:
            raise ValueError("data.class_weights apply to single-label classification; drop them or multi_label.")
        if isinstance(d.class_weights, list) and d.labels and len(d.class_weights) != len(d.labels):
            raise ValueError(f"data.class_weights has {len(d.class_weights)} entries for {len(d.labels)} labels.")

    def _check_eval(self) -> None:
        from framework.evaluation.metrics import check_metric_names

        check_metric_names(self.metrics, self.task)
        e = self.eval
        if e.select and e.select != "loss" and e.select not in self.metric_keys():
            raise ValueError(f"eval.select='{e.select}' is not produced by eval.metrics {self.metrics}; "
                             f"choose one of {['loss', *self.metric_keys()]}.")
        if e.patience < 0 or e.max_examples < 0 or e.batch_size < 1:
            raise ValueError("eval.patience and eval.max_examples must be >= 0, eval.batch_size >= 1.")
        if e.patience and not e.select:
            raise ValueError("eval.patience (early stopping) needs eval.select, the metric to watch.")

    @property
    def metrics(self) -> list[str]:
        return list(self.eval.metrics) or list(DEFAULT_METRICS[self.task])

    def metric_keys(self) -> list[str]:
        from framework.evaluation.metrics import result_keys

        return [key for name in self.metrics for key in result_keys(name)]

    @property
    def select_mode(self) -> str:
        if self.eval.mode != "auto":
            return self.eval.mode
        return "min" if self.eval.select in ("loss", "perplexity") else "max"

    def column(self, role: str) -> str:
        return self.data.columns.get(role, role)

    def resolve_max_steps(self, num_train: int) -> int:
        """Optimizer steps for `train.epochs` over `num_train` examples (or `train.max_steps`)."""
        if self.train.epochs is None:
            return self.train.max_steps
        return max(1, math.ceil(self.train.epochs * num_train / self.train.global_batch_size))

    def grad_accum(self, world_size: int) -> int:
        return accumulation_steps(self.train.global_batch_size, self.train.micro_batch_size, world_size)

    @property
    def checkpoint_dir(self) -> Path:
        return Path(self.run_dir) / "checkpoints"


def load_finetune_config(path: str | Path | None, overrides: list[str] | None = None) -> FinetuneConfig:
    return load_config(FinetuneConfig, path, overrides)
