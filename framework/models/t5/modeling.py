"""T5: encoder-decoder with relative position buckets, RMSNorm, unscaled attention, ReLU or gated-GELU FF.

Module names follow HF's `T5ForConditionalGeneration`, so weights map one to one. What T5 does
differently from a textbook transformer:
  * no position embeddings: layer 0 of each stack learns a bias per (head, relative-distance
    bucket), added to the attention scores of every layer of that stack;
  * no 1/sqrt(d) attention scaling (the init of `q` absorbs it);
  * RMSNorm without bias or mean subtraction, pre-norm sublayers;
  * `shared` embeddings, tied to `lm_head` with a d_model**-0.5 rescale of the decoder output
    (original T5) or an untied `lm_head` without the rescale (T5 v1.1, `tie_word_embeddings=False`).
Shapes: B batch, L query length, S key length, C d_model, H heads, D d_kv, V vocabulary.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from transformers import T5Config
from transformers.modeling_outputs import BaseModelOutput, Seq2SeqLMOutput

from framework.errors import FrameworkError
from framework.models.base import ZooModel
from framework.models.common.activations import get_activation
from framework.models.common.attention import attend, merge_heads, split_heads
from framework.models.common.cache import EncoderDecoderCache, KVCache
from framework.models.common.losses import token_cross_entropy
from framework.models.common.masks import combine, decoder_bias, padding_bias
from framework.models.common.norms import RMSNorm
from framework.models.common.seq2seq import shift_tokens_right

# Old checkpoints carry this never-used tensor; stock T5 ignores it on load, so do we.
LEGACY_KEYS = ("decoder.block.0.layer.1.EncDecAttention.relative_attention_bias.weight",)
EMBEDDING_TIES = {"encoder.embed_tokens.weight": "shared.weight", "decoder.embed_tokens.weight": "shared.weight"}
HEAD_TIE = {"lm_head.weight": "shared.weight"}


def relative_position_bucket(
    relative_position: torch.Tensor, bidirectional: bool, num_buckets: int, max_distance: int
) -> torch.Tensor:
    """Bucket of each (key - query) distance: exact for small distances, log-spaced up to
    `max_distance`, one bucket beyond. Bidirectional (encoder) halves the buckets between past and
    future; causal (decoder) keeps only the past. Mesh TensorFlow's scheme, bit for bit."""
    buckets = torch.zeros_like(relative_position)
    if bidirectional:
        num_buckets //= 2
        buckets = buckets + (relative_position > 0).long() * num_buckets
        distance = relative_position.abs()
    else:
        distance = -torch.clamp(relative_position, max=0)
    max_exact = num_buckets // 2
    is_small = distance < max_exact
    large = max_exact + (
        torch.log(distance.float() / max_exact) / math.log(max_distance / max_exact) * (num_buckets - max_exact)
    ).long()
    large = torch.clamp(large, max=num_buckets - 1)
    return buckets + torch.where(is_small, distance, large)


class T5Attention(nn.Module):
    """Self- or cross-attention; layer 0's self-attention also owns the relative position bias."""

    def __init__(self, config: T5Config, layer_idx: int, is_decoder: bool, has_relative_attention_bias: bool) -> None:
        super().__init__()
        self.layer_idx = layer_idx
        self.is_decoder = is_decoder
        self.has_relative_attention_bias = has_relative_attention_bias
        self.num_heads = config.num_heads
        self.num_buckets = config.relative_attention_num_buckets
        self.max_distance = config.relative_attention_max_distance
        self.dropout = config.dropout_rate
        inner = config.num_heads * config.d_kv
        self.q = nn.Linear(config.d_model, inner, bias=False)
        self.k = nn.Linear(config.d_model, inner, bias=False)
        self.v = nn.Linear(config.d_model, inner, bias=False)
        self.o = nn.Linear(inner, config.d_model, bias=False)
        if has_relative_attention_bias:
            self.relative_attention_bias = nn.Embedding(config.relative_attention_num_buckets, config.num_heads)

    def compute_bias(self, q_len: int, k_len: int, device: torch.device) -> torch.Tensor:
        """(1, H, L, S) learned bias; the L queries are the last L of the S keys (cache decoding)."""
        q_pos = torch.arange(k_len - q_len, k_len, device=device)[:, None]
        k_pos = torch.arange(k_len, device=device)[None, :]
        buckets = relative_position_bucket(
            k_pos - q_pos, not self.is_decoder, self.num_buckets, self.max_distance
        )  # (L, S)
        return self.relative_attention_bias(buckets).permute(2, 0, 1)[None]  # (1, H, L, S)

    def forward(
        self,
        x: torch.Tensor,
        mask: torch.Tensor | None,
        bias: torch.Tensor | None = None,
        key_value_states: torch.Tensor | None = None,
        cache: KVCache | None = None,
        need_weights: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """Returns (output (B, L, C), the additive bias used, weights or None).

        `bias` is position bias + `mask`, computed once by the layer that owns the position table and
        handed on to the later layers of the stack; with `bias=None` it is made here.
        """
        q = split_heads(self.q(x), self.num_heads)  # (B, H, L, D)
        if key_value_states is None:
            k = split_heads(self.k(x), self.num_heads)  # (B, H, L, D)
            v = split_heads(self.v(x), self.num_heads)
            if cache is not None:
                k, v = cache.update(self.layer_idx, k, v)  # (B, H, S, D)
        elif cache is not None and cache.has(self.layer_idx):
            k, v = cache.get(self.layer_idx)  # encoder keys/values, projected on the first step
        else:
            k = split_heads(self.k(key_value_states), self.num_heads)  # (B, H, S, D)
            v = split_heads(self.v(key_value_states), self.num_heads)
            if cache is not None:
                cache.set_static(self.layer_idx, k, v)
        if bias is None:
            if self.has_relative_attention_bias:
                position = self.compute_bias(q.shape[-2], k.shape[-2], q.device).to(q.dtype)
                bias = combine(position, mask)
            else:
                bias = mask
        dropout = self.dropout if self.training else 0.0
        y, weights = attend(q, k, v, bias, scale=1.0, dropout_p=dropout, need_weights=need_weights)
        return self.o(merge_heads(y)), bias, weights


class T5LayerSelfAttention(nn.Module):
    """Pre-norm residual self-attention; a module of its own so keys read `layer.0.SelfAttention`."""

    def __init__(self, config: T5Config, layer_idx: int, is_decoder: bool) -> None:
        super().__init__()
        self.SelfAttention = T5Attention(config, layer_idx, is_decoder, has_relative_attention_bias=layer_idx == 0)
        self.layer_norm = RMSNorm(config.d_model, eps=config.layer_norm_epsilon)
        self.dropout = nn.Dropout(config.dropout_rate)

    def forward(
        self, x: torch.Tensor, mask: torch.Tensor | None, bias: torch.Tensor | None, cache: KVCache | None,
        need_weights: bool,
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        y, bias, weights = self.SelfAttention(self.layer_norm(x), mask, bias, cache=cache, need_weights=need_weights)
        return x + self.dropout(y), bias, weights


class T5LayerCrossAttention(nn.Module):
    """Pre-norm residual attention over the encoder states (`layer.1.EncDecAttention`); no position bias."""

    def __init__(self, config: T5Config, layer_idx: int) -> None:
        super().__init__()
        self.EncDecAttention = T5Attention(config, layer_idx, is_decoder=True, has_relative_attention_bias=False)
        self.layer_norm = RMSNorm(config.d_model, eps=config.layer_norm_epsilon)
        self.dropout = nn.Dropout(config.dropout_rate)

    def forward(
        self, x: torch.Tensor, encoder_states: torch.Tensor, encoder_mask: torch.Tensor | None, cache: KVCache | None,
        need_weights: bool,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        y, _, weights = self.EncDecAttention(
            self.layer_norm(x), encoder_mask, key_value_states=encoder_states, cache=cache, need_weights=need_weights
        )
        return x + self.dropout(y), weights


class T5DenseActDense(nn.Module):
    """Original T5 FF: wo(act(wi(x)))."""

    def __init__(self, config: T5Config) -> None:
        super().__init__()
        self.wi = nn.Linear(config.d_model, config.d_ff, bias=False)
        self.wo = nn.Linear(config.d_ff, config.d_model, bias=False)
        self.dropout = nn.Dropout(config.dropout_rate)
        self.act = get_activation(config.dense_act_fn)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.dropout(self.act(self.wi(x)))  # (B, L, d_ff)
        return self.wo(h.to(self.wo.weight.dtype))  # HF keeps `wo` in fp32 under fp16; follow its dtype


class T5DenseGatedActDense(nn.Module):
    """T5 v1.1 FF: wo(act(wi_0(x)) * wi_1(x))."""

    def __init__(self, config: T5Config) -> None:
        super().__init__()
        self.wi_0 = nn.Linear(config.d_model, config.d_ff, bias=False)
        self.wi_1 = nn.Linear(config.d_model, config.d_ff, bias=False)
        self.wo = nn.Linear(config.d_ff, config.d_model, bias=False)
        self.dropout = nn.Dropout(config.dropout_rate)
        self.act = get_activation(config.dense_act_fn)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.dropout(self.act(self.wi_0(x)) * self.wi_1(x))  # (B, L, d_ff)
        return self.wo(h.to(self.wo.weight.dtype))


class T5LayerFF(nn.Module):
    """Pre-norm residual FF; HF names it `DenseReluDense` whatever the activation."""

    def __init__(self, config: T5Config) -> None:
        super().__init__()
        self.DenseReluDense = T5DenseGatedActDense(config) if config.is_gated_act else T5DenseActDense(config)
        self.layer_norm = RMSNorm(config.d_model, eps=config.layer_norm_epsilon)
        self.dropout = nn.Dropout(config.dropout_rate)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.dropout(self.DenseReluDense(self.layer_norm(x)))


class T5Block(nn.Module):
    """Encoder block (self-attention, FF) or decoder block (causal self-attention, cross-attention, FF).

    One class with `is_decoder` so `layer.N` indices match HF's keys: FF is `layer.1` in the encoder
    and `layer.2` in the decoder.
    """

    def __init__(self, config: T5Config, layer_idx: int, is_decoder: bool) -> None:
        super().__init__()
        self.is_decoder = is_decoder
        self.layer = nn.ModuleList([T5LayerSelfAttention(config, layer_idx, is_decoder)])
        if is_decoder:
            self.layer.append(T5LayerCrossAttention(config, layer_idx))
        self.layer.append(T5LayerFF(config))

    def forward(
        self,
        x: torch.Tensor,
        mask: torch.Tensor | None,
        bias: torch.Tensor | None = None,
        encoder_states: torch.Tensor | None = None,
        encoder_mask: torch.Tensor | None = None,
        cache: EncoderDecoderCache | None = None,
        need_weights: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None, torch.Tensor | None]:
        """Returns (x, self-attention bias for the next block, self weights, cross weights)."""
        x, bias, self_weights = self.layer[0](x, mask, bias, cache.self_attn if cache is not None else None, need_weights)
        cross_weights = None
        if self.is_decoder:
            x, cross_weights = self.layer[1](
                x, encoder_states, encoder_mask, cache.cross_attn if cache is not None else None, need_weights
            )
        return self.layer[-1](x), bias, self_weights, cross_weights


class T5Stack(nn.Module):
    """Encoder or decoder: embeddings (tied to `shared`), blocks, final RMSNorm."""

    def __init__(self, config: T5Config, is_decoder: bool) -> None:
        super().__init__()
        self.is_decoder = is_decoder
        num_layers = config.num_decoder_layers if is_decoder else config.num_layers
        self.embed_tokens = nn.Embedding(config.vocab_size, config.d_model)
        self.block = nn.ModuleList(T5Block(config, i, is_decoder) for i in range(num_layers))
        self.final_layer_norm = RMSNorm(config.d_model, eps=config.layer_norm_epsilon)
        self.dropout = nn.Dropout(config.dropout_rate)

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        encoder_states: torch.Tensor | None = None,
        encoder_attention_mask: torch.Tensor | None = None,
        cache: EncoderDecoderCache | None = None,
        output_attentions: bool = False,
    ) -> tuple[torch.Tensor, tuple | None, tuple | None]:
        """Returns (hidden (B, L, C), self-attention weights, cross-attention weights)."""
        B, L = input_ids.shape
        x = self.dropout(self.embed_tokens(input_ids))  # (B, L, C)
        if self.is_decoder:
            past = cache.seq_len() if cache is not None else 0
            mask = decoder_bias(attention_mask, L, past + L, x.dtype, x.device)  # (B|1, 1, L, S)
            encoder_mask = padding_bias(encoder_attention_mask, x.dtype) if encoder_attention_mask is not None else None
        else:
            mask = padding_bias(attention_mask, x.dtype) if attention_mask is not None else None  # (B, 1, 1, S)
            encoder_mask = None
        bias, self_attns, cross_attns = None, [], []
        for block in self.block:
            x, bias, self_w, cross_w = block(x, mask, bias, encoder_states, encoder_mask, cache, output_attentions)
            self_attns.append(self_w)
            cross_attns.append(cross_w)
        x = self.dropout(self.final_layer_norm(x))
        if not output_attentions:
            return x, None, None
        return x, tuple(self_attns), tuple(cross_attns) if self.is_decoder else None


class T5ForConditionalGeneration(ZooModel):
    """T5 with its LM head; `encode` once, then `forward` with `encoder_outputs` and a cache to decode."""

    config_class = T5Config
    hf_architecture = "T5ForConditionalGeneration"
    generative = True
    block_classes = (T5Block,)
    tied_keys = {**EMBEDDING_TIES, **HEAD_TIE}
    is_encoder_decoder = True

    def __init__(self, config: T5Config) -> None:
        super().__init__(config)
        # transformers 5.x forces `config.tie_word_embeddings=True` for T5 and keeps the user's choice
        # in `scale_decoder_outputs`; older configs only have `tie_word_embeddings`.
        self.scale_decoder_outputs: bool = bool(
            getattr(config, "scale_decoder_outputs", getattr(config, "tie_word_embeddings", True))
        )
        self.shared = nn.Embedding(config.vocab_size, config.d_model)
        self.encoder = T5Stack(config, is_decoder=False)
        self.decoder = T5Stack(config, is_decoder=True)
        self.lm_head = nn.Linear(config.d_model, config.vocab_size, bias=False)
        self.tied_keys = dict(self.tied_keys) if self.scale_decoder_outputs else dict(EMBEDDING_TIES)
        self.tie_weights()

    # -- ties and init ----------------------------------------------------------------------
    @property
    def lm_head_tied(self) -> bool:
        return "lm_head.weight" in self.tied_keys

    def _set_lm_head_tied(self, tied: bool) -> None:
        """Tie `lm_head` to `shared`, or give it its own parameter (a copy, until weights are loaded)."""
        if tied == self.lm_head_tied:
            return
        if tied:
            self.tied_keys = {**EMBEDDING_TIES, **HEAD_TIE}
        else:
            self.tied_keys = dict(EMBEDDING_TIES)
            self.lm_head.weight = nn.Parameter(self.shared.weight.detach().clone())
        self.tie_weights()

    def _init_module(self, module: nn.Module) -> None:
        """HF's T5 init: normal with std `factor * fan_in**-0.5` (q also by d_kv**-0.5, which stands
        in for the attention scaling T5 does not do), embeddings and untied head with std `factor`."""
        f = self.config.initializer_factor
        c, d_kv, d_ff, h = self.config.d_model, self.config.d_kv, self.config.d_ff, self.config.num_heads
        normal = nn.init.normal_
        if isinstance(module, RMSNorm):
            nn.init.constant_(module.weight, f)
        elif module is self:
            normal(self.shared.weight, std=f)
            if not self.lm_head_tied:
                normal(self.lm_head.weight, std=f)
        elif isinstance(module, T5DenseActDense):
            normal(module.wi.weight, std=f * c**-0.5)
            normal(module.wo.weight, std=f * d_ff**-0.5)
        elif isinstance(module, T5DenseGatedActDense):
            normal(module.wi_0.weight, std=f * c**-0.5)
            normal(module.wi_1.weight, std=f * c**-0.5)
            normal(module.wo.weight, std=f * d_ff**-0.5)
        elif isinstance(module, T5Attention):
            normal(module.q.weight, std=f * (c * d_kv) ** -0.5)
            normal(module.k.weight, std=f * c**-0.5)
            normal(module.v.weight, std=f * c**-0.5)
            normal(module.o.weight, std=f * (h * d_kv) ** -0.5)
            if module.has_relative_attention_bias:
                normal(module.relative_attention_bias.weight, std=f * c**-0.5)

    def load_hf_state_dict(self, hf_state: dict[str, torch.Tensor], source: str = "checkpoint") -> None:
        """Like stock T5: `lm_head` is tied unless the checkpoint holds its own, different tensor.

        Stock transformers 5.x ties `lm_head` whenever the file has none (even for a v1.1 config,
        which then gets no rescale either) and unties it when the file's differs from `shared`.
        """
        hf_state = {k: v for k, v in hf_state.items() if k not in LEGACY_KEYS}
        head, shared = hf_state.get("lm_head.weight"), hf_state.get("shared.weight")
        self._set_lm_head_tied(head is None or (shared is not None and torch.equal(head, shared)))
        super().load_hf_state_dict(hf_state, source)

    # -- forward ----------------------------------------------------------------------------
    def encode(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None, output_attentions: bool = False
    ) -> BaseModelOutput:
        """Encoder states (B, S, C), computed once per source batch and reused while decoding."""
        x, attentions, _ = self.encoder(input_ids, attention_mask, output_attentions=output_attentions)
        return BaseModelOutput(last_hidden_state=x, attentions=attentions)

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        decoder_input_ids: torch.Tensor | None = None,
        decoder_attention_mask: torch.Tensor | None = None,
        encoder_outputs: BaseModelOutput | tuple | None = None,
        labels: torch.Tensor | None = None,
        past_key_values: EncoderDecoderCache | None = None,
        use_cache: bool = False,
        output_attentions: bool = False,
        num_items: int | torch.Tensor | None = None,
        label_smoothing: float = 0.0,
    ) -> Seq2SeqLMOutput:
        """Logits (B, L, V) for the decoder inputs; with only `labels`, the inputs are the labels
        shifted right. `attention_mask` is the encoder's padding mask (also masks cross-attention)."""
        if encoder_outputs is None:
            if input_ids is None:
                raise FrameworkError("T5 needs input_ids (or precomputed encoder_outputs from `encode`).")
            encoder_outputs = self.encode(input_ids, attention_mask, output_attentions)
        elif not isinstance(encoder_outputs, BaseModelOutput):
            encoder_outputs = BaseModelOutput(
                last_hidden_state=encoder_outputs[0],
                attentions=encoder_outputs[2] if len(encoder_outputs) > 2 else None,
            )
        if decoder_input_ids is None:
            if labels is None:
                raise FrameworkError("T5 needs decoder_input_ids or labels (decoder inputs are labels shifted right).")
            decoder_input_ids = shift_tokens_right(labels, self.config.pad_token_id, self.config.decoder_start_token_id)
        cache = past_key_values
        if cache is None and use_cache:
            cache = EncoderDecoderCache(len(self.decoder.block))
        h, self_attns, cross_attns = self.decoder(
            decoder_input_ids,
            decoder_attention_mask,
            encoder_outputs.last_hidden_state,
            attention_mask,
            cache,
            output_attentions,
        )  # (B, L, C)
        if self.scale_decoder_outputs:
            h = h * self.config.d_model**-0.5  # keeps tied-embedding logits at the scale T5 was trained at
        logits = self.lm_head(h)  # (B, L, V)
        loss = None
        if labels is not None:
            loss = token_cross_entropy(logits, labels, num_items, label_smoothing)
        return Seq2SeqLMOutput(
            loss=loss,
            logits=logits,
            past_key_values=cache,
            decoder_attentions=self_attns,
            cross_attentions=cross_attns,
            encoder_last_hidden_state=encoder_outputs.last_hidden_state,
            encoder_attentions=encoder_outputs.attentions,
        )

