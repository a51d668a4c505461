"""BLEU (Papineni et al. 2002): corpus-level modified n-gram precision with a brevity penalty,
on 13a-tokenised text (the WMT tokenisation), as the Hub's `bleu` module reports it."""

import collections
import math

import datasets
import evaluate
from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a

_DESCRIPTION = "Corpus BLEU in [0, 1] with its n-gram precisions and brevity penalty."
_KWARGS = """
Args:
    predictions: predicted strings.
    references: a reference string, or a list of references, per prediction.
    tokenizer: callable str -> list[str] (default: 13a tokenisation, split on spaces).
    max_order: longest n-gram (default 4).
    smooth: add-one smoothing of the n-gram precisions (Lin and Och 2004).
Returns:
    bleu, precisions, brevity_penalty, length_ratio, translation_length, reference_length
"""


def _ngrams(tokens, max_order):
    counts = collections.Counter()
    for n in range(1, max_order + 1):
        for i in range(len(tokens) - n + 1):
            counts[tuple(tokens[i:i + n])] += 1
    return counts


def corpus_bleu(references, hypotheses, max_order=4, smooth=False):
    """references: per hypothesis a list of token lists; hypotheses: token lists."""
    matches, possible = [0] * max_order, [0] * max_order
    ref_len = hyp_len = 0
    for refs, hyp in zip(references, hypotheses):
        ref_len += min(len(r) for r in refs)  # shortest reference, as the reference NMT script does
        hyp_len += len(hyp)
        max_ref = collections.Counter()
        for ref in refs:
            max_ref |= _ngrams(ref, max_order)
        overlap = _ngrams(hyp, max_order) & max_ref
        for ngram, count in overlap.items():
            matches[len(ngram) - 1] += count
        for n in range(1, max_order + 1):
            possible[n - 1] += max(len(hyp) - n + 1, 0)
    precisions = []
    for m, p in zip(matches, possible):
        if smooth:
            precisions.append((m + 1.0) / (p + 1.0))
        else:
            precisions.append(m / p if p > 0 else 0.0)
    geo_mean = math.exp(sum(math.log(p) for p in precisions) / max_order) if min(precisions) > 0 else 0.0
    ratio = hyp_len / ref_len if ref_len else 0.0
    bp = 1.0 if ratio > 1.0 else (math.exp(1 - 1.0 / ratio) if ratio > 0 else 0.0)
    return geo_mean * bp, precisions, bp, ratio, hyp_len, ref_len


class Bleu(evaluate.Metric):
    def _info(self):
        string = datasets.Value("string")
        return evaluate.MetricInfo(
            description=_DESCRIPTION, citation="", inputs_description=_KWARGS,
            features=[datasets.Features({"predictions": string, "references": datasets.Sequence(string)}),
                      datasets.Features({"predictions": string, "references": string})],
        )

    def _compute(self, predictions, references, tokenizer=None, max_order=4, smooth=False):
        tokenize = tokenizer or (lambda text: Tokenizer13a()(text).split())
        if isinstance(references[0], str):
            references = [[ref] for ref in references]
        refs = [[tokenize(r) for r in group] for group in references]
        hyps = [tokenize(p) for p in predictions]
        bleu, precisions, bp, ratio, hyp_len, ref_len = corpus_bleu(refs, hyps, max_order, smooth)
        return {"bleu": bleu, "precisions": precisions, "brevity_penalty": bp, "length_ratio": ratio,
                "translation_length": hyp_len, "reference_length": ref_len}
