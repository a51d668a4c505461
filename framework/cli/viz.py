"""`framework viz attention CHECKPOINT --text "..." [--layer L --head H] --out attn.png`."""

from __future__ import annotations

import argparse


def add_parser(sub) -> None:
    p = sub.add_parser("viz", help="visualise a model (attention heatmaps)",
                       description="Pictures of what a model does; `framework viz attention -h` for attention maps.")
    kinds = p.add_subparsers(dest="viz", metavar="KIND", required=True)
    a = kinds.add_parser(
        "attention", help="draw attention heatmaps for a text",
        description="Run CHECKPOINT (any zoo model: a run, a checkpoint, an HF folder or Hub id) on --text with "
        "output_attentions=True and draw the attention probabilities: every layer (rows) and head (columns) by "
        "default, like bertviz's model view; --layer picks one layer, --layer with --head one map with the tokens "
        "on its axes. Encoder-decoders show encoder self-, decoder self- and cross-attention; the decoder reads "
        "--target, or the model's own greedy output when it is not given.",
    )
    a.add_argument("checkpoint", help="run folder, checkpoint folder, HF model folder or Hub id")
    a.add_argument("--text", required=True, help="input text (the encoder's, for encoder-decoders)")
    a.add_argument("--target", help="decoder text for encoder-decoders (default: generated)")
    a.add_argument("--layer", type=int, help="layer index (negative counts from the end); default all")
    a.add_argument("--head", type=int, help="head index; default all")
    a.add_argument("--out", default="attention.png", help="PNG path (default attention.png)")
    a.set_defaults(func=run_attention)


def run_attention(args: argparse.Namespace) -> int:
    from framework.data import load_tokenizer
    from framework.finetune.checkpoints import load_model, locate
    from framework.viz.attention import attention_maps, plot

    model = load_model(args.checkpoint)
    tokenizer = load_tokenizer(locate(args.checkpoint).tokenizer)
    maps = attention_maps(model, tokenizer, args.text, args.target)
    out = plot(maps, args.out, args.layer, args.head, title=f"{model.hf_architecture}: {args.text[:60]}")
    shapes = ", ".join(f"{m.kind} {tuple(m.weights.shape)}" for m in maps)
    print(f"wrote {out} ({shapes}; layers x heads x query x key)")
    return 0
