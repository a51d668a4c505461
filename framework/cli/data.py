"""`framework data prepare|merge|verify`: tokenise corpora into packed shards and check them."""

from __future__ import annotations

import argparse
import os


def add_parser(sub) -> None:
    p = sub.add_parser("data", help="prepare packed token shards from a data recipe, merge and verify them",
                       description="Corpora -> tokenizer -> packed token shards with a JSON index.")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    prep = actions.add_parser("prepare", help="tokenise the recipe's sources into shards (resumable)",
                              description="Tokenise a recipe's sources into shards; re-running skips finished "
                              "shards. Under a Slurm array, each task takes its share automatically.")
    prep.add_argument("recipe", help="data recipe YAML, e.g. recipes/data/embedded-bpe.yaml")
    prep.add_argument("overrides", nargs="*", help="key=value overrides, e.g. prepare.num_proc=8")
    prep.add_argument("--worker", type=int, help="this worker's number (default: Slurm array task, else 0)")
    prep.add_argument("--num-workers", type=int, help="workers sharing the inputs (default: Slurm array size, else 1)")
    prep.set_defaults(func=run_prepare)
    merge = actions.add_parser("merge", help="merge the shards of all workers into index.json",
                               description="Write index.json once every worker has finished.")
    merge.add_argument("out_dir", help="the recipe's prepare.out_dir")
    merge.set_defaults(func=run_merge)
    verify = actions.add_parser("verify", help="check every shard of an index against its checksum",
                                description="Re-hash every shard of an index and print its statistics.")
    verify.add_argument("index", help="path to index.json")
    verify.set_defaults(func=run_verify)


def slurm_worker() -> tuple[int, int]:
    """(worker, num_workers) from a Slurm job array, else (0, 1)."""
    if "SLURM_ARRAY_TASK_ID" not in os.environ:
        return 0, 1
    first = int(os.environ.get("SLURM_ARRAY_TASK_MIN", 0))
    return int(os.environ["SLURM_ARRAY_TASK_ID"]) - first, int(os.environ.get("SLURM_ARRAY_TASK_COUNT", 1))


def run_prepare(args: argparse.Namespace) -> int:
    from framework.data.pipeline import prepare
    from framework.data.recipe import load_recipe

    worker, num_workers = slurm_worker()
    worker = worker if args.worker is None else args.worker
    num_workers = num_workers if args.num_workers is None else args.num_workers
    index = prepare(load_recipe(args.recipe, args.overrides), worker, num_workers)
    if index is not None:
        print(f"index: {index}")
    return 0


def run_merge(args: argparse.Namespace) -> int:
    from framework.data.pipeline import merge

    print(f"index: {merge(args.out_dir)}")
    return 0


def run_verify(args: argparse.Namespace) -> int:
    from framework.data.shards import verify_index

    index = verify_index(args.index, checksum=True)
    tok = index["tokenizer"]
    print(f"{args.index}: {len(index['shards'])} shard files OK; tokenizer {tok['hash']} vocab {tok['vocab_size']} "
          f"({index['dtype']})")
    for source in index["sources"]:
        read = source["read"]
        print(f"  {source['name']:<20} weight {source['weight']:.3f}  train {source['num_tokens']['train']:>12,} tokens"
              f"  validation {source['num_tokens']['validation']:>10,}  documents {read['documents']:,}  skipped: "
              f"{read['invalid_utf8']} invalid UTF-8, {read['empty']} empty, {read['filtered']} filtered")
    return 0
