from framework.models.family import Family
from framework.models.llama.modeling import (
    LlamaDecoderLayer,
    LlamaForCausalLM,
    LlamaForSequenceClassification,
    LlamaModel,
)
from framework.models.llama.presets import PRESETS

FAMILY = Family(
    model_type="llama",
    architectures={
        "LlamaForCausalLM": LlamaForCausalLM,
        "LlamaForSequenceClassification": LlamaForSequenceClassification,
    },
    default="LlamaForCausalLM",
    tasks={"causal-lm": "LlamaForCausalLM", "sequence-classification": "LlamaForSequenceClassification"},
    presets=PRESETS,
)

__all__ = ["FAMILY", "LlamaDecoderLayer", "LlamaForCausalLM", "LlamaForSequenceClassification", "LlamaModel", "PRESETS"]
