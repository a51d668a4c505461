"""GPT-2: learned positions, pre-LayerNorm blocks, GELU MLP, embeddings tied to the LM head.

Module names follow HF's `GPT2LMHeadModel` so the key map is only a transpose: HF stores its
projections as `Conv1D` (in, out); ours are `nn.Linear` (out, in).
Shapes: B batch, L length, S key length, C channels, H heads, V vocabulary.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from transformers import GPT2Config
from transformers.modeling_outputs import (
    BaseModelOutputWithPast,
    CausalLMOutputWithPast,
    SequenceClassifierOutputWithPast,
)

from framework.models.base import ZooModel
from framework.models.common.activations import get_activation
from framework.models.common.attention import attend, merge_heads, split_heads
from framework.models.common.cache import KVCache
from framework.models.common.losses import causal_lm_loss, sequence_classification_loss
from framework.models.common.masks import decoder_bias_or_causal
from framework.models.common.pooling import last_token_index


class GPT2Attention(nn.Module):
    def __init__(self, config: GPT2Config, layer_idx: int) -> None:
        super().__init__()
        self.layer_idx = layer_idx
        self.num_heads = config.n_head
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd)
        self.c_proj = nn.Linear(config.n_embd, config.n_embd)
        self.attn_dropout = config.attn_pdrop
        self.resid_dropout = nn.Dropout(config.resid_pdrop)

    def forward(self, x, bias, cache: KVCache | None, need_weights: bool):
        q, k, v = self.c_attn(x).split(x.shape[-1], dim=-1)  # 3 x (B, L, C)
        q, k, v = (split_heads(t, self.num_heads) for t in (q, k, v))  # (B, H, L, D)
        if cache is not None:
            k, v = cache.update(self.layer_idx, k, v)  # (B, H, S, D)
        dropout = self.attn_dropout if self.training else 0.0
        y, weights = attend(q, k, v, bias, dropout_p=dropout, need_weights=need_weights, is_causal=bias is None)
        return self.resid_dropout(self.c_proj(merge_heads(y))), weights


class GPT2MLP(nn.Module):
    def __init__(self, config: GPT2Config) -> None:
        super().__init__()
        inner = config.n_inner or 4 * config.n_embd
        self.c_fc = nn.Linear(config.n_embd, inner)
        self.c_proj = nn.Linear(inner, config.n_embd)
        self.act = get_activation(config.activation_function)
        self.dropout = nn.Dropout(config.resid_pdrop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.c_proj(self.act(self.c_fc(x))))


class GPT2Block(nn.Module):
    """Pre-LN block: x + attn(ln(x)), then x + mlp(ln(x))."""

    def __init__(self, config: GPT2Config, layer_idx: int) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd, eps=config.layer_norm_epsilon)
        self.attn = GPT2Attention(config, layer_idx)
        self.ln_2 = nn.LayerNorm(config.n_embd, eps=config.layer_norm_epsilon)
        self.mlp = GPT2MLP(config)

    def forward(self, x, bias, cache=None, need_weights=False):
        a, weights = self.attn(self.ln_1(x), bias, cache, need_weights)
        x = x + a
        x = x + self.mlp(self.ln_2(x))
        return x, weights


class GPT2Model(nn.Module):
    """The trunk: embeddings, blocks, final LayerNorm; returns hidden states (B, L, C)."""

    def __init__(self, config: GPT2Config) -> None:
        super().__init__()
        self.config = config
        self.wte = nn.Embedding(config.vocab_size, config.n_embd)
        self.wpe = nn.Embedding(config.n_positions, config.n_embd)
        self.drop = nn.Dropout(config.embd_pdrop)
        self.h = nn.ModuleList(GPT2Block(config, i) for i in range(config.n_layer))
        self.ln_f = nn.LayerNorm(config.n_embd, eps=config.layer_norm_epsilon)

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        past_key_values: KVCache | None = None,
        use_cache: bool = False,
        output_attentions: bool = False,
        document_ids: torch.Tensor | None = None,
    ) -> BaseModelOutputWithPast:
        B, L = input_ids.shape
        cache = past_key_values if past_key_values is not None else (KVCache(len(self.h)) if use_cache else None)
        past = cache.seq_len() if cache is not None else 0
        if position_ids is None:
            position_ids = torch.arange(past, past + L, device=input_ids.device)[None].expand(B, L)
        x = self.drop(self.wte(input_ids) + self.wpe(position_ids))  # (B, L, C)
        bias = decoder_bias_or_causal(attention_mask, L, past + L, x.dtype, x.device, document_ids)
        attentions = []
        for block in self.h:
            x, weights = block(x, bias, cache, output_attentions)
            attentions.append(weights)
        return BaseModelOutputWithPast(
            last_hidden_state=self.ln_f(x),
            past_key_values=cache,
            attentions=tuple(attentions) if output_attentions else None,
        )


class GPT2PreTrained(ZooModel):
    config_class = GPT2Config
    block_classes = (GPT2Block,)
    transposed_keys = ("attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight")

    def init_weights(self) -> None:
        super().init_weights()
        # GPT-2 paper: residual projections scaled by 1/sqrt(2 * n_layer).
        std = self.config.initializer_range / math.sqrt(2 * self.config.n_layer)
        for block in self.transformer.h:
            nn.init.normal_(block.attn.c_proj.weight, mean=0.0, std=std)
            nn.init.normal_(block.mlp.c_proj.weight, mean=0.0, std=std)


class GPT2ForCausalLM(GPT2PreTrained):
    hf_architecture = "GPT2LMHeadModel"
    generative = True
    tied_keys = {"lm_head.weight": "transformer.wte.weight"}

    def __init__(self, config: GPT2Config) -> None:
        super().__init__(config)
        self.transformer = GPT2Model(config)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        if not getattr(config, "tie_word_embeddings", True):
            self.tied_keys = {}  # stock GPT-2 with untied embeddings stores its own lm_head
        self.tie_weights()

    def forward(self, input_ids, attention_mask=None, position_ids=None, labels=None, past_key_values=None,
                use_cache=False, output_attentions=False, document_ids=None, num_items=None):
        out = self.transformer(input_ids, attention_mask, position_ids, past_key_values, use_cache,
                               output_attentions, document_ids)
        logits = self.lm_head(out.last_hidden_state)  # (B, L, V)
        loss = causal_lm_loss(logits, labels, num_items) if labels is not None else None
        return CausalLMOutputWithPast(loss=loss, logits=logits, past_key_values=out.past_key_values,
                                      attentions=out.attentions)



class GPT2ForSequenceClassification(GPT2PreTrained):
    """Classifies from the last non-padding token, as HF does."""

    hf_architecture = "GPT2ForSequenceClassification"

    def __init__(self, config: GPT2Config) -> None:
        super().__init__(config)
        self.transformer = GPT2Model(config)
        self.score = nn.Linear(config.n_embd, config.num_labels, bias=False)

    def forward(self, input_ids, attention_mask=None, position_ids=None, labels=None, output_attentions=False):
        out = self.transformer(input_ids, attention_mask, position_ids, output_attentions=output_attentions)
        logits = self.score(out.last_hidden_state)  # (B, L, num_labels)
        idx = last_token_index(input_ids, self.config.pad_token_id)
        pooled = logits[torch.arange(input_ids.shape[0], device=logits.device), idx]  # (B, num_labels)
        loss = None
        if labels is not None:
            loss, self.config.problem_type = sequence_classification_loss(pooled, labels, self.config.problem_type)
        return SequenceClassifierOutputWithPast(loss=loss, logits=pooled, attentions=out.attentions)
