"""Llama: rotary positions, pre-RMSNorm blocks, SwiGLU MLP, grouped-query attention.

Module names follow HF's `LlamaForCausalLM` / `LlamaForSequenceClassification` exactly, so the
key map is the identity (no transposes; RoPE frequencies are recomputed, never stored).
Covers Llama 1/2/3.x: `head_dim`, `num_key_value_heads`, `attention_bias`, `mlp_bias`,
`tie_word_embeddings` and the "llama3" RoPE scaling are read from the config.
Shapes: B batch, L length, S key length, C channels, H heads, K kv heads, D head dim, V vocabulary.
"""

from __future__ import annotations

import torch
from torch import nn
from transformers import LlamaConfig
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
from framework.models.common.norms import RMSNorm
from framework.models.common.pooling import last_token_index
from framework.models.common.rope import RotaryEmbedding, apply_rotary

Rope = tuple[torch.Tensor, torch.Tensor]  # cos, sin: (B, L, D) each


def head_dim_of(config: LlamaConfig) -> int:
    """`head_dim` may differ from hidden_size / heads (it is explicit in v5 configs)."""
    return getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads


class LlamaAttention(nn.Module):
    """Grouped-query attention: K kv heads shared by groups of H / K query heads (SDPA enable_gqa)."""

    def __init__(self, config: LlamaConfig, layer_idx: int) -> None:
        super().__init__()
        self.layer_idx = layer_idx
        self.num_heads = config.num_attention_heads
        self.num_kv_heads = config.num_key_value_heads or config.num_attention_heads
        self.head_dim = head_dim_of(config)
        self.scale = self.head_dim**-0.5
        self.attn_dropout = config.attention_dropout or 0.0
        C, bias = config.hidden_size, config.attention_bias
        self.q_proj = nn.Linear(C, self.num_heads * self.head_dim, bias=bias)
        self.k_proj = nn.Linear(C, self.num_kv_heads * self.head_dim, bias=bias)
        self.v_proj = nn.Linear(C, self.num_kv_heads * self.head_dim, bias=bias)
        self.o_proj = nn.Linear(self.num_heads * self.head_dim, C, bias=bias)

    def forward(
        self, x: torch.Tensor, bias: torch.Tensor | None, rope: Rope, cache: KVCache | None, need_weights: bool
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        q = split_heads(self.q_proj(x), self.num_heads)  # (B, H, L, D)
        k = split_heads(self.k_proj(x), self.num_kv_heads)  # (B, K, L, D)
        v = split_heads(self.v_proj(x), self.num_kv_heads)  # (B, K, L, D)
        q, k = apply_rotary(q, k, *rope)  # rotate before caching: cached keys keep their positions
        if cache is not None:
            k, v = cache.update(self.layer_idx, k, v)  # (B, K, S, D)
        dropout = self.attn_dropout if self.training else 0.0
        y, weights = attend(q, k, v, bias, scale=self.scale, dropout_p=dropout, need_weights=need_weights,
                            is_causal=bias is None)
        return self.o_proj(merge_heads(y)), weights  # (B, L, C), (B, H, L, S) | None


class LlamaMLP(nn.Module):
    """SwiGLU: down(act(gate(x)) * up(x))."""

    def __init__(self, config: LlamaConfig) -> None:
        super().__init__()
        C, inner, bias = config.hidden_size, config.intermediate_size, config.mlp_bias
        self.gate_proj = nn.Linear(C, inner, bias=bias)
        self.up_proj = nn.Linear(C, inner, bias=bias)
        self.down_proj = nn.Linear(inner, C, bias=bias)
        self.act = get_activation(config.hidden_act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(self.act(self.gate_proj(x)) * self.up_proj(x))  # (B, L, C)


class LlamaDecoderLayer(nn.Module):
    """Pre-RMSNorm block: x + attn(norm(x)), then x + mlp(norm(x))."""

    def __init__(self, config: LlamaConfig, layer_idx: int) -> None:
        super().__init__()
        self.self_attn = LlamaAttention(config, layer_idx)
        self.mlp = LlamaMLP(config)
        self.input_layernorm = RMSNorm(config.hidden_size, eps=config.rms_norm_eps)
        self.post_attention_layernorm = RMSNorm(config.hidden_size, eps=config.rms_norm_eps)

    def forward(
        self,
        x: torch.Tensor,
        bias: torch.Tensor | None,
        rope: Rope,
        cache: KVCache | None = None,
        need_weights: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        a, weights = self.self_attn(self.input_layernorm(x), bias, rope, cache, need_weights)
        x = x + a
        x = x + self.mlp(self.post_attention_layernorm(x))
        return x, weights  # (B, L, C)


class LlamaModel(nn.Module):
    """The trunk: token embeddings, decoder layers, final RMSNorm; returns hidden states (B, L, C).

    With packed documents (`document_ids`), RoPE being relative makes per-document logits
    independent of where a document starts; restarting `position_ids` at 0 per document still
    matches what each document would see alone (and what HF's packed-sequence collators pass).
    """

    def __init__(self, config: LlamaConfig) -> None:
        super().__init__()
        self.config = config
        self.embed_tokens = nn.Embedding(config.vocab_size, config.hidden_size, padding_idx=_padding_idx(config))
        self.layers = nn.ModuleList(LlamaDecoderLayer(config, i) for i in range(config.num_hidden_layers))
        self.norm = RMSNorm(config.hidden_size, eps=config.rms_norm_eps)
        self.rotary_emb = RotaryEmbedding.from_config(config, head_dim_of(config))

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
        cache = past_key_values if past_key_values is not None else (KVCache(len(self.layers)) if use_cache else None)
        past = cache.seq_len() if cache is not None else 0
        if position_ids is None:
            position_ids = torch.arange(past, past + L, device=input_ids.device)[None].expand(B, L)
        x = self.embed_tokens(input_ids)  # (B, L, C)
        rope = self.rotary_emb(position_ids, x.dtype)  # 2 x (B, L, D), shared by all layers
        bias = decoder_bias_or_causal(attention_mask, L, past + L, x.dtype, x.device, document_ids)  # (B|1, 1, L, S)
        attentions = []
        for layer in self.layers:
            x, weights = layer(x, bias, rope, cache, output_attentions)
            attentions.append(weights)
        return BaseModelOutputWithPast(
            last_hidden_state=self.norm(x),
            past_key_values=cache,
            attentions=tuple(attentions) if output_attentions else None,
        )


def _padding_idx(config: LlamaConfig) -> int | None:
    """HF gives the embedding `padding_idx=pad_token_id` (zero row, no gradient); ignore ids outside the vocab."""
    pad = config.pad_token_id
    return pad if isinstance(pad, int) and 0 <= pad < config.vocab_size else None


class LlamaPreTrained(ZooModel):
    """HF's default init: normal(initializer_range) weights, zero biases, unit norms, zero pad row."""

    config_class = LlamaConfig
    block_classes = (LlamaDecoderLayer,)
    model: LlamaModel

    def _init_module(self, module: nn.Module) -> None:
        super()._init_module(module)
        if isinstance(module, RMSNorm):
            nn.init.ones_(module.weight)
        elif isinstance(module, RotaryEmbedding):
            module.reset_parameters()

    def init_weights(self) -> None:
        super().init_weights()
        # After tying: a tied lm_head's Linear init must not undo the zero padding row.
        embed = self.model.embed_tokens
        if embed.padding_idx is not None:
            with torch.no_grad():
                embed.weight[embed.padding_idx].zero_()


class LlamaForCausalLM(LlamaPreTrained):
    hf_architecture = "LlamaForCausalLM"
    generative = True

    def __init__(self, config: LlamaConfig) -> None:
        super().__init__(config)
        # Llama 3.2 1B/3B tie the LM head to the embeddings; Llama 2 and 3 8B+ do not.
        self.tied_keys = {"lm_head.weight": "model.embed_tokens.weight"} if config.tie_word_embeddings else {}
        self.model = LlamaModel(config)
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        self.tie_weights()

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        past_key_values: KVCache | None = None,
        use_cache: bool = False,
        output_attentions: bool = False,
        document_ids: torch.Tensor | None = None,
        num_items: int | torch.Tensor | None = None,
    ) -> CausalLMOutputWithPast:
        out = self.model(input_ids, attention_mask, position_ids, past_key_values, use_cache,
                         output_attentions, document_ids)
        logits = self.lm_head(out.last_hidden_state)  # (B, L, V)
        loss = causal_lm_loss(logits, labels, num_items) if labels is not None else None
        return CausalLMOutputWithPast(loss=loss, logits=logits, past_key_values=out.past_key_values,
                                      attentions=out.attentions)



class LlamaForSequenceClassification(LlamaPreTrained):
    """Classifies from the last non-padding token, as HF does."""

    hf_architecture = "LlamaForSequenceClassification"

    def __init__(self, config: LlamaConfig) -> None:
        super().__init__(config)
        self.model = LlamaModel(config)
        self.score = nn.Linear(config.hidden_size, config.num_labels, bias=False)

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        output_attentions: bool = False,
    ) -> SequenceClassifierOutputWithPast:
        out = self.model(input_ids, attention_mask, position_ids, output_attentions=output_attentions)
        logits = self.score(out.last_hidden_state)  # (B, L, num_labels)
        idx = last_token_index(input_ids, self.config.pad_token_id)
        pooled = logits[torch.arange(input_ids.shape[0], device=logits.device), idx]  # (B, num_labels)
        loss = None
        if labels is not None:
            loss, self.config.problem_type = sequence_classification_loss(pooled, labels, self.config.problem_type)
        return SequenceClassifierOutputWithPast(loss=loss, logits=pooled, attentions=out.attentions)
