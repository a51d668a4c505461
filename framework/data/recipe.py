"""Data recipes: which corpora to read, which tokenizer to train or reuse, how to write shards.

A recipe is YAML loaded by the one config system (`framework.config`), so unknown keys are
rejected with a suggestion and `key=value` overrides work (`prepare.num_proc=4`).
"""

from __future__ import annotations

import glob
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from framework.config import load_config

SourceFormat = Literal["auto", "text", "json", "parquet", "csv"]
TokenizerKind = Literal["bpe", "wordpiece", "unigram"]
Normalization = Literal["default", "none", "nfc", "nfd", "nfkc", "nfkd"]
SPECIAL_ROLES = ("pad", "bos", "eos", "unk", "mask", "cls", "sep")
_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


@dataclass
class SourceConfig:
    """One corpus. Exactly one of `path` (local files), `hub` (dataset id) or `embedded` is set.

    Args:
        name: label used in shard names and the index; defaults to the file stem / dataset id.
        path: a local file, directory or glob (.txt, .jsonl/.json, .parquet, .csv), or a list of them.
        hub: a HuggingFace Hub dataset id (or a local dataset folder), read with `load_dataset`.
        embedded: the name of a built-in corpus (`python-docs`), see `framework.data.embedded`.
        config, split, streaming: passed to `load_dataset` for `hub` sources.
        format: file format of `path` sources; `auto` picks it from the suffix.
        text_field: the column holding the text; id_field: an optional stable document id.
        txt_sample_by: what a document is in .txt files: a line, a paragraph, or the whole file.
        weight: relative share of training samples drawn from this source.
        min_int_score, min_score, languages: FineWeb-style filters on those columns.
        max_documents: stop after this many documents (after filtering), for quick runs.
    """

    name: str = ""
    path: str | list[str] | None = None
    hub: str | None = None
    embedded: str | None = None
    config: str | None = None
    split: str = "train"
    streaming: bool = True
    format: SourceFormat = "auto"
    text_field: str = "text"
    id_field: str | None = None
    txt_sample_by: Literal["line", "paragraph", "document"] = "paragraph"
    weight: float = 1.0
    min_int_score: int | None = None
    min_score: float | None = None
    languages: list[str] = field(default_factory=list)
    max_documents: int | None = None

    def __post_init__(self) -> None:
        given = [k for k in ("path", "hub", "embedded") if getattr(self, k)]
        if len(given) != 1:
            raise ValueError(f"a source needs exactly one of 'path', 'hub' or 'embedded' (got {given or 'none'}).")
        if not self.name:
            self.name = _default_name(self)
        if not _NAME.match(self.name):
            raise ValueError(f"source name '{self.name}' may only hold letters, digits, '_', '.', '-'.")
        if self.weight <= 0:
            raise ValueError(f"source '{self.name}': weight must be > 0, got {self.weight}.")

    @property
    def paths(self) -> list[str]:
        return [self.path] if isinstance(self.path, str) else list(self.path or [])


def _default_name(source: SourceConfig) -> str:
    """`python-docs`; `fineweb-edu` for HuggingFaceFW/fineweb-edu; `notes` for data/notes.jsonl;
    `fineweb` for data/fineweb/*.parquet (the last path part that is not a glob)."""
    if source.embedded:
        return source.embedded
    parts = Path(source.hub or source.paths[0]).parts
    plain = [p for p in parts if not glob.has_magic(p)] or ["source"]
    stem = plain[-1] if source.hub else plain[-1].split(".")[0]
    return re.sub(r"[^A-Za-z0-9_.-]", "-", stem) or "source"


@dataclass
class TokenizerConfig:
    """Train a tokenizer (`kind`, `vocab_size`, ...) into `out_dir`, or reuse `pretrained`.

    Args:
        pretrained: an existing HF tokenizer folder (or Hub id) used as-is; nothing is trained.
        kind: `bpe` (byte-level, GPT-2/Llama), `wordpiece` (BERT) or `unigram` (T5).
        vocab_size: the full vocabulary, special tokens and sentinels included.
        special_tokens: role -> token, in id order from 0; empty means the kind's defaults
            (bpe: pad <pad>, bos <s>, eos </s>; wordpiece: [PAD] [UNK] [CLS] [SEP] [MASK];
            unigram: pad <pad>, eos </s>, unk <unk>).
        extra_ids: unigram only: number of `<extra_id_N>` sentinels for span corruption.
        normalization: unicode normal form; `default` is none for bpe, BERT's cleanup for
            wordpiece and NFKC for unigram. lowercase: also lowercase (BERT uncased).
        add_bos: bpe only: the post-processor prepends bos (Llama style); GPT-2 style does not.
        min_frequency: merges/pieces must occur at least this often.
        max_train_chars: stop reading the corpus for training after this many characters.
    """

    pretrained: str | None = None
    kind: TokenizerKind = "bpe"
    vocab_size: int = 8192
    special_tokens: dict[str, str] = field(default_factory=dict)
    extra_ids: int = 100
    normalization: Normalization = "default"
    lowercase: bool = False
    add_bos: bool = False
    min_frequency: int = 2
    max_train_chars: int = 200_000_000
    out_dir: str = "runs/tokenizer"

    def __post_init__(self) -> None:
        unknown = [r for r in self.special_tokens if r not in SPECIAL_ROLES]
        if unknown:
            raise ValueError(f"tokenizer.special_tokens: unknown roles {unknown}; valid: {', '.join(SPECIAL_ROLES)}.")
        if self.vocab_size < 32:
            raise ValueError(f"tokenizer.vocab_size must be at least 32, got {self.vocab_size}.")


@dataclass
class PrepareConfig:
    """How `framework data prepare` writes shards.

    Args:
        out_dir: folder for shards, their manifests and `index.json`.
        validation_fraction: share of documents held out (chosen by a hash of each document).
        docs_per_shard: documents per shard: the unit of resumption and of parallel work.
        num_proc: tokenizer processes.
        add_bos: also write bos before each document (eos always follows each document).
        seed: salt of the validation hash.
    """

    out_dir: str = "runs/data"
    validation_fraction: float = 0.005
    docs_per_shard: int = 20_000
    num_proc: int = 1
    add_bos: bool = False
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0.0 <= self.validation_fraction < 1.0:
            raise ValueError(f"prepare.validation_fraction must be in [0, 1), got {self.validation_fraction}.")
        if self.docs_per_shard < 1 or self.num_proc < 1:
            raise ValueError("prepare.docs_per_shard and prepare.num_proc must be at least 1.")


@dataclass
class DataRecipe:
    sources: list[SourceConfig]
    tokenizer: TokenizerConfig = field(default_factory=TokenizerConfig)
    prepare: PrepareConfig = field(default_factory=PrepareConfig)

    def __post_init__(self) -> None:
        if not self.sources:
            raise ValueError("'sources' is empty: list at least one corpus.")
        names = [s.name for s in self.sources]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"source names must be unique; repeated: {dupes}. Set 'name' on each source.")

    def weights(self) -> dict[str, float]:
        """Source name -> normalised sampling weight."""
        total = sum(s.weight for s in self.sources)
        return {s.name: s.weight / total for s in self.sources}


def load_recipe(path: str | Path | None, overrides: list[str] | None = None) -> DataRecipe:
    return load_config(DataRecipe, path, overrides)
