"""BERT: learned absolute + token-type embeddings, post-LayerNorm encoder blocks, GELU MLP.

Module names follow HF's `BertModel` / `BertFor*` exactly (`attention.self.query`,
`cls.predictions.transform`, ...) so the key map is the identity: no renames, no transposes.
Shapes: B batch, L length, C channels, H heads, V vocabulary, N labels.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from transformers import BertConfig
from transformers.modeling_outputs import (
    BaseModelOutputWithPoolingAndCrossAttentions,
    MaskedLMOutput,
    SequenceClassifierOutput,
)

from framework.errors import FrameworkError
from framework.models.base import ZooModel
from framework.models.common.activations import get_activation
from framework.models.common.attention import attend, merge_heads, split_heads
from framework.models.common.losses import sequence_classification_loss, token_cross_entropy
from framework.models.common.masks import combine, document_bias, padding_bias

# HF ties the MLM decoder to the input embeddings, and its bias to `cls.predictions.bias` (the
# only one of the two that stock checkpoints store), but only while `tie_word_embeddings` holds.
_MLM_TIES = {
    "cls.predictions.decoder.weight": "bert.embeddings.word_embeddings.weight",
    "cls.predictions.decoder.bias": "cls.predictions.bias",
}


class BertEmbeddings(nn.Module):
    """word + position + token type, then LayerNorm and dropout (BERT normalises the input sum)."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.word_embeddings = nn.Embedding(config.vocab_size, config.hidden_size, padding_idx=config.pad_token_id)
        self.position_embeddings = nn.Embedding(config.max_position_embeddings, config.hidden_size)
        self.token_type_embeddings = nn.Embedding(config.type_vocab_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(
        self,
        input_ids: torch.Tensor,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
    ) -> torch.Tensor:
        B, L = input_ids.shape
        if position_ids is None:
            position_ids = torch.arange(L, device=input_ids.device)[None].expand(B, L)
        if token_type_ids is None:  # a single segment, as HF assumes
            token_type_ids = torch.zeros_like(input_ids)
        x = (
            self.word_embeddings(input_ids)
            + self.token_type_embeddings(token_type_ids)
            + self.position_embeddings(position_ids)
        )  # (B, L, C)
        return self.dropout(self.LayerNorm(x))


class BertSelfAttention(nn.Module):
    """Bidirectional multi-head attention; separate q/k/v projections as in HF's key layout."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        if config.hidden_size % config.num_attention_heads:
            raise FrameworkError(
                f"hidden_size {config.hidden_size} is not a multiple of num_attention_heads "
                f"{config.num_attention_heads}; pick sizes that divide."
            )
        self.num_heads = config.num_attention_heads
        self.query = nn.Linear(config.hidden_size, config.hidden_size)
        self.key = nn.Linear(config.hidden_size, config.hidden_size)
        self.value = nn.Linear(config.hidden_size, config.hidden_size)
        self.dropout_p = config.attention_probs_dropout_prob

    def forward(
        self, x: torch.Tensor, bias: torch.Tensor | None, need_weights: bool
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        q, k, v = (split_heads(proj(x), self.num_heads) for proj in (self.query, self.key, self.value))  # (B, H, L, D)
        dropout = self.dropout_p if self.training else 0.0
        y, weights = attend(q, k, v, bias, dropout_p=dropout, need_weights=need_weights)
        return merge_heads(y), weights  # (B, L, C), (B, H, L, L) or None


class BertSelfOutput(nn.Module):
    """Output projection, dropout, then the post-LN residual: LayerNorm(x + attn)."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, h: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(self.dropout(self.dense(h)) + residual)


class BertAttention(nn.Module):
    """Holds `self` and `output` so the keys read `attention.self.query`, `attention.output.dense`."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.self = BertSelfAttention(config)
        self.output = BertSelfOutput(config)

    def forward(
        self, x: torch.Tensor, bias: torch.Tensor | None, need_weights: bool
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        h, weights = self.self(x, bias, need_weights)
        return self.output(h, x), weights


class BertIntermediate(nn.Module):
    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.intermediate_size)
        self.act = get_activation(config.hidden_act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.dense(x))  # (B, L, intermediate)


class BertOutput(nn.Module):
    """MLP down-projection, dropout, then LayerNorm(x + mlp) (post-LN)."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(config.intermediate_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, h: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(self.dropout(self.dense(h)) + residual)


class BertLayer(nn.Module):
    """One post-LN encoder block: x = LN(x + attn(x)); x = LN(x + mlp(x))."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.attention = BertAttention(config)
        self.intermediate = BertIntermediate(config)
        self.output = BertOutput(config)

    def forward(
        self, x: torch.Tensor, bias: torch.Tensor | None, need_weights: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        x, weights = self.attention(x, bias, need_weights)
        return self.output(self.intermediate(x), x), weights


class BertEncoder(nn.Module):
    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.layer = nn.ModuleList(BertLayer(config) for _ in range(config.num_hidden_layers))

    def forward(
        self, x: torch.Tensor, bias: torch.Tensor | None, need_weights: bool
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, ...] | None]:
        attentions = []
        for layer in self.layer:
            x, weights = layer(x, bias, need_weights)
            attentions.append(weights)
        return x, tuple(attentions) if need_weights else None


class BertPooler(nn.Module):
    """tanh(dense(h[CLS])): the sentence vector BERT's NSP and classifier heads read."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.dense(h[:, 0]))  # (B, C)


class BertPredictionHeadTransform(nn.Module):
    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.act = get_activation(config.hidden_act)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(self.act(self.dense(h)))


class BertLMPredictionHead(nn.Module):
    """transform -> decoder. `bias` is its own parameter because stock checkpoints store it under
    `cls.predictions.bias`; the decoder's bias aliases it when weights are tied."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.transform = BertPredictionHeadTransform(config)
        self.decoder = nn.Linear(config.hidden_size, config.vocab_size)
        self.bias = nn.Parameter(torch.zeros(config.vocab_size))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.transform(h))  # (B, L, V)


class BertOnlyMLMHead(nn.Module):
    """Only here so the keys read `cls.predictions.*`."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.predictions = BertLMPredictionHead(config)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.predictions(h)


class BertPreTrained(ZooModel):
    config_class = BertConfig
    block_classes = (BertLayer,)

    def init_weights(self) -> None:
        """HF's scheme (normal(initializer_range), zero biases, LayerNorm 1/0) plus a zero padding
        row, zeroed last because the tied MLM decoder's init would otherwise overwrite it."""
        super().init_weights()
        with torch.no_grad():
            for module in self.modules():
                if isinstance(module, nn.Embedding) and module.padding_idx is not None:
                    module.weight[module.padding_idx].zero_()

    def _init_module(self, module: nn.Module) -> None:
        super()._init_module(module)
        if isinstance(module, BertLMPredictionHead):
            nn.init.zeros_(module.bias)


class BertModel(BertPreTrained):
    """The encoder trunk; stock `BertModel` keys carry no `bert.` prefix, the heads add it."""

    hf_architecture = "BertModel"

    def __init__(self, config: BertConfig, add_pooling_layer: bool = True) -> None:
        super().__init__(config)
        self.embeddings = BertEmbeddings(config)
        self.encoder = BertEncoder(config)
        self.pooler = BertPooler(config) if add_pooling_layer else None

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        output_attentions: bool = False,
        document_ids: torch.Tensor | None = None,
    ) -> BaseModelOutputWithPoolingAndCrossAttentions:
        """`document_ids` (B, L) keeps packed documents from attending to each other; pass
        `position_ids` restarting at each document with them."""
        x = self.embeddings(input_ids, token_type_ids, position_ids)  # (B, L, C)
        pad = padding_bias(attention_mask, x.dtype) if attention_mask is not None else None  # (B, 1, 1, L)
        docs = document_bias(document_ids, x.dtype) if document_ids is not None else None  # (B, 1, L, L)
        x, attentions = self.encoder(x, combine(pad, docs), output_attentions)
        return BaseModelOutputWithPoolingAndCrossAttentions(
            last_hidden_state=x,
            pooler_output=self.pooler(x) if self.pooler is not None else None,
            attentions=attentions,
        )


class BertForMaskedLM(BertPreTrained):
    """Masked-token prediction over every position; labels of -100 are not scored."""

    hf_architecture = "BertForMaskedLM"
    tied_keys = _MLM_TIES

    def __init__(self, config: BertConfig) -> None:
        super().__init__(config)
        if not getattr(config, "tie_word_embeddings", True):
            self.tied_keys = {}  # untied checkpoints store decoder.weight/bias; HF then ties nothing
        self.bert = BertModel(config, add_pooling_layer=False)
        self.cls = BertOnlyMLMHead(config)
        self.tie_weights()

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        output_attentions: bool = False,
        num_items: int | torch.Tensor | None = None,
        document_ids: torch.Tensor | None = None,
    ) -> MaskedLMOutput:
        out = self.bert(input_ids, attention_mask, token_type_ids, position_ids, output_attentions, document_ids)
        logits = self.cls(out.last_hidden_state)  # (B, L, V)
        loss = token_cross_entropy(logits, labels, num_items) if labels is not None else None
        return MaskedLMOutput(loss=loss, logits=logits, attentions=out.attentions)


class BertForSequenceClassification(BertPreTrained):
    """[CLS] pooler -> dropout -> linear, as HF; loss by `config.problem_type` (HF's rule)."""

    hf_architecture = "BertForSequenceClassification"

    def __init__(self, config: BertConfig) -> None:
        super().__init__(config)
        self.bert = BertModel(config)
        p = config.classifier_dropout if config.classifier_dropout is not None else config.hidden_dropout_prob
        self.dropout = nn.Dropout(p)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        output_attentions: bool = False,
        class_weights: torch.Tensor | None = None,
        num_items: int | torch.Tensor | None = None,
    ) -> SequenceClassifierOutput:
        """`class_weights` (N,) reweights single-label cross-entropy, e.g. for imbalanced classes.
        `num_items` (examples across accumulation steps and ranks) turns the per-batch mean into
        sum / num_items, so each example counts the same whatever the micro-batch split."""
        out = self.bert(input_ids, attention_mask, token_type_ids, position_ids, output_attentions)
        logits = self.classifier(self.dropout(out.pooler_output))  # (B, N)
        loss = None
        if labels is not None:
            loss, self.config.problem_type = sequence_classification_loss(logits, labels, self.config.problem_type)
            if class_weights is not None:
                if self.config.problem_type != "single_label_classification":
                    raise FrameworkError(
                        f"class_weights apply to single-label classification only, not "
                        f"'{self.config.problem_type}'; drop them or use integer class labels."
                    )
                weight = class_weights.to(device=logits.device, dtype=torch.float32)
                reduction = "mean" if num_items is None else "sum"
                loss = F.cross_entropy(logits.float(), labels.view(-1), weight=weight, reduction=reduction)
                if num_items is not None:
                    loss = loss / num_items
            elif num_items is not None:
                loss = loss * logits.shape[0] / num_items  # every mode averages over the B examples
        return SequenceClassifierOutput(loss=loss, logits=logits, attentions=out.attentions)
