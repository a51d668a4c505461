import pytest
from transformers import GPT2Config, T5Config

from framework.data.checks import check_model_compatibility, max_positions
from framework.data.errors import IncompatibleModelError, TokenizerMismatchError
from framework.data.recipe import TokenizerConfig
from framework.data.tokenizer import load_tokenizer
from framework.data.tokenizer_train import train_tokenizer


def gpt2(vocab=512, positions=128):
    return GPT2Config(vocab_size=vocab, n_positions=positions, n_layer=1, n_embd=8, n_head=1)


def test_matching_tokenizer_shards_and_length_pass(prepared):
    recipe, index = prepared
    tok = load_tokenizer(recipe.tokenizer.out_dir)
    check_model_compatibility(gpt2(), tokenizer=tok, index=index, seq_len=128)


def test_vocabulary_larger_than_the_model(prepared):
    recipe, index = prepared
    tok = load_tokenizer(recipe.tokenizer.out_dir)
    with pytest.raises(IncompatibleModelError, match="tokenizer has 400 tokens but the gpt2 model's vocab_size is 300"):
        check_model_compatibility(gpt2(vocab=300), tokenizer=tok)
    with pytest.raises(IncompatibleModelError, match="shards were written with a 400-token vocabulary"):
        check_model_compatibility(gpt2(vocab=300), index=index)


def test_shards_from_another_tokenizer(prepared, docs):
    _, index = prepared
    other = train_tokenizer(TokenizerConfig(kind="bpe", vocab_size=390), docs[:5])
    with pytest.raises(TokenizerMismatchError, match="re-prepare"):
        check_model_compatibility(gpt2(), tokenizer=other, index=index)


def test_sequence_longer_than_the_model_supports():
    with pytest.raises(IncompatibleModelError, match="sequence length 256 exceeds the gpt2 model's 128 positions"):
        check_model_compatibility(gpt2(), seq_len=256)
    assert max_positions(T5Config()) is None  # relative positions: no limit
    check_model_compatibility(T5Config(vocab_size=512), seq_len=4096)
