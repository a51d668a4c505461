"""The original Transformer ("Attention Is All You Need", 2017): an encoder-decoder with fixed
sinusoidal positions, post-LayerNorm residual blocks (x = LN(x + sublayer(x))), a ReLU
feed-forward network and one vocabulary shared by both embeddings and the output projection.

It is stored as HF's `MarianMTModel`, which is exactly this architecture; module names follow its
state-dict keys, so the key map is the identity. Marian specifics kept for parity: sines and
cosines half-split (not interleaved), `final_logits_bias` added to the logits, decoding starts
from `decoder_start_token_id` (= `pad_token_id` by Marian convention).
Shapes: B batch, L target (query) length, S source / key length, C channels, H heads,
D head dim, V vocabulary.
"""

from __future__ import annotations

import logging
import math

import torch
from torch import nn
from transformers import MarianConfig
from transformers.modeling_outputs import BaseModelOutput, Seq2SeqLMOutput

from framework.errors import FrameworkError
from framework.models.base import ZooModel
from framework.models.common.activations import get_activation
from framework.models.common.attention import attend, merge_heads, split_heads
from framework.models.common.cache import EncoderDecoderCache, KVCache
from framework.models.common.losses import token_cross_entropy
from framework.models.common.masks import decoder_bias, padding_bias
from framework.models.common.seq2seq import shift_tokens_right
from framework.models.common.sinusoidal import SinusoidalPositions

logger = logging.getLogger(__name__)


class TransformerAttention(nn.Module):
    """Multi-head attention: self-attention when `kv_states` is None, else cross-attention.

    With a cache, self-attention appends this step's keys/values; cross-attention projects the
    encoder states on the first step only and reuses them afterwards (they never change).
    """

    def __init__(self, dim: int, num_heads: int, dropout: float, layer_idx: int) -> None:
        super().__init__()
        if dim % num_heads:
            raise FrameworkError(f"d_model ({dim}) must be divisible by the number of heads ({num_heads}).")
        self.num_heads = num_heads
        self.dropout = dropout
        self.layer_idx = layer_idx
        self.k_proj = nn.Linear(dim, dim)
        self.v_proj = nn.Linear(dim, dim)
        self.q_proj = nn.Linear(dim, dim)
        self.out_proj = nn.Linear(dim, dim)

    def _kv(self, states: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return split_heads(self.k_proj(states), self.num_heads), split_heads(self.v_proj(states), self.num_heads)

    def forward(
        self,
        x: torch.Tensor,
        bias: torch.Tensor | None,
        kv_states: torch.Tensor | None = None,
        cache: KVCache | None = None,
        need_weights: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        q = split_heads(self.q_proj(x), self.num_heads)  # (B, H, L, D)
        if kv_states is None:
            k, v = self._kv(x)  # (B, H, L, D)
            if cache is not None:
                k, v = cache.update(self.layer_idx, k, v)  # (B, H, S, D), past + this step
        elif cache is not None and cache.has(self.layer_idx):
            k, v = cache.get(self.layer_idx)  # (B, H, S, D), projected on the first step
        else:
            k, v = self._kv(kv_states)  # (B, H, S, D)
            if cache is not None:
                cache.set_static(self.layer_idx, k, v)
        dropout = self.dropout if self.training else 0.0
        # SDPA's default scale is 1/sqrt(D): the paper's, and HF's `scaling`.
        y, weights = attend(q, k, v, bias, dropout_p=dropout, need_weights=need_weights)
        return self.out_proj(merge_heads(y)), weights  # (B, L, C), (B, H, L, S) | None


class TransformerEncoderLayer(nn.Module):
    """Post-LN block: x = LN(x + drop(self_attn(x))), then x = LN(x + drop(ffn(x)))."""

    def __init__(self, config: MarianConfig, layer_idx: int) -> None:
        super().__init__()
        C = config.d_model
        self.self_attn = TransformerAttention(C, config.encoder_attention_heads, config.attention_dropout, layer_idx)
        self.self_attn_layer_norm = nn.LayerNorm(C)
        self.fc1 = nn.Linear(C, config.encoder_ffn_dim)
        self.fc2 = nn.Linear(config.encoder_ffn_dim, C)
        self.final_layer_norm = nn.LayerNorm(C)
        self.act = get_activation(config.activation_function)
        self.dropout = nn.Dropout(config.dropout)
        self.activation_dropout = nn.Dropout(config.activation_dropout)

    def forward(
        self, x: torch.Tensor, bias: torch.Tensor | None, need_weights: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        a, weights = self.self_attn(x, bias, need_weights=need_weights)
        x = self.self_attn_layer_norm(x + self.dropout(a))  # (B, S, C)
        h = self.fc2(self.activation_dropout(self.act(self.fc1(x))))
        return self.final_layer_norm(x + self.dropout(h)), weights


class TransformerDecoderLayer(nn.Module):
    """Post-LN block with three sublayers: masked self-attention, attention over the encoder
    output, feed-forward; each one x = LN(x + drop(sublayer(x)))."""

    def __init__(self, config: MarianConfig, layer_idx: int) -> None:
        super().__init__()
        C, H = config.d_model, config.decoder_attention_heads
        self.self_attn = TransformerAttention(C, H, config.attention_dropout, layer_idx)
        self.self_attn_layer_norm = nn.LayerNorm(C)
        self.encoder_attn = TransformerAttention(C, H, config.attention_dropout, layer_idx)
        self.encoder_attn_layer_norm = nn.LayerNorm(C)
        self.fc1 = nn.Linear(C, config.decoder_ffn_dim)
        self.fc2 = nn.Linear(config.decoder_ffn_dim, C)
        self.final_layer_norm = nn.LayerNorm(C)
        self.act = get_activation(config.activation_function)
        self.dropout = nn.Dropout(config.dropout)
        self.activation_dropout = nn.Dropout(config.activation_dropout)

    def forward(
        self,
        x: torch.Tensor,
        self_bias: torch.Tensor | None,
        encoder_states: torch.Tensor,
        cross_bias: torch.Tensor | None,
        cache: EncoderDecoderCache | None = None,
        need_weights: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        self_cache = cache.self_attn if cache is not None else None
        cross_cache = cache.cross_attn if cache is not None else None
        a, self_weights = self.self_attn(x, self_bias, cache=self_cache, need_weights=need_weights)
        x = self.self_attn_layer_norm(x + self.dropout(a))  # (B, L, C)
        a, cross_weights = self.encoder_attn(x, cross_bias, encoder_states, cross_cache, need_weights)
        x = self.encoder_attn_layer_norm(x + self.dropout(a))
        h = self.fc2(self.activation_dropout(self.act(self.fc1(x))))
        return self.final_layer_norm(x + self.dropout(h)), self_weights, cross_weights


class TransformerEncoder(nn.Module):
    """Token embeddings * sqrt(C) (when `scale_embedding`) + sinusoidal positions, then layers."""

    def __init__(self, config: MarianConfig, embed_tokens: nn.Embedding) -> None:
        super().__init__()
        self.embed_scale = math.sqrt(config.d_model) if config.scale_embedding else 1.0
        self.embed_tokens = embed_tokens
        self.embed_positions = SinusoidalPositions(config.max_position_embeddings, config.d_model)
        self.dropout = nn.Dropout(config.dropout)
        self.layers = nn.ModuleList(TransformerEncoderLayer(config, i) for i in range(config.encoder_layers))

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None, output_attentions: bool = False
    ) -> BaseModelOutput:
        S = input_ids.shape[1]
        x = self.embed_tokens(input_ids) * self.embed_scale
        x = x + self.embed_positions(0, S).to(x.dtype)  # (B, S, C)
        x = self.dropout(x)
        # Padding mask only: every source token sees every real source token.
        bias = padding_bias(attention_mask, x.dtype) if attention_mask is not None else None  # (B, 1, 1, S)
        attentions = []
        for layer in self.layers:
            x, weights = layer(x, bias, output_attentions)
            attentions.append(weights)
        return BaseModelOutput(last_hidden_state=x, attentions=tuple(attentions) if output_attentions else None)


class TransformerDecoder(nn.Module):
    """Embeddings as the encoder's, positions offset by the cached length, then layers."""

    def __init__(self, config: MarianConfig, embed_tokens: nn.Embedding) -> None:
        super().__init__()
        self.embed_scale = math.sqrt(config.d_model) if config.scale_embedding else 1.0
        self.embed_tokens = embed_tokens
        self.embed_positions = SinusoidalPositions(config.max_position_embeddings, config.d_model)
        self.dropout = nn.Dropout(config.dropout)
        self.layers = nn.ModuleList(TransformerDecoderLayer(config, i) for i in range(config.decoder_layers))

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None,
        encoder_states: torch.Tensor,
        encoder_attention_mask: torch.Tensor | None,
        cache: EncoderDecoderCache | None = None,
        output_attentions: bool = False,
    ) -> tuple[torch.Tensor, tuple | None, tuple | None]:
        L = input_ids.shape[1]
        past = cache.seq_len() if cache is not None else 0
        x = self.embed_tokens(input_ids) * self.embed_scale
        x = x + self.embed_positions(past, L).to(x.dtype)  # (B, L, C)
        x = self.dropout(x)
        # Look-ahead + target padding for self-attention (the mask covers past + current keys);
        # source padding for cross-attention.
        self_bias = decoder_bias(attention_mask, L, past + L, x.dtype, x.device)  # (B|1, 1, L, past+L)
        cross_bias = (
            padding_bias(encoder_attention_mask, x.dtype) if encoder_attention_mask is not None else None
        )  # (B, 1, 1, S)
        self_attns, cross_attns = [], []
        for layer in self.layers:
            x, self_w, cross_w = layer(x, self_bias, encoder_states, cross_bias, cache, output_attentions)
            self_attns.append(self_w)
            cross_attns.append(cross_w)
        if not output_attentions:
            return x, None, None
        return x, tuple(self_attns), tuple(cross_attns)


class TransformerModel(nn.Module):
    """Encoder and decoder around the shared source/target embedding (`shared`)."""

    def __init__(self, config: MarianConfig) -> None:
        super().__init__()
        pad, C = config.pad_token_id, config.d_model
        if config.share_encoder_decoder_embeddings:
            self.shared = nn.Embedding(config.vocab_size, C, pad)
            tied = config.tie_word_embeddings
            enc_embed = self.shared if tied else nn.Embedding(config.vocab_size, C, pad)
            dec_embed = self.shared if tied else nn.Embedding(config.vocab_size, C, pad)
            if not tied:
                # transformers 5 unties everything here and keeps `shared` as an unused tensor;
                # frozen so data-parallel wrappers do not wait for its (never computed) gradient.
                self.shared.weight.requires_grad_(False)
        else:
            enc_embed = nn.Embedding(config.vocab_size, C, pad)
            dec_embed = nn.Embedding(config.decoder_vocab_size, C, pad)
        self.encoder = TransformerEncoder(config, enc_embed)
        self.decoder = TransformerDecoder(config, dec_embed)


class TransformerForSeq2SeqLM(ZooModel):
    """Encoder-decoder with the LM head; trained with teacher forcing, label-smoothed CE."""

    config_class = MarianConfig
    hf_architecture = "MarianMTModel"
    generative = True
    block_classes = (TransformerEncoderLayer, TransformerDecoderLayer)
    is_encoder_decoder = True
    # The paper's setting (one shared vocabulary, tied weights); other configs set their own.
    tied_keys = {
        "lm_head.weight": "model.shared.weight",
        "model.encoder.embed_tokens.weight": "model.shared.weight",
        "model.decoder.embed_tokens.weight": "model.shared.weight",
    }
    # HF neither saves nor requires the sinusoidal tables (`_keys_to_ignore_on_save`).
    generated_keys = ("model.encoder.embed_positions.weight", "model.decoder.embed_positions.weight")

    def __init__(self, config: MarianConfig) -> None:
        super().__init__(config)
        if config.pad_token_id is None or config.decoder_start_token_id is None:
            raise FrameworkError("the Transformer needs pad_token_id and decoder_start_token_id in its config.")
        if config.encoder_layerdrop or config.decoder_layerdrop:
            logger.warning("LayerDrop is not part of the Transformer recipe and is ignored here.")
        self.tied_keys = _tied_keys(config)
        V = config.vocab_size if config.share_encoder_decoder_embeddings else config.decoder_vocab_size
        self.model = TransformerModel(config)
        self.lm_head = nn.Linear(config.d_model, V, bias=False)
        self.register_buffer("final_logits_bias", torch.zeros(1, V))
        self.tie_weights()

    # -- initialisation -----------------------------------------------------------------------
    def _init_module(self, module: nn.Module) -> None:
        """HF Marian's init: normal(0, init_std) weights, zero biases, unit LayerNorms, exact
        sinusoid tables, zero `final_logits_bias` (padding rows: see `init_weights`)."""
        std = self.config.init_std
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, mean=0.0, std=std)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=std)
        elif isinstance(module, nn.LayerNorm):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
        elif isinstance(module, SinusoidalPositions):
            module.reset_parameters()
        elif module is self:
            nn.init.zeros_(self.final_logits_bias)

    def init_weights(self) -> None:
        super().init_weights()
        # The tied lm_head is initialised last, as a Linear; restore the zero padding rows.
        with torch.no_grad():
            for module in self.modules():
                if isinstance(module, nn.Embedding) and module.padding_idx is not None:
                    module.weight[module.padding_idx].zero_()

    # -- forward ------------------------------------------------------------------------------
    def encode(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None, output_attentions: bool = False
    ) -> BaseModelOutput:
        """Run the encoder once; generation passes the result back as `encoder_outputs`."""
        return self.model.encoder(input_ids, attention_mask, output_attentions)

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        decoder_input_ids: torch.Tensor | None = None,
        decoder_attention_mask: torch.Tensor | None = None,
        encoder_outputs: BaseModelOutput | tuple[torch.Tensor, ...] | None = None,
        labels: torch.Tensor | None = None,
        past_key_values: EncoderDecoderCache | None = None,
        use_cache: bool = False,
        output_attentions: bool = False,
        num_items: int | torch.Tensor | None = None,
        label_smoothing: float = 0.0,
    ) -> Seq2SeqLMOutput:
        """Logits (B, L, V) for `decoder_input_ids`, or for `labels` shifted right when only
        labels are given (teacher forcing). `attention_mask` is the source padding mask; with a
        cache, `decoder_attention_mask` covers past + current target positions."""
        if decoder_input_ids is None:
            if labels is None:
                raise FrameworkError("pass decoder_input_ids, or labels to derive them by shifting right.")
            decoder_input_ids = shift_tokens_right(
                labels, self.config.pad_token_id, self.config.decoder_start_token_id
            )
        if encoder_outputs is None:
            if input_ids is None:
                raise FrameworkError("pass input_ids (the source) or precomputed encoder_outputs.")
            encoder_outputs = self.encode(input_ids, attention_mask, output_attentions)
        elif not isinstance(encoder_outputs, BaseModelOutput):
            encoder_outputs = BaseModelOutput(last_hidden_state=encoder_outputs[0])
        cache = past_key_values
        if cache is None and use_cache and labels is None:
            cache = EncoderDecoderCache(len(self.model.decoder.layers))
        h, self_attns, cross_attns = self.model.decoder(
            decoder_input_ids,
            decoder_attention_mask,
            encoder_outputs.last_hidden_state,
            attention_mask,
            cache,
            output_attentions,
        )
        logits = self.lm_head(h) + self.final_logits_bias  # (B, L, V)
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



def _tied_keys(config: MarianConfig) -> dict[str, str]:
    """Which tensors alias another, as stock MarianMTModel ties them (none when
    `tie_word_embeddings` is off, as in transformers 5)."""
    if not config.tie_word_embeddings:
        return {}
    if config.share_encoder_decoder_embeddings:
        return dict(TransformerForSeq2SeqLM.tied_keys)
    return {"lm_head.weight": "model.decoder.embed_tokens.weight"}
