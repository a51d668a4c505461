"""The data path: corpora -> tokenizer -> packed token shards -> batches for the engine.

Preparing (offline, `framework tokenizer train` / `framework data prepare RECIPE`):
    recipe = load_recipe("recipes/data/embedded-bpe.yaml", ["prepare.num_proc=2"])
    train_from_recipe(recipe)              # tokenizer folder in recipe.tokenizer.out_dir
    index_path = prepare(recipe)           # shards + index.json in recipe.prepare.out_dir
    embedded_corpus() -> Path              # the built-in corpus (Python docs), built on first use

Training (what the engine uses), on every rank, with no per-node cache:
    check_model_compatibility(model.config, tokenizer=tok, index=index_path, seq_len=L)
    collator = CausalLMCollator(L)         # or MaskedLMCollator.from_tokenizer(tok, L),
                                           #    SpanCorruptionCollator.from_tokenizer(tok, L)
    train = PackedDataset(index_path, collator.sample_length, split="train")
    loader = PackedLoader(train, collator, seed=0)
    loader.load_state_dict(ckpt["data"])   # resume: the global cursor (+ checks)
    for batch in loader.batches(rank, world_size, micro_batch):
        ...                                # batch: dict of tensors, keys the zoo's models accept
    ckpt["data"] = loader.state_dict()     # {"cursor", "seed", "shuffle", "num_samples", "fingerprint"}
    val = PackedLoader(PackedDataset(index_path, collator.sample_length, "validation"), collator)
    for batch in val.eval_batches(rank, world_size, micro_batch): ...

Batches hold `input_ids`, `labels` and, per objective, `attention_mask`, `position_ids`,
`document_ids` (block-diagonal packed attention), `token_type_ids`, `decoder_input_ids`, plus
`num_items`: the micro-batch's target-token count. To normalise the loss over accumulation
steps and ranks, pass `num_items=loss_divisor(global_num_items(micro_batches), world_size,
accumulation_steps)` to the model (see `framework.data.loss_scale`).

Fine-tuning batches (dynamic padding) come from `Seq2SeqCollator` and `ClassificationCollator`.
"""

from framework.data.checks import check_model_compatibility, max_positions
from framework.data.dataset import PackedDataset, Sample
from framework.data.embedded import embedded_corpus
from framework.data.errors import CorruptShardError, DataError, IncompatibleModelError, TokenizerMismatchError
from framework.data.loader import PackedLoader
from framework.data.loss_scale import global_num_items, loss_divisor
from framework.data.objectives import (CausalLMCollator, ClassificationCollator, MaskedLMCollator, Seq2SeqCollator,
                                       SpanCorruptionCollator)
from framework.data.pipeline import merge, prepare
from framework.data.recipe import DataRecipe, PrepareConfig, SourceConfig, TokenizerConfig, load_recipe
from framework.data.shards import load_index, verify_index
from framework.data.tokenizer import load_tokenizer, tokenizer_hash
from framework.data.tokenizer_train import train_from_recipe, train_tokenizer

__all__ = [
    "CausalLMCollator", "ClassificationCollator", "CorruptShardError", "DataError", "DataRecipe",
    "IncompatibleModelError", "MaskedLMCollator", "PackedDataset", "PackedLoader", "PrepareConfig", "Sample",
    "Seq2SeqCollator", "SourceConfig", "SpanCorruptionCollator", "TokenizerConfig", "TokenizerMismatchError",
    "check_model_compatibility", "embedded_corpus", "global_num_items", "load_index", "load_recipe",
    "load_tokenizer", "loss_divisor", "max_positions", "merge", "prepare", "tokenizer_hash", "train_from_recipe",
    "train_tokenizer", "verify_index",
]
