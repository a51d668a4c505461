"""The pretraining/fine-tuning engine: DeepSpeed ZeRO under a loop you can read top to bottom."""
