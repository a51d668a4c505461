"""Objectives: collators that turn samples into the batches the zoo's models take.

Packed pretraining (samples from `PackedDataset`): `CausalLMCollator`, `MaskedLMCollator`,
`SpanCorruptionCollator`; each has `sample_length` (raw tokens per sample) and
`num_items(labels)`. Fine-tuning (lists of example dicts): `Seq2SeqCollator`,
`ClassificationCollator`. Every batch carries `num_items`, its number of target tokens.
"""

from framework.data.objectives.causal import CausalLMCollator
from framework.data.objectives.common import positions_from_documents
from framework.data.objectives.finetune import ClassificationCollator, Seq2SeqCollator
from framework.data.objectives.masked import MaskedLMCollator, word_start_table
from framework.data.objectives.span import (SpanCorruptionCollator, compute_input_and_target_lengths,
                                            random_spans_noise_mask)

__all__ = ["CausalLMCollator", "ClassificationCollator", "MaskedLMCollator", "Seq2SeqCollator",
           "SpanCorruptionCollator", "compute_input_and_target_lengths", "positions_from_documents",
           "random_spans_noise_mask", "word_start_table"]
