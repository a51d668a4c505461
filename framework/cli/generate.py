"""`framework generate MODEL --prompt TEXT`: sample from any zoo model."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(sub) -> None:
    p = sub.add_parser(
        "generate",
        help="generate text from a model (greedy, sampling, beam search)",
        description="Generate from MODEL: an HF-format folder, a training run folder or one of its "
        "checkpoints. Decoder-only models continue the prompt; encoder-decoder models take it as the "
        "source. The tokenizer is read from the model folder (or --tokenizer); with --ids the prompt "
        "is a list of token ids and ids are printed.",
    )
    p.add_argument("model", help="HF model folder, run folder or checkpoint folder")
    p.add_argument("--prompt", action="append", required=True, help="prompt text (repeat for a batch)")
    p.add_argument("--tokenizer", help="tokenizer folder (default: the model's)")
    p.add_argument("--ids", action="store_true", help="prompts are space-separated token ids")
    p.add_argument("--max-new-tokens", type=int, default=50)
    p.add_argument("--min-new-tokens", type=int)
    p.add_argument("--do-sample", action="store_true", help="sample instead of greedy/beam decoding")
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--top-k", type=int, default=50)
    p.add_argument("--top-p", type=float, default=1.0)
    p.add_argument("--num-beams", type=int, default=1)
    p.add_argument("--length-penalty", type=float, default=1.0)
    p.add_argument("--no-repeat-ngram-size", type=int, default=0)
    p.add_argument("--seed", type=int, help="seed for sampling (reproducible output)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import torch

    import framework
    from framework.generation import GenerationConfig, generate

    model = framework.load(args.model)
    config = GenerationConfig(
        max_new_tokens=args.max_new_tokens, min_new_tokens=args.min_new_tokens, do_sample=args.do_sample,
        temperature=args.temperature, top_k=args.top_k, top_p=args.top_p, num_beams=args.num_beams,
        length_penalty=args.length_penalty, no_repeat_ngram_size=args.no_repeat_ngram_size, seed=args.seed,
    )
    if args.ids:
        rows = [[int(t) for t in p.split()] for p in args.prompt]
        if len({len(r) for r in rows}) != 1:
            from framework.errors import FrameworkError

            raise FrameworkError("--ids prompts in one batch must have the same length.")
        out = generate(model, torch.tensor(rows), config=config)
        for row in out.tolist():
            print(" ".join(map(str, row)))
        return 0
    tok = _tokenizer(args.tokenizer or args.model)
    tok.padding_side = "left"
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    enc = tok(args.prompt, return_tensors="pt", padding=True)
    out = generate(model, enc["input_ids"], enc["attention_mask"], config=config)
    for prompt, row in zip(args.prompt, out):
        text = tok.decode(row, skip_special_tokens=True)
        print(text if model.is_encoder_decoder else text, flush=True)
    return 0


def _tokenizer(path: str):
    from framework.data import load_tokenizer

    folder = Path(path)
    for candidate in (folder, folder / "model", folder.parent.parent / "model"):
        if (candidate / "tokenizer.json").exists():
            return load_tokenizer(candidate)
    return load_tokenizer(path)
