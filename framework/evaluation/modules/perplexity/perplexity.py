"""Perplexity from a model's own token losses: exp(total negative log-likelihood / total tokens).

The Hub's `perplexity` module downloads a model by id and runs it; here the model under evaluation
has already scored the text, so the module takes each example's summed NLL and its token count.
"""

import math

import datasets
import evaluate

_DESCRIPTION = "Corpus perplexity exp(sum NLL / sum tokens), and the mean of per-example perplexities."
_KWARGS = """
Args:
    nll: per example, the summed negative log-likelihood (nats) of its target tokens.
    num_tokens: per example, the number of target tokens scored.
Returns:
    perplexity (corpus level), mean_perplexity, perplexities (per example)
"""


class Perplexity(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION, citation="", inputs_description=_KWARGS,
            features=datasets.Features({"nll": datasets.Value("float64"), "num_tokens": datasets.Value("int64")}),
        )

    def _compute(self, nll, num_tokens):
        pairs = [(loss, n) for loss, n in zip(nll, num_tokens) if n > 0]
        if not pairs:
            raise ValueError("perplexity needs at least one example with scored tokens.")
        per_example = [math.exp(min(loss / n, 50.0)) for loss, n in pairs]
        total = sum(loss for loss, _ in pairs) / sum(n for _, n in pairs)
        return {"perplexity": math.exp(min(total, 50.0)), "mean_perplexity": sum(per_example) / len(per_example),
                "perplexities": per_example}
