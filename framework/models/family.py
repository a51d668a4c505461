"""A family's declaration: what the registry needs to know about one architecture."""

from __future__ import annotations

from dataclasses import dataclass, field

from framework.models.base import ZooModel


@dataclass(frozen=True)
class Family:
    """One zoo family (e.g. `gpt2`).

    architectures: stock transformers class name -> our class (what `config.architectures` says)
    default: the stock class name used when config.json names none
    tasks: task name ("causal-lm", "masked-lm", "seq2seq-lm", "sequence-classification", "base")
        -> stock class name
    presets: preset name -> config kwargs
    aliases: other stock class names that load as one of ours (e.g. "GPT2Model")
    """

    model_type: str
    architectures: dict[str, type[ZooModel]]
    default: str
    tasks: dict[str, str]
    presets: dict[str, dict]
    aliases: dict[str, str] = field(default_factory=dict)
