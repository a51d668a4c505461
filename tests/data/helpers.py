"""Small corpora in the formats the data layer reads, written by the tests."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from framework.data.recipe import DataRecipe, PrepareConfig, SourceConfig, TokenizerConfig


def english_documents(n: int = 40) -> list[str]:
    """Real English text: the Python Language Reference topics that ship with Python."""
    from pydoc_data.topics import topics

    docs = [topics[k].strip() for k in sorted(topics) if len(topics[k]) > 1500]
    return [d[:3000] for d in docs[:n]]


def write_fineweb_parquet(path: Path, texts: list[str], int_scores: list[int], start: int = 0) -> Path:
    """A parquet file in FineWeb-Edu's schema."""
    n = len(texts)
    table = pa.table({
        "text": texts,
        "id": [f"<urn:uuid:{start + i:08d}>" for i in range(n)],
        "dump": ["CC-MAIN-2024-10"] * n,
        "url": [f"https://example.org/{start + i}" for i in range(n)],
        "file_path": ["s3://commoncrawl/x.warc.gz"] * n,
        "language": ["en"] * n,
        "language_score": [0.95] * n,
        "token_count": [len(t.split()) for t in texts],
        "score": [s + 0.25 for s in int_scores],
        "int_score": int_scores,
    })
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)
    return path


def write_jsonl(path: Path, texts: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts), encoding="utf-8")
    return path


def tiny_recipe(corpus_dir: Path, out: Path, kind: str = "bpe", vocab_size: int = 400, **prepare) -> DataRecipe:
    sources = [SourceConfig(name="fineweb", path=str(corpus_dir / "fineweb" / "*.parquet"), min_int_score=3,
                            id_field="id", weight=3.0),
               SourceConfig(name="notes", path=str(corpus_dir / "notes.jsonl"), weight=1.0)]
    settings = dict(out_dir=str(out / "shards"), validation_fraction=0.2, docs_per_shard=4, num_proc=1)
    settings.update(prepare)
    return DataRecipe(sources=sources, tokenizer=TokenizerConfig(kind=kind, vocab_size=vocab_size,
                                                                 out_dir=str(out / "tokenizer")),
                      prepare=PrepareConfig(**settings))
