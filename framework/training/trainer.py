"""The pretraining loop: DeepSpeed for every run, single process included.

Read it top to bottom: `pretrain` sets up processes, `Trainer.__init__` builds data, model and
engine (resuming if asked), `Trainer.run` steps until done or asked to stop.
"""

from __future__ import annotations

import json
import logging
import math
import random
import shutil
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

from framework.config import dump_yaml
from framework.errors import FrameworkError
from framework.distributed.deepspeed_config import build_deepspeed_config
from framework.distributed.launch import ProcessInfo, default_backend, init_distributed
from framework.training import checkpoint
from framework.training.config import PretrainConfig
from framework.training.data_feed import DataFeed
from framework.training.metrics import MetricsLogger, plot_losses
from framework.training.mfu import detect_peak_flops, flops_per_token, mfu
from framework.training.model_setup import (
    apply_activation_checkpointing, build_model, maybe_compile, model_dims, parameter_count,
)
from framework.training.optim import GuardedAdamW, param_groups
from framework.training.schedules import LRSchedule
from framework.training.stop import StopFlag
from framework.training.validate import TASK_FOR_OBJECTIVE, validate

logger = logging.getLogger(__name__)



class TrainingDiverged(FrameworkError):
    """Too many consecutive non-finite steps; the last good state was checkpointed."""


@dataclass
class TrainerState:
    """What a checkpoint needs besides DeepSpeed's states (written as JSON, never pickled)."""

    step: int = 0
    tokens: int = 0
    skipped_steps: int = 0
    consecutive_bad: int = 0
    data: dict = field(default_factory=dict)


@dataclass
class RunResult:
    status: str  # completed | stopped | early_stopped
    step: int
    tokens: int
    final_loss: float | None
    run_dir: Path
    export_dir: Path | None
    best: dict | None = None  # {"step", "metric", "value"} when TaskHooks.select is set


@dataclass
class TaskHooks:
    """What a fine-tuning task changes in the loop; every field is optional and pretraining uses none.

    loss(engine, inputs, num_items) -> loss: replaces `engine(**inputs, num_items=...).loss`, e.g. to
        weight classes or pass label smoothing.
    evaluate(engine) -> {name: value}: replaces the validation-loss evaluation; it must return the
        same values on every rank (each rank may evaluate the whole split).
    select / mode: the metric (a key of `evaluate`'s result) whose best value picks the checkpoint
        that is kept (never pruned) and exported; `mode` is "max" or "min".
    patience: stop after this many evaluations without improvement of `select` (0: never).
    export(run_dir, best_checkpoint) -> folder: replaces the end-of-run HF export.
    """

    loss: Callable[[Any, dict, Any], torch.Tensor] | None = None
    evaluate: Callable[[Any], dict] | None = None
    select: str | None = None
    mode: str = "max"
    patience: int = 0
    export: Callable[[Path, Path | None], Path] | None = None


def pretrain(cfg: PretrainConfig) -> RunResult:
    backend = default_backend() if cfg.distributed.backend == "auto" else cfg.distributed.backend
    info = init_distributed(backend, cfg.distributed.timeout_s)
    return Trainer(cfg, info).run()


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


class Trainer:
    """`feed`, `model` and `hooks` are injected by fine-tuning (see `framework.finetune`): a feed with
    DataFeed's methods, a model already initialised (heads, LoRA), and the task's `TaskHooks`."""

    def __init__(self, cfg: PretrainConfig, info: ProcessInfo, *, feed=None, model=None,
                 hooks: TaskHooks | None = None) -> None:
        import deepspeed

        self.cfg, self.info = cfg, info
        self.hooks = hooks or TaskHooks()
        self.best: dict | None = None
        self.evals_since_best = 0
        self._last_saved_step: int | None = None
        self.run_dir = Path(cfg.run_dir)
        self.is_main = info.rank == 0
        self.grad_accum = cfg.grad_accum(info.world_size)
        if feed is None:
            validate(cfg)
        seed_everything(cfg.train.seed)

        # Data first: tokenizer/shard/model mismatches fail here, before any model is built.
        self.feed = feed if feed is not None else DataFeed(
            cfg.data, seed=cfg.train.seed, rank=info.rank, world_size=info.world_size,
            micro_batch=cfg.train.micro_batch_size)
        if model is None:
            model = build_model(cfg.model, self.feed.special_ids(), TASK_FOR_OBJECTIVE[cfg.data.objective])
        self.feed.check_model(model.config)
        self.model_config = model.config
        self.n_params = parameter_count(model)
        if cfg.model.activation_checkpointing:
            apply_activation_checkpointing(model)
        model = maybe_compile(model, cfg.model.compile)

        ds_config = build_deepspeed_config(
            micro_batch=cfg.train.micro_batch_size, grad_accum=self.grad_accum, world_size=info.world_size,
            zero_stage=cfg.train.zero_stage, precision=cfg.train.precision, grad_clip=cfg.optim.grad_clip,
            offload_optimizer=cfg.train.offload_optimizer, offload_params=cfg.train.offload_params,
        )
        optimizer = self._optimizer(model)
        schedule = LRSchedule(cfg.optim.schedule, cfg.optim.warmup_steps, cfg.train.max_steps,
                              cfg.optim.min_lr_ratio, cfg.optim.decay_fraction)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
        self.schedule = schedule
        self.engine, _, _, _ = deepspeed.initialize(
            model=model, optimizer=optimizer, lr_scheduler=scheduler, config=ds_config, dist_init_required=False,
        )
        if not isinstance(self.engine, deepspeed.DeepSpeedEngine):
            raise FrameworkError(f"expected a DeepSpeed engine, got {type(self.engine).__name__}")

        self.state = TrainerState()
        self._prepare_run_dir()
        self._maybe_resume()
        layers, width = model_dims(self.model_config)
        self.flops_token = flops_per_token(self.n_params, layers, width, cfg.data.seq_len)
        self.peak_flops = cfg.log.peak_flops or detect_peak_flops()
        self.metrics = MetricsLogger(
            self.run_dir, cfg.train.max_steps, self.state.step, enabled=self.is_main, progress=cfg.log.progress,
            tensorboard=cfg.log.tensorboard, wandb=cfg.log.wandb, config=asdict(cfg),
        )

    # -- setup ----------------------------------------------------------------------------------
    def _optimizer(self, model) -> torch.optim.Optimizer:
        o = self.cfg.optim
        # Frozen parameters (LoRA) can leave a group empty; DeepSpeed drops those, the scheduler must too.
        groups = [g for g in param_groups(model, o.weight_decay) if g["params"]]
        return GuardedAdamW(groups, lr=o.lr, betas=tuple(o.betas), eps=o.eps)

    def _prepare_run_dir(self) -> None:
        if self.is_main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            dump_yaml(self.cfg, self.run_dir / "config.yaml")
            model_dir = self.run_dir / "model"
            model_dir.mkdir(exist_ok=True)
            config = self.model_config.__class__.from_dict(self.model_config.to_dict())
            config.architectures = [self.engine.module.hf_architecture]
            config.save_pretrained(model_dir)
            self.feed.save_tokenizer(model_dir)
        self._barrier()

    def _maybe_resume(self) -> None:
        mode = self.cfg.checkpoint.resume
        if mode == "never":
            return
        if mode == "auto":
            found = checkpoint.latest_valid(self.cfg.checkpoint_dir, collective=True)
        else:
            path = Path(mode)
            problem = checkpoint.verify(path)
            if problem:
                raise FrameworkError(f"checkpoint.resume={mode}: {problem}. Pick another or use resume=auto.")
            found = checkpoint.Committed(path, int(path.name.split("_")[-1]), checkpoint.json.loads(
                (path / checkpoint.TRAINER_STATE).read_text()))
        if found is None:
            return
        saved_world = found.state.get("world_size", self.info.world_size)
        if saved_world != self.info.world_size and self.cfg.train.zero_stage > 0:
            raise FrameworkError(
                f"{found.path} was saved by {saved_world} ranks with ZeRO-{self.cfg.train.zero_stage}; its optimizer "
                f"partitions do not fit {self.info.world_size} ranks. Resume on {saved_world} ranks, or convert it with "
                f"`python -m deepspeed.checkpoint.ds_to_universal` first. ZeRO-0 checkpoints resume on any world size."
            )
        checkpoint.load(self.engine, found)
        # LambdaLR restores the saved schedule's fields; the recipe's (e.g. a longer max_steps) wins.
        self.engine.lr_scheduler.lr_lambdas = [self.schedule] * len(self.engine.lr_scheduler.lr_lambdas)
        saved = found.state
        self.state = TrainerState(step=saved["step"], tokens=saved["tokens"], skipped_steps=saved["skipped_steps"],
                                  consecutive_bad=saved["consecutive_bad"], data=saved["data"])
        self.feed.load_state_dict(saved["data"])
        self.best = saved.get("best")
        self.evals_since_best = saved.get("evals_since_best", 0)
        if self.is_main:
            logger.info("resumed from %s (step %d, %d tokens, saved by %d ranks, now %d)", found.path,
                        self.state.step, self.state.tokens, saved["world_size"], self.info.world_size)

    # -- the loop -------------------------------------------------------------------------------
    def run(self) -> RunResult:
        stop = StopFlag()
        stop.install()
        status, loss = "completed", None
        recent: deque[float] = deque(maxlen=100)
        try:
            while self.state.step < self.cfg.train.max_steps:
                if stop.agreed(self.engine.device):
                    status = "stopped"
                    self.save()
                    logger.info("stop requested (%s): committed step %d", stop.signal_name or "peer", self.state.step)
                    break
                loss = self.train_step(recent)
                self._after_step()
                if self._patience_exhausted():
                    status = "early_stopped"
                    if self._last_saved_step != self.state.step:
                        self.save()
                    logger.info("early stop at step %d: %s has not improved for %d evaluations (best %s)",
                                self.state.step, self.hooks.select, self.evals_since_best, self.best)
                    break
            if status == "completed":
                self.save()
                self.evaluate()
        finally:
            stop.uninstall()
            self.metrics.close()
        done = status in ("completed", "early_stopped")
        export_dir = self._export() if done and self.cfg.export else None
        return RunResult(status, self.state.step, self.state.tokens, loss, self.run_dir, export_dir, self.best)

    def _patience_exhausted(self) -> bool:
        return bool(self.hooks.patience) and self.evals_since_best >= self.hooks.patience

    def train_step(self, recent: deque) -> float | None:
        start = time.perf_counter()
        batches = [self.feed.next_batch() for _ in range(self.grad_accum)]
        local = torch.tensor([float(sum(int(b["num_items"]) for b in batches)),
                              float(sum(b["input_ids"].numel() for b in batches))])
        global_items, global_tokens = self._all_reduce(local).tolist()
        # Loss = sum over every target token of the step / their global count. DeepSpeed divides by
        # accumulation steps and averages over ranks, so scale the normaliser to undo both.
        norm = global_items / (self.grad_accum * self.info.world_size)
        loss_sum = torch.zeros(())
        for batch in batches:
            inputs = {k: v for k, v in batch.items() if k != "num_items"}
            loss = self._forward_loss(inputs, norm)
            if not torch.isfinite(loss):
                loss = loss * float("nan")  # make every gradient non-finite so the update is skipped
            self.engine.backward(loss)
            self.engine.step()
            loss_sum += loss.detach().float() * norm
        mean_loss = self._all_reduce(loss_sum.reshape(1)).item() / global_items
        applied = self.engine.was_step_applied() and math.isfinite(mean_loss)
        self.state.step += 1
        self.state.tokens += int(global_tokens)
        self._track_bad_steps(applied, mean_loss, recent)
        elapsed = time.perf_counter() - start
        self._log_step(mean_loss if applied else float("nan"), global_tokens / elapsed)
        return mean_loss if applied else None

    def _forward_loss(self, inputs: dict, num_items: float) -> torch.Tensor:
        if self.hooks.loss is not None:
            return self.hooks.loss(self.engine, inputs, num_items)
        return self.engine(**inputs, num_items=num_items).loss

    def _track_bad_steps(self, applied: bool, loss: float, recent: deque) -> None:
        if not applied:
            self.state.skipped_steps += 1
            self.state.consecutive_bad += 1
            logger.warning("step %d: non-finite loss, update skipped (%d in a row)", self.state.step,
                           self.state.consecutive_bad)
            if self.state.consecutive_bad >= self.cfg.train.max_bad_steps:
                self.save()
                raise TrainingDiverged(
                    f"{self.state.consecutive_bad} consecutive steps had a non-finite loss (limit "
                    f"train.max_bad_steps={self.cfg.train.max_bad_steps}); the last good state is committed at "
                    f"step {self.state.step}. Lower optim.lr, check the data, or use precision=fp32/bf16."
                )
            return
        self.state.consecutive_bad = 0
        if recent and loss > self.cfg.train.spike_factor * max(recent):
            logger.warning("step %d: loss spike %.4f > %.1f x running max %.4f", self.state.step, loss,
                           self.cfg.train.spike_factor, max(recent))
        recent.append(loss)

    def _after_step(self) -> None:
        step = self.state.step
        if step % self.cfg.checkpoint.every == 0 and step < self.cfg.train.max_steps:
            self.save()
        if self.cfg.log.eval_every and step % self.cfg.log.eval_every == 0 and step < self.cfg.train.max_steps:
            self.evaluate()

    def _log_step(self, loss: float, tokens_per_s: float) -> None:
        if not self.is_main:
            return
        lr = self.engine.get_lr()[0]
        util = mfu(tokens_per_s, self.flops_token, self.peak_flops, self.info.world_size)
        record = {"kind": "train", "step": self.state.step, "loss": loss, "lr": lr, "tokens": self.state.tokens,
                  "tokens_per_s": tokens_per_s, "skipped_steps": self.state.skipped_steps}
        if util is not None:
            record["mfu"] = util
        if self.state.step % self.cfg.log.every == 0 or self.state.step == 1 or not math.isfinite(loss):
            self.metrics.log(record)
        remaining = (self.cfg.train.max_steps - self.state.step) * self.cfg.train.global_batch_size * \
            self.cfg.data.seq_len / max(tokens_per_s, 1e-9)
        postfix = {"loss": f"{loss:.4f}", "lr": f"{lr:.2e}", "tok/s": f"{tokens_per_s:,.0f}",
                   "eta": _fmt_seconds(remaining)}
        if util is not None:
            postfix["mfu"] = f"{100 * util:.1f}%"
        self.metrics.progress(self.state.step, postfix)

    # -- evaluation, checkpoints, export ---------------------------------------------------------
    @torch.no_grad()
    def evaluate(self) -> dict | None:
        if self.hooks.evaluate is not None:
            return self._evaluate_task()
        if not self.cfg.log.eval_batches or not self.feed.has_validation():
            return None
        self.engine.eval()
        total = torch.zeros(2)
        for batch in self.feed.validation_batches(self.cfg.log.eval_batches):
            inputs = {k: v for k, v in batch.items() if k != "num_items"}
            total[0] += self.engine(**inputs, num_items=1).loss.float()
            total[1] += float(batch["num_items"])
        self.engine.train()
        loss_sum, count = self._all_reduce(total).tolist()
        if count == 0:
            return None
        record = {"kind": "eval", "step": self.state.step, "tokens": self.state.tokens,
                  "loss": loss_sum / count, "perplexity": math.exp(min(loss_sum / count, 50))}
        self.metrics.log(record)
        if self.is_main:
            logger.info("step %d validation loss %.4f perplexity %.2f", record["step"], record["loss"],
                        record["perplexity"])
        return record

    def _evaluate_task(self) -> dict:
        """The task's metrics; a better value of `hooks.select` commits this step as the best one."""
        self.engine.eval()
        values = self.hooks.evaluate(self.engine)
        self.engine.train()
        record = {"kind": "eval", "step": self.state.step, "tokens": self.state.tokens, **values}
        self.metrics.log(record)
        if self.is_main:
            shown = ", ".join(f"{k} {v:.4f}" for k, v in values.items() if isinstance(v, (int, float)))
            logger.info("step %d validation: %s", self.state.step, shown)
        if self.hooks.select:
            self._update_best(values)
        return record

    def _update_best(self, values: dict) -> None:
        name = self.hooks.select
        if name not in values:
            raise FrameworkError(f"the selection metric '{name}' is not among the evaluated ones: {sorted(values)}.")
        value = float(values[name])
        better = self.best is None or (value > self.best["value"] if self.hooks.mode == "max"
                                       else value < self.best["value"])
        if not better:
            self.evals_since_best += 1
            return
        self.best = {"step": self.state.step, "metric": name, "value": value}
        self.evals_since_best = 0
        if self._last_saved_step != self.state.step:
            self.save()
        if self.is_main:  # what loaders read: a checkpoint's own state may predate this evaluation
            (self.run_dir / "best.json").write_text(json.dumps(self.best, indent=2))
            self._prune_keeping_best()

    def save(self) -> Path:
        self.state.data = self.feed.state_dict()
        state = asdict(self.state)
        state["config"] = asdict(self.cfg)
        if not self.hooks.select:
            return checkpoint.save(self.engine, self.cfg.checkpoint_dir, self.state.step, state,
                                   self.cfg.checkpoint.keep_last)
        state.update(best=self.best, evals_since_best=self.evals_since_best)
        path = checkpoint.save(self.engine, self.cfg.checkpoint_dir, self.state.step, state, keep_last=0)
        self._last_saved_step = self.state.step
        if self.is_main:
            self._prune_keeping_best()
        return path

    def _prune_keeping_best(self) -> None:
        """keep_last pruning that never removes the best checkpoint."""
        keep = self.cfg.checkpoint.keep_last
        if keep <= 0:
            return
        best_tag = checkpoint.tag_for(self.best["step"]) if self.best else None
        for tag in checkpoint.committed_tags(self.cfg.checkpoint_dir)[:-keep]:
            if tag != best_tag:
                shutil.rmtree(self.cfg.checkpoint_dir / tag, ignore_errors=True)

    def best_checkpoint(self) -> Path | None:
        return self.cfg.checkpoint_dir / checkpoint.tag_for(self.best["step"]) if self.best else None

    def _export(self) -> Path | None:
        out = None
        if self.is_main and self.hooks.export is not None:
            out = self.hooks.export(self.run_dir, self.best_checkpoint())
        elif self.is_main:
            from framework.training.export import export_run

            out = export_run(self.run_dir, self.run_dir / "hf")
            if self.cfg.log.plot:
                plot_losses(self.run_dir / "metrics.jsonl", self.run_dir / "loss.png")
        self._barrier()
        return out

    # -- collectives ----------------------------------------------------------------------------
    def _all_reduce(self, t: torch.Tensor) -> torch.Tensor:
        """Sum over ranks, on the engine's device (NCCL reduces only GPU tensors); returns CPU."""
        if self.info.world_size > 1:
            t = t.to(self.engine.device)
            dist.all_reduce(t)
        return t.cpu()

    def _barrier(self) -> None:
        if self.info.world_size > 1:
            dist.barrier()


def _fmt_seconds(s: float) -> str:
    s = int(s)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"
