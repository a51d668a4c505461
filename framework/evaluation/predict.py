"""Predictions and metrics for one split: what validation during training and `framework evaluate`
both run, so the numbers of the two always agree.

classification: logits -> class ids (argmax, or sigmoid > 0.5 for multi-label); loss is the task's
sft / seq2seq:  teacher-forced token NLL (loss, perplexity) and, for text metrics or saved
                predictions, greedy/beam generation from the prompt / source
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from framework.evaluation.metrics import METRICS, compute


@dataclass
class SplitResult:
    metrics: dict[str, float]
    predictions: list[dict] = field(default_factory=list)
    num_examples: int = 0


def _batches(items: list, size: int):
    for i in range(0, len(items), size):
        yield items[i:i + size]


def _to(batch: dict, device: torch.device) -> dict:
    return {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}


@torch.no_grad()
def evaluate_split(task, model, rows: list[dict], examples: list[dict], metrics: list[str], *,
                   batch_size: int = 16, max_new_tokens: int = 32, num_beams: int = 1, hub: bool = False,
                   want_predictions: bool = False) -> SplitResult:
    """Metrics (plus `loss`) of `model` on encoded `examples` (rows are the raw dataset rows, for
    reference texts); predictions per example when asked."""
    was_training = model.training
    model.eval()
    try:
        if task.name == "classification":
            return _classification(task, model, examples, metrics, batch_size, hub)
        return _generative(task, model, rows, examples, metrics, batch_size, max_new_tokens, num_beams, hub,
                           want_predictions)
    finally:
        model.train(was_training)


def _classification(task, model, examples, metrics, batch_size, hub) -> SplitResult:
    device = next(model.parameters()).device
    preds, refs, scores, loss_sum = [], [], [], 0.0
    for chunk in _batches(examples, batch_size):
        batch = _to(task.collate(chunk), device)
        logits = model(**task.model_inputs(batch)).logits.float()  # (B, N)
        loss_sum += task.loss_from_logits(logits, batch["labels"]).item()
        preds += task.predict(logits)
        labels = batch["labels"]
        refs += labels.long().tolist()
        probs = logits.sigmoid() if task.labels.multi_label else logits.softmax(-1)
        scores += probs.tolist()
    values = compute(metrics, predictions=preds, references=refs, multi_label=task.labels.multi_label, hub=hub)
    values["loss"] = loss_sum / len(examples)
    names = task.labels.names
    records = [{"prediction": _names(p, names), "reference": _names(r, names), "scores": [round(x, 6) for x in s]}
               for p, r, s in zip(preds, refs, scores)]
    return SplitResult(values, records, len(examples))


def _names(value, names: list[str]):
    if isinstance(value, list):
        return [names[i] for i, on in enumerate(value) if on]
    return names[value]


def _generative(task, model, rows, examples, metrics, batch_size, max_new_tokens, num_beams, hub,
                want_predictions) -> SplitResult:
    device = next(model.parameters()).device
    nll, counts = [], []
    for chunk in _batches(examples, batch_size):
        batch = _to(task.collate(chunk), device)
        per_example, n = task.token_nll(model, batch)
        nll += per_example.tolist()
        counts += n.tolist()
    values: dict[str, float] = {"loss": sum(nll) / max(sum(counts), 1)}
    text_metrics = [m for m in metrics if METRICS[m].kind == "text"]
    nll_metrics = [m for m in metrics if METRICS[m].kind == "nll"]
    if nll_metrics:
        values.update(compute(nll_metrics, nll=nll, num_tokens=counts, hub=hub))
    records = []
    if text_metrics or want_predictions:
        outputs = generate_texts(task, model, rows, examples, batch_size, max_new_tokens, num_beams)
        refs = [task.text(row, "response" if task.name == "sft" else "target", "reference") for row in rows]
        if text_metrics:
            values.update(compute(text_metrics, predictions=[o.strip() for o in outputs], references=refs, hub=hub))
        records = [{"prediction": o, "reference": r, "perplexity": math.exp(min(l / max(c, 1), 50))}
                   for o, r, l, c in zip(outputs, refs, nll, counts)]
    return SplitResult(values, records, len(examples))


def generate_texts(task, model, rows, examples, batch_size, max_new_tokens, num_beams) -> list[str]:
    """Decoded continuations: per prompt for decoders (no padding, exactly what a stock
    text-generation pipeline runs), in padded batches for encoder-decoders."""
    from framework.generation import generate

    device = next(model.parameters()).device
    tok = task.tokenizer
    settings = dict(max_new_tokens=max_new_tokens, num_beams=num_beams)
    texts = []
    if task.name == "sft":
        for ex in examples:
            prompt = torch.tensor([ex["input_ids"][: ex["prompt_length"]]], device=device)
            out = generate(model, prompt, torch.ones_like(prompt), **settings)
            texts.append(tok.decode(out[0, prompt.shape[1]:].tolist(), skip_special_tokens=True))
        return texts
    for chunk in _batches(examples, batch_size):
        batch = _to(task.collate(chunk), device)
        out = generate(model, batch["input_ids"], batch["attention_mask"], **settings)
        texts += tok.batch_decode(out.tolist(), skip_special_tokens=True)
    return texts
