"""Decoder-only generation (left-padded batches) equals stock transformers `generate` token for token."""

import pytest
import torch

from framework.generation import generate
from tests.generation.conftest import DECODER_ONLY
from tests.generation.parity import MAX_NEW, SEARCH_CASES, assert_same, both, both_counting_calls, ends_early
from tests.generation.tiny_models import decoder_prompts


@pytest.mark.parametrize("case", list(SEARCH_CASES))
@pytest.mark.parametrize("family", DECODER_ONLY)
def test_matches_stock(pairs, family, case):
    pair = pairs(family)
    ids, mask = decoder_prompts(pair.pad)
    ours, stock = both(pair, ids, mask, **SEARCH_CASES[case])
    assert_same(ours, stock)
    assert torch.equal(ours[:, : ids.shape[1]], ids)  # the prompt comes back first
    new = ours[:, ids.shape[1]:]
    if case in ("greedy", "beam3"):
        assert ends_early(ours, ids.shape[1], pair.eos), "the test model should stop some row early"
    if case.startswith("min-new"):
        assert not (new[:, :5] == pair.eos).any()


@pytest.mark.parametrize("family", DECODER_ONLY)
def test_several_eos_ids(pairs, family):
    pair = pairs(family)
    ids, mask = decoder_prompts(pair.pad)
    greedy = generate(pair.ours, ids, mask, max_new_tokens=MAX_NEW)
    extra = int(greedy[-1, ids.shape[1] + 2])  # a token the model does produce becomes a second EOS
    for settings in ({}, dict(num_beams=3)):
        ours, stock = both(pair, ids, mask, eos_token_id=[pair.eos, extra], **settings)
        assert_same(ours, stock)
        if not settings:  # the last row now stops at its first `extra`
            new = ours[-1, ids.shape[1]:].tolist()
            stop = new.index(extra)
            assert stop < MAX_NEW - 1 and set(new[stop + 1:]) == {pair.pad}


@pytest.mark.parametrize("family", DECODER_ONLY)
def test_stops_when_every_row_ended(pairs, family):
    pair = pairs(family)
    ids, mask = decoder_prompts(pair.pad)
    greedy = generate(pair.ours, ids, mask, max_new_tokens=MAX_NEW)
    new = greedy[:, ids.shape[1]:]
    hit = (new == pair.eos).float().argmax(dim=1)  # first EOS position per row (0 if none)
    row = int(torch.where((new == pair.eos).any(dim=1), hit, MAX_NEW).argmin())
    assert int(hit[row]) < MAX_NEW - 1
    ours, stock = both(pair, ids[row:row + 1], mask[row:row + 1])
    assert_same(ours, stock)
    assert ours.shape[1] == ids.shape[1] + int(hit[row]) + 1 and ours[0, -1] == pair.eos


@pytest.mark.parametrize("family", DECODER_ONLY)
def test_mask_inferred_from_pad_ids(pairs, family):
    pair = pairs(family)
    ids, mask = decoder_prompts(pair.pad)
    ours, stock = both(pair, ids, None)
    assert_same(ours, stock)
    assert torch.equal(ours, generate(pair.ours, ids, mask, max_new_tokens=MAX_NEW))


def test_eos_disabled_runs_to_max_new_tokens(pairs):
    pair = pairs("gpt2")
    ids, mask = decoder_prompts(pair.pad)
    out = generate(pair.ours, ids, mask, max_new_tokens=MAX_NEW, eos_token_id=[])
    assert out.shape == (ids.shape[0], ids.shape[1] + MAX_NEW)
    first_eos_row = int((out[:, ids.shape[1]:] == pair.eos).any(dim=1).float().argmax())
    after = out[first_eos_row, ids.shape[1]:]
    assert (after == pair.eos).any() and not (after[-3:] == pair.pad).all()


def test_runs_in_eval_mode_and_restores_training(pairs):
    pair = pairs("gpt2")
    ids, mask = decoder_prompts(pair.pad)
    reference = generate(pair.ours, ids, mask, max_new_tokens=MAX_NEW)
    pair.ours.train()
    try:
        assert torch.equal(generate(pair.ours, ids, mask, max_new_tokens=MAX_NEW), reference)  # no dropout
        assert pair.ours.training
    finally:
        pair.ours.eval()



@pytest.mark.parametrize("case", ["greedy", "beam3-early", "beam4-lp0.5"])
@pytest.mark.parametrize("family", DECODER_ONLY)
def test_stops_after_as_many_model_calls_as_stock(pairs, family, case):
    pair = pairs(family)
    ids, mask = decoder_prompts(pair.pad)
    ours, stock, calls = both_counting_calls(pair, ids, mask, **SEARCH_CASES[case])
    assert_same(ours, stock)
    assert calls["ours"] == calls["stock"]
