"""Fine-tuning any zoo model on the pretraining engine.

    cfg = load_finetune_config("recipes/finetune/bert-sentiment.yaml", ["train.max_steps=100"])
    result, report = finetune(cfg)      # classification | sft | seq2seq; LoRA optional
    model = load_model("runs/finetune/bert-sentiment")   # best checkpoint, LoRA merged

Modules: config (the typed recipe), data (datasets -> checked splits, label names), tasks
(encoding, padding, losses), init (pretrained weights under a new head), lora, feed (the engine's
batches), checkpoints (loading runs / checkpoints / HF folders), runner (the whole run).
"""

from framework.finetune.checkpoints import load_model
from framework.finetune.config import FinetuneConfig, load_finetune_config
from framework.finetune.runner import finetune, prepare

__all__ = ["FinetuneConfig", "finetune", "load_finetune_config", "load_model", "prepare"]
