"""sacreBLEU (Post 2018): BLEU with standard tokenisation and a version signature, through the
sacrebleu package; `score` is on the 0-100 scale."""

import datasets
import evaluate
import sacrebleu as scb

_DESCRIPTION = "sacreBLEU corpus score (0-100) with its counts, precisions and lengths."
_KWARGS = """
Args:
    predictions: predicted strings.
    references: a list of references per prediction (every prediction the same number), or one string each.
    smooth_method: 'exp' (default), 'floor', 'add-k' or 'none'.
    smooth_value: value for 'floor' and 'add-k'.
    lowercase: compare lowercased text.
    tokenize: sacrebleu tokenizer name ('13a' by default, 'intl', 'zh', 'char', 'none', ...).
    use_effective_order: ignore n-gram orders with no matches (for sentence-level scores).
Returns:
    score, counts, totals, precisions, bp, sys_len, ref_len
"""


class Sacrebleu(evaluate.Metric):
    def _info(self):
        string = datasets.Value("string")
        return evaluate.MetricInfo(
            description=_DESCRIPTION, citation="", inputs_description=_KWARGS,
            features=[datasets.Features({"predictions": string, "references": datasets.Sequence(string)}),
                      datasets.Features({"predictions": string, "references": string})],
        )

    def _compute(self, predictions, references, smooth_method="exp", smooth_value=None, force=False,
                 lowercase=False, tokenize=None, use_effective_order=False):
        if isinstance(references[0], str):
            references = [[ref] for ref in references]
        per_pred = len(references[0])
        if any(len(refs) != per_pred for refs in references):
            raise ValueError("sacrebleu needs the same number of references for every prediction.")
        streams = [[refs[i] for refs in references] for i in range(per_pred)]
        out = scb.corpus_bleu(predictions, streams, smooth_method=smooth_method, smooth_value=smooth_value,
                              force=force, lowercase=lowercase, use_effective_order=use_effective_order,
                              **({"tokenize": tokenize} if tokenize is not None else {}))
        return {"score": out.score, "counts": out.counts, "totals": out.totals, "precisions": out.precisions,
                "bp": out.bp, "sys_len": out.sys_len, "ref_len": out.ref_len}
