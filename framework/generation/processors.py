"""Next-token score processing, with the semantics (and order) of HF's logits processors.

Each processor maps (sequences (N, L), scores (N, V)) -> scores (N, V) and never edits in place.
Banned tokens get -inf. The sampling-only filters (temperature, top-k, top-p) come last, and
only when sampling, as in HF; beam search applies the others to log-probabilities.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from framework.generation.config import GenerationConfig

Processor = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


# -- filters usable on their own --------------------------------------------------------------
def top_k_filter(scores: torch.Tensor, top_k: int, min_tokens_to_keep: int = 1) -> torch.Tensor:
    """Keep the k best scores (ties with the k-th included); the rest become -inf."""
    k = min(max(top_k, min_tokens_to_keep), scores.shape[-1])
    kth_best = torch.topk(scores, k)[0][..., -1:]  # (N, 1)
    return scores.masked_fill(scores < kth_best, -float("inf"))


def top_p_filter(scores: torch.Tensor, top_p: float, min_tokens_to_keep: int = 1) -> torch.Tensor:
    """Nucleus filter: keep the smallest set of best tokens whose probability reaches `top_p`.

    Like HF, tokens are dropped from the worst up while the mass dropped stays <= 1 - top_p,
    and the `min_tokens_to_keep` best always survive.
    """
    sorted_scores, order = torch.sort(scores, descending=False)
    mass_below = sorted_scores.softmax(dim=-1).cumsum(dim=-1)  # (N, V), ascending
    drop_sorted = mass_below <= (1 - top_p)
    drop_sorted[..., -min_tokens_to_keep:] = False
    drop = drop_sorted.scatter(1, order, drop_sorted)
    return scores.masked_fill(drop, -float("inf"))


def ban_repeated_ngrams(sequences: torch.Tensor, scores: torch.Tensor, ngram_size: int) -> torch.Tensor:
    """Ban every token that would complete an n-gram already present in the sequence.

    The current (n-1)-token suffix is compared with the first n-1 tokens of every n-gram window;
    a matching window bans its last token. For decoder-only models the prompt counts, as in HF.
    """
    length = sequences.shape[1]
    if length < ngram_size:
        return scores
    vocab = scores.shape[-1]
    suffix = sequences[:, length + 1 - ngram_size:]  # (N, n-1)
    windows = sequences.unfold(1, ngram_size, 1)  # (N, W, n)
    matches = (windows[..., :-1] == suffix[:, None]).all(dim=-1)  # (N, W)
    # Non-matching windows (and ids the head cannot produce) point at a spare column past the vocab.
    targets = torch.where(matches, windows[..., -1].clamp(max=vocab), vocab)
    banned = torch.zeros(scores.shape[0], vocab + 1, dtype=torch.bool, device=scores.device)
    banned.scatter_(1, targets, True)
    return scores.masked_fill(banned[:, :vocab], -float("inf"))


def ban_tokens(scores: torch.Tensor, token_ids: Sequence[int]) -> torch.Tensor:
    out = scores.clone()
    out[:, list(token_ids)] = -float("inf")
    return out


def force_tokens(scores: torch.Tensor, token_ids: Sequence[int]) -> torch.Tensor:
    """Only `token_ids` remain possible (score 0, everything else -inf)."""
    out = torch.full_like(scores, -float("inf"))
    out[:, list(token_ids)] = 0
    return out


# -- the pipeline for one generate call --------------------------------------------------------
def build_processors(config: GenerationConfig, prompt_len: int, max_length: int) -> list[Processor]:
    """The processors `config` asks for, in HF's order.

    `prompt_len` is the decoder input length before generation (the prompt for decoder-only
    models, 1 for the decoder start token); `max_length` = prompt_len + max_new_tokens.
    """
    procs: list[Processor] = []
    eos = config.eos_ids
    if config.no_repeat_ngram_size > 0:
        n = config.no_repeat_ngram_size
        procs.append(lambda seq, s: ban_repeated_ngrams(seq, s, n))
    if config.min_new_tokens and eos:
        minimum = prompt_len + config.min_new_tokens
        procs.append(lambda seq, s: ban_tokens(s, eos) if seq.shape[1] < minimum else s)
    if config.forced_eos_ids:
        forced = config.forced_eos_ids
        procs.append(lambda seq, s: force_tokens(s, forced) if seq.shape[1] == max_length - 1 else s)
    if config.do_sample:
        if config.temperature != 1.0:
            t = float(config.temperature)
            procs.append(lambda seq, s: s / t)
        if config.top_k != 0:
            k = config.top_k
            procs.append(lambda seq, s: top_k_filter(s, k))
        if config.top_p < 1.0:
            p = config.top_p
            procs.append(lambda seq, s: top_p_filter(s, p))
    return procs


def apply_processors(procs: Sequence[Processor], sequences: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
    for proc in procs:
        scores = proc(sequences, scores)
    return scores
