"""Encoder-decoder generation (padded sources) equals stock transformers `generate` token for token."""

import pytest
import torch

from framework.generation import generate
from tests.generation.conftest import ENCODER_DECODER
from tests.generation.parity import MAX_NEW, SEARCH_CASES, assert_same, both, both_counting_calls, ends_early
from tests.generation.tiny_models import source_batch


@pytest.mark.parametrize("case", list(SEARCH_CASES))
@pytest.mark.parametrize("family", ENCODER_DECODER)
def test_matches_stock(pairs, family, case):
    pair = pairs(family)
    ids, mask = source_batch(pair.pad)
    ours, stock = both(pair, ids, mask, **SEARCH_CASES[case])
    assert_same(ours, stock)
    assert (ours[:, 0] == pair.ours.config.decoder_start_token_id).all()
    if case in ("greedy", "beam3"):
        assert ends_early(ours, 1, pair.eos), "the test model should stop some row early"
    if case.startswith("min-new"):
        assert not (ours[:, 1:6] == pair.eos).any()


@pytest.mark.parametrize("family", ENCODER_DECODER)
def test_without_source_mask(pairs, family):
    pair = pairs(family)
    ids, _ = source_batch(pair.pad)
    for settings in ({}, dict(num_beams=3)):
        ours, stock = both(pair, ids, None, **settings)
        assert_same(ours, stock)


def test_forced_eos_at_max_length(pairs):
    """Marian configs set forced_eos_token_id: a row still running at the limit ends with EOS."""
    pair = pairs("marian")
    assert pair.ours.config.forced_eos_token_id == pair.eos
    ids, mask = source_batch(pair.pad)
    forced = generate(pair.ours, ids, mask, max_new_tokens=MAX_NEW)
    free = generate(pair.ours, ids, mask, max_new_tokens=MAX_NEW, forced_eos_token_id=[])
    assert forced.shape[1] == MAX_NEW + 1 and forced[0, -1] == pair.eos
    assert free[0, -1] != pair.eos and torch.equal(free[:, :-1], forced[:, :-1])


@pytest.mark.parametrize("case", ["greedy", "beam3-early", "beam4-lp0.5"])
@pytest.mark.parametrize("family", ENCODER_DECODER)
def test_stops_after_as_many_model_calls_as_stock(pairs, family, case):
    """Stopping happens at the same step as HF, not merely with the same result."""
    pair = pairs(family)
    ids, mask = source_batch(pair.pad)
    ours, stock, calls = both_counting_calls(pair, ids, mask, **SEARCH_CASES[case])
    assert_same(ours, stock)
    assert calls["ours"] == calls["stock"]
    if (family, case) == ("marian", "beam3-early"):  # every example has num_beams finished hypotheses early
        assert calls["ours"] < MAX_NEW // 2
