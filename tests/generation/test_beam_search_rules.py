"""Beam search on a scripted bigram "model", where the expected hypothesis is worked out by hand."""

import math

import pytest
import torch
from transformers import GenerationMixin, PretrainedConfig, PreTrainedModel
from transformers.modeling_outputs import CausalLMOutputWithPast

from framework.generation import GenerationConfig
from framework.generation.beam_search import beam_search

# next-token probabilities given the last token; tokens 0, 1, 2 are EOS ids, 5 starts the prompt
BIGRAM = {
    5: [0.30, 0.25, 0.20, 0.15, 0.10, 1e-6],
    4: [0.98, 0.005, 0.005, 0.005, 0.004, 1e-6],
    3: [0.05, 1e-6, 1e-6, 0.40, 0.30, 0.25],
}


class BigramStepper:
    """Logits depend on the last token only, so there is no cache to reorder."""

    def __init__(self) -> None:
        table = torch.full((6, 6), 1e-6)
        for prev, probs in BIGRAM.items():
            table[prev] = torch.tensor(probs)
        self.log_probs = table.log()

    def prefill(self, decoder_ids: torch.Tensor) -> torch.Tensor:
        return self.log_probs[decoder_ids[:, -1]]

    def step(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.log_probs[tokens]

    def reorder(self, index: torch.Tensor) -> None:
        pass


class StockBigram(PreTrainedModel, GenerationMixin):
    """The same bigram table as a stock transformers model, to run HF's own beam search on it."""

    config_class = PretrainedConfig

    def __init__(self) -> None:
        super().__init__(PretrainedConfig(vocab_size=6, pad_token_id=5, eos_token_id=[0, 1, 2]))
        self.unused = torch.nn.Parameter(torch.zeros(1))
        self.log_probs = BigramStepper().log_probs
        self.post_init()

    def forward(self, input_ids=None, **_) -> CausalLMOutputWithPast:
        return CausalLMOutputWithPast(logits=self.log_probs[input_ids])


@pytest.mark.parametrize("early_stopping,expected", [("never", [[5, 4, 0]]), (False, [[5, 0]])])
def test_hand_worked_cases_agree_with_stock(early_stopping, expected):
    stock = StockBigram().generate(torch.tensor([[5]]), num_beams=2, max_new_tokens=2, early_stopping=early_stopping,
                                   use_cache=False, do_sample=False)
    assert stock.tolist() == expected


def test_enough_candidates_survive_when_eos_ids_dominate():
    """Three EOS ids take 3 of the top 4 first-step candidates. HF keeps (1 + #eos) * num_beams
    candidates, so the unlikely 5->4 beam survives and its EOS ending wins after length
    normalisation: (log .1 + log .98) / 2 = -1.16 beats the one-token hypothesis log .3 = -1.20
    (and 5->3->3, cut at the length limit, scores -1.41). Keeping only 2 * num_beams candidates
    would lose the 5->4 beam and return [5, 0]."""
    config = GenerationConfig(num_beams=2, eos_token_id=[0, 1, 2], pad_token_id=5, early_stopping="never",
                              max_new_tokens=2)
    prompt = torch.tensor([[5], [5]])  # one example, expanded to its two beams
    out = beam_search(BigramStepper(), prompt, config, processors=[], max_length=3)
    assert out.tolist() == [[5, 4, 0]]
    assert (math.log(0.1) + math.log(0.98)) / 2 > math.log(0.3)


def test_early_stopping_false_stops_when_the_running_beam_cannot_catch_up():
    """With early_stopping=False HF judges the running beams at their current length: after one
    step the best running beam (5->3, log .15) already scores below the finished ones, so search
    ends with the one-token hypothesis."""
    config = GenerationConfig(num_beams=2, eos_token_id=[0, 1, 2], pad_token_id=5, early_stopping=False,
                              max_new_tokens=2)
    out = beam_search(BigramStepper(), torch.tensor([[5], [5]]), config, processors=[], max_length=3)
    assert out.tolist() == [[5, 0]]
