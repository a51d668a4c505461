"""Attention heatmaps for any zoo model, like bertviz's model view but as a PNG.

Every zoo model returns its attention probabilities with `output_attentions=True`: encoders and
decoders as `attentions`, encoder-decoders as `encoder_attentions`, `decoder_attentions` and
`cross_attentions`, each a tuple over layers of (B, H, L_query, L_key). Without --layer/--head the
figure is the model view: one small heatmap per layer (rows) and head (columns); --layer keeps one
row; --layer with --head draws a single map with the tokens on its axes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from framework.errors import FrameworkError


@dataclass
class AttentionMap:
    kind: str  # self-attention | encoder self-attention | decoder self-attention | cross-attention
    weights: torch.Tensor  # (layers, H, L_query, L_key)
    query_tokens: list[str]
    key_tokens: list[str]


@torch.no_grad()
def attention_maps(model, tokenizer, text: str, target: str | None = None,
                   max_new_tokens: int = 16) -> list[AttentionMap]:
    model.eval()
    enc = tokenizer(text, return_tensors="pt")
    ids, mask = enc["input_ids"], enc["attention_mask"]
    src_tokens = tokenizer.convert_ids_to_tokens(ids[0].tolist())
    if not model.is_encoder_decoder:
        out = model(input_ids=ids, attention_mask=mask, output_attentions=True)
        return [AttentionMap("self-attention", _stack(out.attentions), src_tokens, src_tokens)]
    decoder_ids = _decoder_ids(model, tokenizer, ids, mask, target, max_new_tokens)
    out = model(input_ids=ids, attention_mask=mask, decoder_input_ids=decoder_ids, output_attentions=True)
    tgt_tokens = tokenizer.convert_ids_to_tokens(decoder_ids[0].tolist())
    return [AttentionMap("encoder self-attention", _stack(out.encoder_attentions), src_tokens, src_tokens),
            AttentionMap("decoder self-attention", _stack(out.decoder_attentions), tgt_tokens, tgt_tokens),
            AttentionMap("cross-attention", _stack(out.cross_attentions), tgt_tokens, src_tokens)]


def _decoder_ids(model, tokenizer, ids, mask, target: str | None, max_new_tokens: int) -> torch.Tensor:
    """The decoder's inputs: the start token then the target (given, or the model's greedy output)."""
    start = model.config.decoder_start_token_id
    if target is not None:
        target_ids = tokenizer(target, add_special_tokens=False)["input_ids"]
        return torch.tensor([[start, *target_ids]])
    from framework.generation import generate

    return generate(model, ids, mask, max_new_tokens=max_new_tokens)


def _stack(attentions) -> torch.Tensor:
    if not attentions or attentions[0] is None:
        raise FrameworkError("the model returned no attention weights for output_attentions=True.")
    return torch.stack([a[0].float() for a in attentions])  # (layers, H, Lq, Lk)


def _pick(n: int, index: int | None, what: str) -> list[int]:
    if index is None:
        return list(range(n))
    if not -n <= index < n:
        raise FrameworkError(f"--{what} {index} is out of range: the model has {n} {what}s (0..{n - 1}, or negative "
                             f"from the end).")
    return [index % n]


def plot(maps: list[AttentionMap], out: str | Path, layer: int | None = None, head: int | None = None,
         title: str | None = None) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = []  # (map, layer index, head indices)
    for m in maps:
        layers = _pick(m.weights.shape[0], layer, "layer")
        heads = _pick(m.weights.shape[1], head, "head")
        panels += [(m, li, heads) for li in layers]
    cols = max(len(h) for _, _, h in panels)
    single = cols == 1 and len(panels) <= 3
    size = 5.0 if single else 1.6
    fig, axes = plt.subplots(len(panels), cols, figsize=(size * cols + 1, size * len(panels) + 0.6), squeeze=False)
    for row, (m, li, heads) in enumerate(panels):
        for col in range(cols):
            ax = axes[row][col]
            if col >= len(heads):
                ax.axis("off")
                continue
            _heatmap(ax, m, li, heads[col], labels=single)
    fig.suptitle(title or "attention", fontsize=10)
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def _heatmap(ax, m: AttentionMap, layer: int, head: int, labels: bool) -> None:
    grid = m.weights[layer, head]  # (Lq, Lk); colours scaled per map, as bertviz does
    ax.imshow(grid.numpy(), cmap="viridis", vmin=0.0, vmax=max(float(grid.max()), 1e-6), aspect="auto")
    ax.set_title(f"{m.kind}\nlayer {layer} head {head}" if labels else f"L{layer} H{head}", fontsize=8)
    if labels:
        ax.set_xticks(range(len(m.key_tokens)), m.key_tokens, rotation=90, fontsize=7)
        ax.set_yticks(range(len(m.query_tokens)), m.query_tokens, fontsize=7)
        ax.set_xlabel("attended (key) token", fontsize=8)
        ax.set_ylabel("query token", fontsize=8)
    else:
        ax.set_xticks([])
        ax.set_yticks([])
        if head == 0:
            ax.set_ylabel(m.kind.split()[0], fontsize=7)
