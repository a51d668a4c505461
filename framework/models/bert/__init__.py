from framework.models.bert.modeling import BertForMaskedLM, BertForSequenceClassification, BertLayer, BertModel
from framework.models.bert.presets import PRESETS
from framework.models.family import Family

FAMILY = Family(
    model_type="bert",
    architectures={
        "BertModel": BertModel,
        "BertForMaskedLM": BertForMaskedLM,
        "BertForSequenceClassification": BertForSequenceClassification,
    },
    default="BertForMaskedLM",
    tasks={"base": "BertModel", "masked-lm": "BertForMaskedLM", "sequence-classification": "BertForSequenceClassification"},
    presets=PRESETS,
)

__all__ = ["FAMILY", "BertForMaskedLM", "BertForSequenceClassification", "BertLayer", "BertModel", "PRESETS"]
