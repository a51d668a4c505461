"""ROUGE (Lin 2004) through Google's rouge_score package: F-measures of n-gram (rouge1, rouge2) and
longest-common-subsequence (rougeL, rougeLsum) overlap, bootstrap-aggregated like the Hub module."""

import datasets
import evaluate
from rouge_score import rouge_scorer, scoring

_DESCRIPTION = "ROUGE F-measures between predictions and one or more references per prediction."
_KWARGS = """
Args:
    predictions: predicted strings.
    references: a reference string, or a list of references, per prediction.
    rouge_types: subset of ['rouge1', 'rouge2', 'rougeL', 'rougeLsum'] (default: all four).
    use_aggregator: return the aggregated mid F-measure (True) or per-example scores (False).
    use_stemmer: Porter-stem words before matching.
    tokenizer: an object with `tokenize(text) -> list[str]` replacing rouge_score's default.
Returns:
    one float per ROUGE type (a list per example when use_aggregator=False)
"""


class Rouge(evaluate.Metric):
    def _info(self):
        string = datasets.Value("string")
        return evaluate.MetricInfo(
            description=_DESCRIPTION, citation="", inputs_description=_KWARGS,
            features=[datasets.Features({"predictions": string, "references": datasets.Sequence(string)}),
                      datasets.Features({"predictions": string, "references": string})],
        )

    def _compute(self, predictions, references, rouge_types=None, use_aggregator=True, use_stemmer=False,
                 tokenizer=None):
        rouge_types = rouge_types or ["rouge1", "rouge2", "rougeL", "rougeLsum"]
        scorer = rouge_scorer.RougeScorer(rouge_types=rouge_types, use_stemmer=use_stemmer, tokenizer=tokenizer)
        multi_ref = isinstance(references[0], list)
        aggregator = scoring.BootstrapAggregator() if use_aggregator else None
        per_example = []
        for ref, pred in zip(references, predictions):
            score = scorer.score_multi(ref, pred) if multi_ref else scorer.score(ref, pred)
            if aggregator is not None:
                aggregator.add_scores(score)
            else:
                per_example.append(score)
        if aggregator is not None:
            result = aggregator.aggregate()
            return {key: float(result[key].mid.fmeasure) for key in result}
        return {key: [s[key].fmeasure for s in per_example] for key in rouge_types}
