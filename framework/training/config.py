"""Typed pretraining recipe: YAML under recipes/pretrain/, `key=value` overrides, strict checks.

Every impossible combination is rejected here, before any process group or model exists.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from framework.config import ConfigError, load_config


@dataclass
class ModelSection:
    """Args:
    preset: a zoo preset (`framework models` lists them), e.g. gpt2-124m.
    init_from: start from an HF model folder / Hub id instead of random weights.
    config: overrides of the transformers config (e.g. {n_positions: 512, resid_pdrop: 0.0}).
    activation_checkpointing: recompute each declared block in backward to save memory.
    compile: wrap the model with torch.compile.
    """

    preset: str | None = None
    init_from: str | None = None
    config: dict = field(default_factory=dict)
    activation_checkpointing: bool = False
    compile: bool = False

    def __post_init__(self) -> None:
        if bool(self.preset) == bool(self.init_from):
            raise ValueError("model: set exactly one of 'preset' (random init) or 'init_from' (pretrained).")


@dataclass
class DataSection:
    """Args:
    path: folder of prepared shards (`framework data prepare` writes it; holds index.json).
    recipe: a data recipe to prepare into `path` first when it has no index yet.
    tokenizer: tokenizer folder; defaults to the one recorded in the shards' index.
    objective: causal-lm (gpt2, llama), masked-lm (bert), span-corruption (t5, marian).
    seq_len: tokens per training example (encoder length for span corruption).
    document_mask: block attention across packed documents and reset positions (causal-lm).
    """

    path: str = "runs/data"
    recipe: str | None = None
    tokenizer: str | None = None
    objective: Literal["causal-lm", "masked-lm", "span-corruption"] = "causal-lm"
    seq_len: int = 256
    document_mask: bool = True
    mlm_probability: float = 0.15
    whole_word_mask: bool = False
    noise_density: float = 0.15
    mean_span_length: float = 3.0


@dataclass
class OptimSection:
    lr: float = 3e-4
    min_lr_ratio: float = 0.1
    weight_decay: float = 0.1
    betas: list[float] = field(default_factory=lambda: [0.9, 0.95])
    eps: float = 1e-8
    schedule: Literal["cosine", "wsd", "constant"] = "cosine"
    warmup_steps: int = 100
    decay_fraction: float = 0.2
    grad_clip: float = 1.0


@dataclass
class TrainSection:
    """Args:
    max_steps: optimizer steps.
    micro_batch_size: examples per rank per forward.
    global_batch_size: examples per optimizer step across ranks; accumulation fills the gap.
    zero_stage: DeepSpeed ZeRO stage 0-3.
    max_bad_steps: consecutive NaN/inf steps tolerated before stopping with a checkpoint.
    spike_factor: log a warning when the loss exceeds this multiple of its running maximum.
    """

    max_steps: int = 1000
    micro_batch_size: int = 8
    global_batch_size: int = 8
    precision: Literal["fp32", "bf16", "fp16"] = "bf16"
    zero_stage: Literal[0, 1, 2, 3] = 0
    offload_optimizer: bool = False
    offload_params: bool = False
    seed: int = 0
    max_bad_steps: int = 5
    spike_factor: float = 3.0


@dataclass
class CheckpointSection:
    every: int = 1000
    keep_last: int = 3
    resume: str = "auto"  # auto | never | a checkpoint folder


@dataclass
class LogSection:
    every: int = 10
    eval_every: int = 500
    eval_batches: int = 20
    progress: bool = True
    tensorboard: bool = True
    wandb: bool = False
    plot: bool = True
    peak_flops: float | None = None  # per device; detected for known GPUs when unset


@dataclass
class DistributedSection:
    backend: Literal["auto", "gloo", "nccl"] = "auto"
    timeout_s: float = 600.0


@dataclass
class PretrainConfig:
    run_dir: str
    model: ModelSection
    data: DataSection = field(default_factory=DataSection)
    train: TrainSection = field(default_factory=TrainSection)
    optim: OptimSection = field(default_factory=OptimSection)
    checkpoint: CheckpointSection = field(default_factory=CheckpointSection)
    log: LogSection = field(default_factory=LogSection)
    distributed: DistributedSection = field(default_factory=DistributedSection)
    export: bool = True  # write the HF-format model to <run_dir>/hf at the end

    def __post_init__(self) -> None:
        t = self.train
        if t.max_steps < 1 or t.micro_batch_size < 1 or t.global_batch_size < 1:
            raise ValueError("train.max_steps, micro_batch_size and global_batch_size must be >= 1.")
        if t.global_batch_size % t.micro_batch_size:
            raise ValueError(
                f"train.global_batch_size ({t.global_batch_size}) must be a multiple of train.micro_batch_size "
                f"({t.micro_batch_size}) times the number of ranks."
            )
        if t.offload_params and t.zero_stage != 3:
            raise ValueError("train.offload_params needs train.zero_stage=3 (only ZeRO-3 partitions parameters).")
        if t.offload_optimizer and t.zero_stage == 0:
            raise ValueError("train.offload_optimizer needs train.zero_stage >= 1.")
        if self.model.compile and t.zero_stage == 3:
            raise ValueError("model.compile is not supported with ZeRO-3 (parameters are gathered on the fly); "
                             "use zero_stage <= 2 or compile=false.")
        if not 0 <= self.optim.min_lr_ratio <= 1:
            raise ValueError("optim.min_lr_ratio must be within [0, 1].")
        if len(self.optim.betas) != 2:
            raise ValueError("optim.betas must hold two numbers, e.g. [0.9, 0.95].")
        if self.data.seq_len < 2:
            raise ValueError("data.seq_len must be at least 2.")

    def grad_accum(self, world_size: int) -> int:
        return accumulation_steps(self.train.global_batch_size, self.train.micro_batch_size, world_size)

    @property
    def checkpoint_dir(self) -> Path:
        return Path(self.run_dir) / "checkpoints"


def accumulation_steps(global_batch: int, micro_batch: int, world_size: int) -> int:
    """Gradient-accumulation steps for this world size; errors when the batch does not divide."""
    per_step = micro_batch * world_size
    if global_batch % per_step:
        raise ConfigError(
            f"train.global_batch_size={global_batch} is not divisible by micro_batch_size ({micro_batch}) x "
            f"ranks ({world_size}) = {per_step}; change one of them."
        )
    return global_batch // per_step


def load_pretrain_config(path: str | Path | None, overrides: list[str] | None = None) -> PretrainConfig:
    return load_config(PretrainConfig, path, overrides)
