"""Beam search with the exact semantics of transformers 5.x `_beam_search` (do_sample=False).

Per example, K = num_beams running hypotheses and up to K finished ones are kept:

1. every running beam's log-softmax scores (after the processors) are added to its running
   score, and the best 2K candidates (more with several EOS ids) are taken over all beams;
2. a candidate ending in EOS, or reaching `max_length`, is done: it may enter the finished set,
   but only if it ranks among the top K candidates, scored as sum-logprob / generated_len **
   length_penalty (generated_len excludes the decoder prompt, i.e. the decoder-only prompt or
   the decoder start token);
3. the best K candidates that are not done become the new running beams, and the cache follows;
4. search stops when no example can improve its finished set (HF's early-stopping heuristic:
   `early_stopping=True` stops an example once K hypotheses are finished, False compares the
   best running score at the current length, "never" at the best reachable length when
   length_penalty > 0), or when every candidate is done.

The result is each example's best finished hypothesis, cut to the longest one in the batch and
padded with HF's fill value (see `_fill_value`). The arithmetic (float32 scores, -1e9 masking,
the order of additions, `topk` over the same shapes) mirrors HF so that ties break identically.
"""

from __future__ import annotations

import torch

from framework.generation.config import GenerationConfig
from framework.generation.processors import Processor, apply_processors
from framework.generation.steppers import Stepper

_NEG = -1.0e9


def beam_search(stepper: Stepper, prompt: torch.Tensor, config: GenerationConfig, processors: list[Processor],
                max_length: int) -> torch.Tensor:
    """(B*K, L0) prompt, beams of one example adjacent -> (B, L0 + T) best hypothesis per example."""
    K, lp, early = config.num_beams, config.length_penalty, config.early_stopping
    BK, L0 = prompt.shape
    B, device = BK // K, prompt.device
    eos = torch.tensor(config.eos_ids, dtype=torch.long, device=device)
    n_keep = max(2, 1 + len(config.eos_ids)) * K  # enough candidates that K survive even if K end in EOS
    in_top_k = torch.arange(n_keep, device=device) < K  # (n_keep,)
    batch_offset = torch.arange(B, device=device)[:, None] * K  # (B, 1)

    running = torch.full((B, K, max_length), _fill_value(config), dtype=torch.long, device=device)
    running[:, :, :L0] = prompt.view(B, K, L0)
    running_scores = torch.zeros(B, K, device=device)
    running_scores[:, 1:] = _NEG  # all beams start identical: only the first one may expand
    finished = running.clone()
    finished_scores = torch.full((B, K), _NEG, device=device)
    finished_len = torch.zeros(B, K, dtype=torch.long, device=device)  # generated tokens, EOS included
    is_finished = torch.zeros(B, K, dtype=torch.bool, device=device)
    can_improve = torch.ones(B, 1, dtype=torch.bool, device=device)

    cur_len = L0
    logits = stepper.prefill(prompt)
    while True:
        # 1. best candidates over all beams of an example
        log_probs = torch.log_softmax(logits, dim=-1)
        log_probs = apply_processors(processors, running[:, :, :cur_len].reshape(BK, cur_len), log_probs)
        V = log_probs.shape[-1]
        totals = (log_probs.view(B, K, V) + running_scores[:, :, None]).view(B, K * V)
        cand_scores, cand_flat = torch.topk(totals, n_keep)  # (B, n_keep)
        cand_beam, cand_token = cand_flat // V, cand_flat % V
        candidates = _gather(running, cand_beam)  # (B, n_keep, max_length)
        candidates[:, :, cur_len] = cand_token
        done = torch.isin(cand_token, eos) | (cur_len + 1 >= max_length)  # (B, n_keep)

        # 2. finished set: merge newly done top-K candidates, keep the best K
        just_done = done & in_top_k[None, :]
        new_scores = cand_scores / ((cur_len + 1 - L0) ** lp)
        full = torch.all(is_finished, dim=-1, keepdim=True) & (early is True)
        new_scores += full.to(torch.float32) * _NEG
        new_scores += (~can_improve).to(torch.float32) * _NEG
        new_scores += (~just_done) * _NEG
        merged_scores = torch.cat([finished_scores, new_scores], dim=1)
        keep = torch.topk(merged_scores, K)[1]
        finished = _gather(torch.cat([finished, candidates], dim=1), keep)
        finished_scores = _gather(merged_scores, keep)
        finished_len = _gather(torch.cat([finished_len, torch.full_like(cand_beam, cur_len + 1 - L0)], dim=1), keep)
        is_finished = _gather(torch.cat([is_finished, just_done], dim=1), keep)

        # 3. the best K candidates that continue
        alive_scores = cand_scores + done.to(torch.float32) * _NEG
        pick = torch.topk(alive_scores, K)[1]  # (B, K)
        running = _gather(candidates, pick)
        running_scores = _gather(alive_scores, pick)
        source_rows = (_gather(cand_beam, pick) + batch_offset).flatten()  # (B*K,) rows they extend

        stepper.reorder(source_rows)
        cur_len += 1

        # 4. can any example still improve its finished set?
        horizon = (max_length if early == "never" and lp > 0.0 else cur_len) - L0
        best_possible = running_scores[:, :1] / (horizon ** lp)
        worst_finished = torch.where(is_finished, torch.min(finished_scores, dim=1, keepdim=True)[0], _NEG)
        can_improve = can_improve & torch.any(best_possible > worst_finished, dim=-1, keepdim=True)
        all_full = bool(torch.all(is_finished)) and early is True
        if not bool(can_improve.any()) or all_full or bool(done.all()):
            break
        logits = stepper.step(running[:, :, cur_len - 1].reshape(BK))

    out_len = L0 + int(finished_len[:, 0].max())
    return finished[:, 0, :out_len]


def _fill_value(config: GenerationConfig) -> int:
    """What follows EOS in a finished hypothesis. HF writes `pad_token_id or eos_token_id[0]`
    (when there is an EOS id), so a pad id of 0 (T5, our small presets) is replaced by the
    first EOS id; we reproduce that so outputs match token for token."""
    if not config.eos_ids:
        return -1
    return config.pad_token_id or config.eos_ids[0]


def _gather(tensor: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """Rows `index` (B, n) along dim 1 of a (B, M, ...) tensor."""
    while index.dim() < tensor.dim():
        index = index.unsqueeze(-1)
    return torch.take_along_dim(tensor, index, dim=1)
