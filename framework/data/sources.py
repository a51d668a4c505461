"""Reading corpora through `datasets`: local files, Hub datasets (streamed), the embedded corpus.

A source is cut into *units* (one per local file, one per shard of a streamed Hub dataset):
the grain at which several processes or Slurm array tasks split the work. Each unit is read
in Arrow batches; rows are filtered (FineWeb-style `min_int_score`, `languages`, ...), and
documents that are empty or not valid UTF-8 are skipped and counted in `ReadStats`.

Invalid UTF-8 is detected exactly: text and CSV files are read as Latin-1 (which maps every
byte to one character) and each document is re-encoded and decoded as strict UTF-8; JSON and
Parquet text columns are cast to bytes and decoded the same way.
"""

from __future__ import annotations

import glob
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from framework.data.embedded import embedded_corpus
from framework.data.errors import DataError
from framework.data.recipe import SourceConfig

SUFFIX_FORMATS = {".txt": "text", ".text": "text", ".jsonl": "json", ".json": "json", ".parquet": "parquet",
                  ".csv": "csv"}
_LATIN1_FORMATS = {"text", "csv"}
BATCH_ROWS = 1000


@dataclass(frozen=True)
class Unit:
    """One independently readable part of a source: a file, or a shard of a Hub dataset."""

    source: str
    index: int
    count: int
    detail: str  # the file, or the Hub id and shard

    @property
    def uid(self) -> str:
        return f"{self.source}-{self.index:05d}"


@dataclass
class ReadStats:
    documents: int = 0
    filtered: int = 0
    invalid_utf8: int = 0
    empty: int = 0

    def add(self, other: "ReadStats") -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


# -- units ------------------------------------------------------------------------------------
def list_units(source: SourceConfig) -> list[Unit]:
    """The source's units in a fixed order; errors for missing files or empty globs."""
    if source.hub:
        count = _hub_dataset(source).n_shards if source.streaming else 1
        return [Unit(source.name, i, count, f"{source.hub}[{i}/{count}]") for i in range(count)]
    files = [str(embedded_corpus(source.embedded))] if source.embedded else local_files(source)
    return [Unit(source.name, i, len(files), f) for i, f in enumerate(files)]


def local_files(source: SourceConfig) -> list[str]:
    files: list[str] = []
    for pattern in source.paths:
        files.extend(_expand(source.name, pattern))
    for f in files:
        file_format(source, f)  # fail early on unknown suffixes
    return files


def _expand(name: str, pattern: str) -> list[str]:
    path = Path(pattern)
    if path.is_dir():
        found = sorted(str(p) for p in path.rglob("*") if p.is_file() and _suffix(p.name) in SUFFIX_FORMATS)
        if not found:
            raise DataError(f"source '{name}': folder {pattern} holds no {'/'.join(SUFFIX_FORMATS)} files.")
        return found
    if glob.has_magic(pattern):
        found = sorted(p for p in glob.glob(pattern, recursive=True) if Path(p).is_file())
        if not found:
            raise DataError(f"source '{name}': no files match {pattern}.")
        return found
    if not path.is_file():
        raise DataError(f"source '{name}': file {pattern} does not exist.")
    return [pattern]


def _suffix(filename: str) -> str:
    return Path(filename).suffix.lower()


def file_format(source: SourceConfig, file: str) -> str:
    if source.embedded:
        return "json"
    if source.format != "auto":
        return source.format
    fmt = SUFFIX_FORMATS.get(_suffix(file))
    if fmt is None:
        raise DataError(f"source '{source.name}': cannot tell the format of {file}; "
                        f"use a {'/'.join(SUFFIX_FORMATS)} suffix or set 'format'.")
    return fmt


# -- reading ----------------------------------------------------------------------------------
def read_documents(source: SourceConfig, unit: Unit, stats: ReadStats) -> Iterator[tuple[str, str]]:
    """(key, text) for each kept document of `unit`; key is the id column if set, else the text."""
    fmt = "hub" if source.hub else file_format(source, unit.detail)
    if fmt != "hub" and Path(unit.detail).stat().st_size == 0:
        return  # an empty file holds no documents (an empty *source* is reported by the merge)
    kept = 0
    for table in _tables(source, unit, fmt):
        for key, text in _documents(source, unit, table, fmt, stats):
            if source.max_documents is not None and kept >= source.max_documents:
                return
            kept += 1
            yield key, text


def iter_texts(source: SourceConfig, stats: ReadStats | None = None) -> Iterator[tuple[str, str]]:
    """Every document of every unit of the source, in order."""
    stats = stats or ReadStats()
    for unit in list_units(source):
        yield from read_documents(source, unit, stats)


def _tables(source: SourceConfig, unit: Unit, fmt: str) -> Iterator[pa.Table]:
    """The unit's rows in Arrow batches; a malformed file becomes a DataError naming it."""
    tables = iter(_open(source, unit, fmt).with_format("arrow").iter(batch_size=BATCH_ROWS))
    while True:
        try:
            table = next(tables)
        except StopIteration:
            return
        except Exception as err:  # datasets/pyarrow raise many types; all mean the data cannot be read
            raise DataError(f"source '{source.name}': cannot read {unit.detail}: {type(err).__name__}: {err}") from None
        yield table


def _open(source: SourceConfig, unit: Unit, fmt: str):
    if fmt == "hub":
        ds = _hub_dataset(source)
        ds = ds.shard(unit.count, unit.index) if source.streaming else ds.to_iterable_dataset()
        return ds.select_columns(_needed_columns(source)) if _has_columns(ds, source) else ds
    from datasets import load_dataset

    kwargs: dict = {"encoding": "latin-1"} if fmt in _LATIN1_FORMATS else {}
    if fmt == "text":
        kwargs["sample_by"] = source.txt_sample_by
    if fmt == "parquet":
        kwargs["columns"] = _needed_columns(source)
    try:
        return load_dataset(fmt, data_files=[unit.detail], split="train", streaming=True, **kwargs)
    except Exception as err:  # datasets raises many types; all mean the file cannot be read
        raise DataError(f"source '{source.name}': cannot read {unit.detail}: {type(err).__name__}: {err}") from None


def _hub_dataset(source: SourceConfig):
    import datasets

    datasets.disable_progress_bars()
    try:
        return datasets.load_dataset(source.hub, name=source.config, split=source.split, streaming=source.streaming)
    except Exception as err:
        raise DataError(f"source '{source.name}': cannot open dataset '{source.hub}' "
                        f"(config {source.config}, split {source.split}): {err}. Check the id and your network, "
                        f"or unset HF_HUB_OFFLINE.") from None


def _has_columns(ds, source: SourceConfig) -> bool:
    names = getattr(ds, "column_names", None)
    return bool(names) and all(c in names for c in _needed_columns(source))


def _needed_columns(source: SourceConfig) -> list[str]:
    cols = [source.text_field, source.id_field]
    cols.append("int_score" if source.min_int_score is not None else None)
    cols.append("score" if source.min_score is not None else None)
    cols.append("language" if source.languages else None)
    return [c for c in dict.fromkeys(cols) if c]


def _documents(source, unit, table: pa.Table, fmt: str, stats: ReadStats) -> Iterator[tuple[str, str]]:
    missing = [c for c in _needed_columns(source) if c not in table.column_names]
    if missing:
        raise DataError(f"source '{source.name}' ({unit.detail}): no column(s) {missing}; the data has "
                        f"{table.column_names}. Set 'text_field'/'id_field' or drop the filter.")
    before = table.num_rows
    table = _filter(source, table)
    stats.filtered += before - table.num_rows
    ids = table.column(source.id_field).to_pylist() if source.id_field else None
    for i, raw in enumerate(_raw_texts(table.column(source.text_field), fmt)):
        text = _decode(raw, stats)
        if text is not None:
            stats.documents += 1
            yield (str(ids[i]) if ids else text), text


def _filter(source: SourceConfig, table: pa.Table) -> pa.Table:
    masks = []
    if source.min_int_score is not None:
        masks.append(pc.greater_equal(table.column("int_score"), source.min_int_score))
    if source.min_score is not None:
        masks.append(pc.greater_equal(table.column("score"), source.min_score))
    if source.languages:
        masks.append(pc.is_in(table.column("language"), pa.array(source.languages)))
    for mask in masks:
        table = table.filter(pc.fill_null(mask, False))
    return table


def _raw_texts(column: pa.ChunkedArray, fmt: str) -> list[bytes | None]:
    """The text column as the bytes that were on disk."""
    if fmt in _LATIN1_FORMATS:
        strings = column.cast(pa.string()).to_pylist()
        return [s.encode("latin-1") if s is not None else None for s in strings]
    kinds = (pa.types.is_string, pa.types.is_large_string, pa.types.is_binary, pa.types.is_large_binary)
    if not any(is_kind(column.type) for is_kind in kinds):
        column = column.cast(pa.string())  # numbers in a text column: read them as text
    wide = pa.types.is_large_string(column.type) or pa.types.is_large_binary(column.type)
    return column.cast(pa.large_binary() if wide else pa.binary()).to_pylist()


def _decode(raw: bytes | None, stats: ReadStats) -> str | None:
    if raw is None:
        stats.empty += 1
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        stats.invalid_utf8 += 1
        return None
    if not text.strip():
        stats.empty += 1
        return None
    return text
