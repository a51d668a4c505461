from framework.models.family import Family
from framework.models.transformer.modeling import (
    TransformerDecoderLayer,
    TransformerEncoderLayer,
    TransformerForSeq2SeqLM,
)
from framework.models.transformer.presets import PRESETS

FAMILY = Family(
    model_type="marian",
    architectures={"MarianMTModel": TransformerForSeq2SeqLM},
    default="MarianMTModel",
    tasks={"seq2seq-lm": "MarianMTModel"},
    presets=PRESETS,
)

__all__ = ["FAMILY", "PRESETS", "TransformerDecoderLayer", "TransformerEncoderLayer", "TransformerForSeq2SeqLM"]
