"""Tiny random zoo models exported to, and reloaded by, stock transformers for generation parity.

EOS is made likely by scaling the EOS row of the output projection (so its logit varies more
than the others): random tiny models then end some rows mid-sequence and run others to the end.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import (
    AutoModelForCausalLM,
    AutoModelForSeq2SeqLM,
    GPT2Config,
    LlamaConfig,
    MarianConfig,
    PreTrainedModel,
    T5Config,
)

from framework.models.base import ZooModel
from framework.models.registry import build

VOCAB = 97

CONFIGS = {
    "gpt2": lambda: GPT2Config(n_layer=2, n_embd=32, n_head=4, n_positions=64, vocab_size=VOCAB, initializer_range=0.1,
                               pad_token_id=0, bos_token_id=1, eos_token_id=2),
    "llama": lambda: LlamaConfig(num_hidden_layers=2, hidden_size=32, intermediate_size=64, num_attention_heads=4,
                                 num_key_value_heads=2, max_position_embeddings=64, vocab_size=VOCAB,
                                 pad_token_id=0, bos_token_id=1, eos_token_id=2),
    "t5": lambda: T5Config(num_layers=2, num_decoder_layers=2, d_model=32, num_heads=4, d_kv=8, d_ff=64,
                           vocab_size=VOCAB, pad_token_id=0, eos_token_id=1, decoder_start_token_id=0),
    "marian": lambda: MarianConfig(encoder_layers=2, decoder_layers=2, d_model=32, encoder_attention_heads=4,
                                   decoder_attention_heads=4, encoder_ffn_dim=64, decoder_ffn_dim=64,
                                   vocab_size=VOCAB, max_position_embeddings=64, pad_token_id=0, eos_token_id=1,
                                   forced_eos_token_id=1, decoder_start_token_id=0, bos_token_id=None,
                                   activation_function="relu", scale_embedding=True, init_std=0.1,
                                   tie_word_embeddings=False),
}
# How much the EOS row is scaled: enough for mid-sequence EOS, not so much that it always wins.
EOS_SCALE = {"gpt2": 3.0, "llama": 3.0, "t5": 2.0, "marian": 2.5}


@dataclass
class Pair:
    """Our model and the stock transformers model loaded from its export (same weights)."""

    family: str
    ours: ZooModel
    stock: PreTrainedModel
    eos: int
    pad: int


def make_pair(family: str, out_dir: Path, seed: int = 0) -> Pair:
    torch.manual_seed(seed)
    config = CONFIGS[family]()
    ours = build(config)
    with torch.no_grad():
        ours.lm_head.weight[config.eos_token_id] *= EOS_SCALE[family]
    ours.eval().save_pretrained(out_dir)
    auto = AutoModelForSeq2SeqLM if ours.is_encoder_decoder else AutoModelForCausalLM
    stock = auto.from_pretrained(out_dir).eval()
    return Pair(family, ours, stock, config.eos_token_id, config.pad_token_id)


def decoder_prompts(pad: int, B: int = 4, L: int = 7, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """Left-padded prompts: rows 1 and 2 carry 2 and 4 pads."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(3, VOCAB, (B, L), generator=g)
    mask = torch.ones_like(ids)
    mask[1, :2] = 0
    mask[2, :4] = 0
    return ids.masked_fill(mask == 0, pad), mask


def source_batch(pad: int, B: int = 3, L: int = 8, seed: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded encoder inputs: rows 1 and 2 carry 3 and 5 pads."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(3, VOCAB, (B, L), generator=g)
    mask = torch.ones_like(ids)
    mask[1, L - 3:] = 0
    mask[2, L - 5:] = 0
    return ids.masked_fill(mask == 0, pad), mask

