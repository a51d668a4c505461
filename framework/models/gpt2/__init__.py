from framework.models.family import Family
from framework.models.gpt2.modeling import GPT2Block, GPT2ForCausalLM, GPT2ForSequenceClassification, GPT2Model
from framework.models.gpt2.presets import PRESETS

FAMILY = Family(
    model_type="gpt2",
    architectures={
        "GPT2LMHeadModel": GPT2ForCausalLM,
        "GPT2ForSequenceClassification": GPT2ForSequenceClassification,
    },
    default="GPT2LMHeadModel",
    tasks={"causal-lm": "GPT2LMHeadModel", "sequence-classification": "GPT2ForSequenceClassification"},
    presets=PRESETS,
)

__all__ = ["FAMILY", "GPT2Block", "GPT2ForCausalLM", "GPT2ForSequenceClassification", "GPT2Model", "PRESETS"]
