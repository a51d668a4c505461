"""`framework data prepare`: corpora -> tokenised, packed shards plus `index.json`.

Idempotent and resumable: the input is cut into fixed chunks of `docs_per_shard` documents
per unit (file or Hub shard), each written under temporary names and renamed when complete;
a re-run skips finished chunks, and an interrupted chunk is redone from its first document,
so nothing is duplicated. Units are dealt round-robin to `num_workers` workers (processes,
machines or Slurm array tasks) that share nothing but the output folder; whoever finishes last
(or `framework data merge`) merges the chunk manifests into the index.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from framework.data.encode import EncodePool
from framework.data.errors import DataError
from framework.data.io import read_json, write_json
from framework.data.recipe import DataRecipe, PrepareConfig, SourceConfig
from framework.data.shards import SPLITS, chunk_done, token_dtype, write_index, write_split
from framework.data.sources import ReadStats, Unit, list_units, read_documents
from framework.data.split import is_validation
from framework.data.tokenizer import document_end_id, tokenizer_hash, vocab_size
from framework.data.tokenizer_train import resolve_tokenizer

log = logging.getLogger(__name__)
INDEX = "index.json"
PLAN = "plan.json"


def prepare(recipe: DataRecipe, worker: int = 0, num_workers: int = 1) -> Path | None:
    """Prepare this worker's share of the recipe; return the index path once every unit is done."""
    if not 0 <= worker < num_workers:
        raise DataError(f"worker {worker} is not in [0, {num_workers}).")
    out = Path(recipe.prepare.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tok, tok_path = resolve_tokenizer(recipe, allow_train=num_workers == 1)
    plan = _record_plan(out, make_plan(recipe, tok, tok_path))
    units = [Unit(**u) for u in plan["units"]]
    sources = {s.name: s for s in recipe.sources}
    dtype = np.dtype(plan["dtype"])
    bos = tok.bos_token_id if recipe.prepare.add_bos else None
    with EncodePool(tok.backend_tokenizer.to_str(), document_end_id(tok), bos, recipe.prepare.num_proc) as pool:
        for unit in units[worker::num_workers]:
            prepare_unit(sources[unit.source], unit, recipe.prepare, pool, out, dtype)
    pending = _pending_units(out, plan)
    if pending:
        log.info("%d unit(s) still being prepared by other workers; `framework data merge %s` once they finish",
                 len(pending), out)
        return None
    return merge(out)


def make_plan(recipe: DataRecipe, tok, tok_path: str) -> dict:
    size = vocab_size(tok)
    if recipe.prepare.add_bos and tok.bos_token_id is None:
        raise DataError("prepare.add_bos is set but the tokenizer has no bos token.")
    tokenizer = {"hash": tokenizer_hash(tok), "vocab_size": size, "eos_id": document_end_id(tok),
                 "bos_id": tok.bos_token_id, "pad_id": tok.pad_token_id, "path": tok_path}
    sources = [{"name": s.name, "weight": w, "spec": dataclasses.asdict(s)} for s, w in
               zip(recipe.sources, recipe.weights().values())]
    units = [dataclasses.asdict(u) for s in recipe.sources for u in list_units(s)]
    p = recipe.prepare
    settings = {"validation_fraction": p.validation_fraction, "docs_per_shard": p.docs_per_shard,
                "add_bos": p.add_bos, "seed": p.seed}
    return {"tokenizer": tokenizer, "dtype": token_dtype(size).name, "settings": settings,
            "sources": sources, "units": units}


def _comparable(plan: dict) -> dict:
    """A plan without what may change between runs without touching shards (paths, weights)."""
    tokenizer = {k: v for k, v in plan["tokenizer"].items() if k != "path"}
    sources = [{**s, "weight": None, "spec": {**s["spec"], "weight": None}} for s in plan["sources"]]
    return {**plan, "tokenizer": tokenizer, "sources": sources}


def _record_plan(out: Path, plan: dict) -> dict:
    path = out / PLAN
    if path.exists():
        old = read_json(path, "plan")
        if _comparable(old) != _comparable(plan):
            differs = [k for k in plan if _comparable(old).get(k) != _comparable(plan)[k]]
            raise DataError(f"{out} holds shards prepared with a different recipe or tokenizer (differs in: "
                            f"{', '.join(differs)}). Use another prepare.out_dir, or delete {out} to start over.")
    write_json(path, plan)
    return plan


def _batched(items: Iterable, n: int) -> Iterator[list]:
    it = iter(items)
    while batch := list(itertools.islice(it, n)):
        yield batch


def prepare_unit(source: SourceConfig, unit: Unit, cfg: PrepareConfig, pool: EncodePool, out: Path,
                 dtype: np.dtype) -> None:
    marker = out / "units" / f"{unit.uid}.json"
    if marker.exists() and all(chunk_done(out, c, dtype.itemsize) for c in read_json(marker)["chunks"]):
        log.info("%s: already prepared", unit.uid)
        return
    stats = ReadStats()
    chunks = []
    for k, docs in enumerate(_batched(read_documents(source, unit, stats), cfg.docs_per_shard)):
        name = f"{unit.uid}-{k:05d}"
        chunks.append(name)
        if not chunk_done(out, name, dtype.itemsize):
            write_chunk(out, name, unit, docs, cfg, pool, dtype)
    marker.parent.mkdir(exist_ok=True)
    write_json(marker, {"unit": dataclasses.asdict(unit), "chunks": chunks, "stats": dataclasses.asdict(stats)})
    _report(unit, stats)


def write_chunk(out: Path, name: str, unit: Unit, docs: list[tuple[str, str]], cfg: PrepareConfig,
                pool: EncodePool, dtype: np.dtype) -> None:
    held = [is_validation(key, cfg.validation_fraction, cfg.seed) for key, _ in docs]
    groups = {"train": [t for (_, t), h in zip(docs, held) if not h],
              "validation": [t for (_, t), h in zip(docs, held) if h]}
    splits = {}
    for split in SPLITS:
        texts = groups[split]
        tokens, lengths = pool.encode(texts) if texts else (np.zeros(0, np.uint32), np.zeros(0, np.int64))
        splits[split] = write_split(out, name, split, tokens, lengths, dtype)
    write_json(out / f"{name}.json", {"chunk": name, "source": unit.source, "unit": unit.index, "splits": splits})
    log.info("%s: %d documents, %d tokens", name, len(docs), sum(s["num_tokens"] for s in splits.values()))


def _report(unit: Unit, stats: ReadStats) -> None:
    if stats.invalid_utf8 or stats.empty:
        log.warning("%s (%s): skipped %d document(s) with invalid UTF-8 and %d empty one(s)",
                    unit.uid, unit.detail, stats.invalid_utf8, stats.empty)


# -- merge ------------------------------------------------------------------------------------
def _pending_units(out: Path, plan: dict) -> list[str]:
    uids = [Unit(**u).uid for u in plan["units"]]
    return [uid for uid in uids if not (out / "units" / f"{uid}.json").exists()]


def merge(out_dir: str | Path) -> Path:
    """Merge every unit's chunk manifests into `index.json` (all units must be finished)."""
    out = Path(out_dir)
    plan = read_json(out / PLAN, "plan (written by `framework data prepare`)")
    pending = _pending_units(out, plan)
    if pending:
        raise DataError(f"{len(pending)} of {len(plan['units'])} input units are not prepared yet "
                        f"({', '.join(pending[:5])}{', ...' if len(pending) > 5 else ''}); run the missing "
                        f"`framework data prepare` workers first.")
    shards, stats = _collect(out, plan)
    summaries = [_source_summary(s, stats[s["name"]], shards) for s in plan["sources"]]
    totals = {split: {"num_tokens": sum(x["num_tokens"] for x in shards if x["split"] == split),
                      "num_documents": sum(x["num_documents"] for x in shards if x["split"] == split)}
              for split in SPLITS}
    index = {"tokenizer": plan["tokenizer"], "dtype": plan["dtype"], "settings": plan["settings"],
             "sources": summaries, "splits": totals, "shards": shards}
    path = out / INDEX
    write_index(path, index)
    log.info("wrote %s: %d train / %d validation tokens", path, totals["train"]["num_tokens"],
             totals["validation"]["num_tokens"])
    return path


def _collect(out: Path, plan: dict) -> tuple[list[dict], dict[str, ReadStats]]:
    shards: list[dict] = []
    stats = {s["name"]: ReadStats() for s in plan["sources"]}
    for unit in (Unit(**u) for u in plan["units"]):
        record = read_json(out / "units" / f"{unit.uid}.json", "unit record")
        stats[unit.source].add(ReadStats(**record["stats"]))
        for chunk in record["chunks"]:
            manifest = read_json(out / f"{chunk}.json", "chunk manifest")
            shards += [{"split": split, "source": unit.source, **manifest["splits"][split]} for split in SPLITS]
    return shards, stats


def _source_summary(source: dict, stats: ReadStats, shards: list[dict]) -> dict:
    mine = [s for s in shards if s["source"] == source["name"]]
    if stats.documents == 0:
        raise DataError(f"source '{source['name']}' yielded no documents ({stats.filtered} filtered out, "
                        f"{stats.invalid_utf8} invalid UTF-8, {stats.empty} empty); check its path and filters.")
    per_split = {split: sum(s["num_tokens"] for s in mine if s["split"] == split) for split in SPLITS}
    return {"name": source["name"], "weight": source["weight"], "spec": source["spec"],
            "num_tokens": per_split, "read": dataclasses.asdict(stats)}
