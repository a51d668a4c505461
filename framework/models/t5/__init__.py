from framework.models.family import Family
from framework.models.t5.modeling import T5Block, T5ForConditionalGeneration, T5Stack
from framework.models.t5.presets import PRESETS

FAMILY = Family(
    model_type="t5",
    architectures={"T5ForConditionalGeneration": T5ForConditionalGeneration},
    default="T5ForConditionalGeneration",
    tasks={"seq2seq-lm": "T5ForConditionalGeneration"},
    presets=PRESETS,
)

__all__ = ["FAMILY", "PRESETS", "T5Block", "T5ForConditionalGeneration", "T5Stack"]
