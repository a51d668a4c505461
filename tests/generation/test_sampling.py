"""Multinomial sampling: seeded reproducibility, limits that reduce to greedy, HF parity of the filters."""

import pytest
import torch
from transformers.generation.logits_process import (
    NoRepeatNGramLogitsProcessor,
    TopKLogitsWarper,
    TopPLogitsWarper,
)

from framework.generation import ban_repeated_ngrams, generate, top_k_filter, top_p_filter
from tests.generation.parity import MAX_NEW, assert_same
from tests.generation.tiny_models import decoder_prompts, source_batch

SAMPLING = dict(do_sample=True, temperature=0.8, top_k=20, top_p=0.9, max_new_tokens=MAX_NEW)


def test_seeded_sampling_is_reproducible(pairs):
    pair = pairs("gpt2")
    ids, mask = decoder_prompts(pair.pad)
    a = generate(pair.ours, ids, mask, seed=3, **SAMPLING)
    b = generate(pair.ours, ids, mask, seed=3, **SAMPLING)
    c = generate(pair.ours, ids, mask, seed=4, **SAMPLING)
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
    assert not torch.equal(a, generate(pair.ours, ids, mask, max_new_tokens=MAX_NEW))  # it does sample


@pytest.mark.parametrize("family", ["gpt2", "t5"])
def test_seeded_sampling_matches_stock_under_the_same_seed(pairs, family):
    """Our private generator draws what HF draws from the global RNG seeded alike."""
    pair = pairs(family)
    ids, mask = source_batch(pair.pad) if pair.ours.is_encoder_decoder else decoder_prompts(pair.pad)
    ours = generate(pair.ours, ids, mask, seed=5, **SAMPLING)
    torch.manual_seed(5)
    with torch.no_grad():
        stock = pair.stock.generate(ids, attention_mask=mask, **SAMPLING)
    assert_same(ours, stock)


@pytest.mark.parametrize("limit", [dict(top_k=1), dict(top_k=0, top_p=1e-6)])
def test_sampling_reduces_to_greedy(pairs, limit):
    pair = pairs("gpt2")
    ids, mask = decoder_prompts(pair.pad)
    greedy = generate(pair.ours, ids, mask, max_new_tokens=MAX_NEW)
    sampled = generate(pair.ours, ids, mask, max_new_tokens=MAX_NEW, do_sample=True, temperature=1.7, seed=0,
                       **limit)
    assert torch.equal(sampled, greedy)


def _hand_made_logits() -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(5, 12, generator=g) * 2
    logits[1] = torch.tensor([3.0, 3.0, 3.0, 1.0, 1.0, 1.0, 0.0, 0.0, -1.0, -1.0, -2.0, -2.0])  # ties
    logits[2] = 0.0  # uniform
    logits[3, :3] = torch.tensor([9.0, 0.0, -float("inf")])  # peaked, with a banned entry
    return logits


@pytest.mark.parametrize("top_k,keep", [(1, 1), (2, 1), (4, 1), (3, 5), (12, 1), (40, 1)])
def test_top_k_filter_matches_hf(top_k, keep):
    logits = _hand_made_logits()
    expected = TopKLogitsWarper(top_k, min_tokens_to_keep=keep)(None, logits)
    assert torch.equal(top_k_filter(logits, top_k, keep), expected)


@pytest.mark.parametrize("top_p,keep", [(1e-6, 1), (0.3, 1), (0.5, 1), (0.9, 1), (0.999, 1), (0.5, 3), (1.0, 1)])
def test_top_p_filter_matches_hf(top_p, keep):
    logits = _hand_made_logits()
    expected = TopPLogitsWarper(top_p, min_tokens_to_keep=keep)(None, logits)
    got = top_p_filter(logits, top_p, keep)
    assert torch.equal(got, expected)
    assert (got > -float("inf")).sum(dim=1).min() >= keep


@pytest.mark.parametrize("n", [1, 2, 3])
def test_ngram_ban_matches_hf(n):
    g = torch.Generator().manual_seed(n)
    seqs = torch.randint(0, 5, (6, 14), generator=g)  # small alphabet: many repeated n-grams
    scores = torch.randn(6, 7, generator=g)
    expected = NoRepeatNGramLogitsProcessor(n)(seqs, scores)
    got = ban_repeated_ngrams(seqs, scores, n)
    assert torch.equal(got, expected)
    assert (got == -float("inf")).any()
