"""`framework evaluate CHECKPOINT --data ... [--metrics ...]`: measure a model on a labelled split."""

from __future__ import annotations

import argparse


def add_parser(sub) -> None:
    p = sub.add_parser(
        "evaluate",
        help="evaluate a fine-tuned model on a data split (accuracy, F1, ROUGE, BLEU, exact match, perplexity)",
        description="Run CHECKPOINT (a fine-tuning run, one of its checkpoints, an HF model folder or Hub id) on a "
        "split and compute metrics through the `evaluate` library, with the metric modules shipped in the package "
        "(--hub-metrics loads the Hub's instead). For a fine-tuning run, its recipe supplies the task, columns, "
        "template and lengths; key=value overrides change them (data.columns.text=review). Results are written as "
        "JSON next to the checkpoint (eval_<split>.json) and printed as a table.",
    )
    p.add_argument("checkpoint", help="run folder, checkpoint folder, HF model folder or Hub id")
    p.add_argument("overrides", nargs="*", help="key=value overrides of the fine-tuning recipe fields")
    p.add_argument("--data", help="dataset: a Hub id, or a local csv / jsonl / parquet file or folder "
                   "(default: the run's data)")
    p.add_argument("--split", default="test", choices=["train", "validation", "test"], help="split (default test)")
    p.add_argument("--metrics", help="comma-separated metric names (default: the run's, or the task's defaults)")
    p.add_argument("--batch-size", type=int, help="examples per forward pass")
    p.add_argument("--max-examples", type=int, default=0, help="evaluate only the first N examples")
    p.add_argument("--save-predictions", action="store_true", help="also write <results>_predictions.jsonl")
    p.add_argument("--hub-metrics", action="store_true", help="load metric modules from the Hub (needs network)")
    p.add_argument("--out", help="results JSON path (default: next to the checkpoint)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from framework.evaluation.runner import evaluate_checkpoint, format_table

    metrics = [m.strip() for m in args.metrics.split(",") if m.strip()] if args.metrics else None
    result = evaluate_checkpoint(args.checkpoint, data=args.data, split=args.split, metrics=metrics,
                                 overrides=args.overrides, batch_size=args.batch_size, max_examples=args.max_examples,
                                 hub_metrics=args.hub_metrics, save_predictions=args.save_predictions, out=args.out)
    rec = result.record
    print(f"{rec['checkpoint']} on {rec['dataset']} [{rec['split']}], {rec['num_examples']} examples:")
    print(format_table(rec["metrics"]))
    print(f"results: {result.results_path}")
    return 0
