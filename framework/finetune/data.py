"""Labelled data for fine-tuning: `datasets` in, checked splits and label names out.

Sources: a Hub id (`imdb`, `glue` + name), a local csv / jsonl / json / parquet file, or a folder
of such files named after their splits (`train.csv`, `validation.csv`, ...) or written by
`Dataset.save_to_disk`. Everything that can be wrong with the data (a missing column, an empty
split, labels that do not fit the label set) is an error here, before any model is built.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from framework.data.errors import DataError
from framework.finetune.config import REQUIRED_ROLES, ROLES, FinetuneConfig

logger = logging.getLogger(__name__)

FORMATS = {".csv": "csv", ".tsv": "csv", ".json": "json", ".jsonl": "json", ".parquet": "parquet"}
SPLITS = ("train", "validation", "test")


@dataclass
class LabelSpace:
    """Label names in id order; what goes into the model config as id2label / label2id."""

    names: list[str]
    multi_label: bool = False

    @property
    def num_labels(self) -> int:
        return len(self.names)

    def config_fields(self) -> dict:
        return {"num_labels": self.num_labels, "id2label": dict(enumerate(self.names)),
                "label2id": {n: i for i, n in enumerate(self.names)},
                "problem_type": "multi_label_classification" if self.multi_label else "single_label_classification"}

    @classmethod
    def from_config(cls, config) -> "LabelSpace":
        names = [config.id2label[i] for i in range(config.num_labels)]
        return cls(names, getattr(config, "problem_type", None) == "multi_label_classification")

    def to_id(self, value, where: str) -> int:
        if isinstance(value, bool):
            value = int(value)
        if isinstance(value, str):
            if value in self.names:
                return self.names.index(value)
            if value.strip().lstrip("-").isdigit():
                value = int(value)
            else:
                raise DataError(f"{where}: label '{value}' is not one of the {self.num_labels} labels {self.names}; "
                                f"fix the data or list every label in data.labels.")
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if not isinstance(value, int) or not 0 <= value < self.num_labels:
            raise DataError(f"{where}: label {value!r} does not fit {self.num_labels} labels {self.names} "
                            f"(ids 0..{self.num_labels - 1}); fix data.labels or the data.")
        return value

    def encode(self, value, where: str):
        """A label cell -> class id (single-label) or multi-hot floats (multi-label)."""
        if not self.multi_label:
            if isinstance(value, (list, tuple)):
                raise DataError(f"{where}: the label is a list {value!r}; set data.multi_label=true for "
                                f"multi-label data.")
            return self.to_id(value, where)
        items = _as_list(value)
        hot = [0.0] * self.num_labels
        for item in items:
            hot[self.to_id(item, where)] = 1.0
        return hot


def _as_list(value) -> list:
    if isinstance(value, (list, tuple)):
        return list(value)
    if isinstance(value, str) and any(sep in value for sep in ",;|"):
        for sep in ",;|":
            if sep in value:
                return [v.strip() for v in value.split(sep) if v.strip()]
    if value is None or value == "":
        return []
    return [value]


# -- loading -------------------------------------------------------------------------------------
def load_raw(cfg: FinetuneConfig):
    """A `datasets.DatasetDict` from the recipe's data source."""
    import datasets

    d = cfg.data
    path = Path(d.dataset)
    try:
        if path.is_file():
            _check_has_rows(path, "train")
            return datasets.load_dataset(_format(path, d.format), data_files={"train": str(path)}, name=None)
        if path.is_dir():
            return _load_folder(path, d.format)
        if d.dataset.startswith((".", "/")) or path.suffix in FORMATS:
            raise DataError(f"data.dataset={d.dataset} does not exist; give an existing file or folder, or a Hub id.")
        return datasets.load_dataset(d.dataset, d.name)  # the Hub (cached when offline)
    except DataError:
        raise
    except Exception as err:
        raise DataError(f"data.dataset={d.dataset}: cannot load it with `datasets` ({type(err).__name__}: "
                        f"{str(err).splitlines()[0] if str(err) else ''}). Check the path or Hub id, and data.name "
                        f"for datasets with configurations.") from None


def _format(path: Path, fmt: str) -> str:
    if fmt != "auto":
        return fmt
    if path.suffix not in FORMATS:
        raise DataError(f"{path}: cannot tell the format from '{path.suffix}'; set data.format to csv, json or parquet.")
    return FORMATS[path.suffix]


def _load_folder(path: Path, fmt: str):
    import datasets

    if (path / "dataset_dict.json").exists() or (path / "dataset_info.json").exists():
        loaded = datasets.load_from_disk(str(path))
        return loaded if isinstance(loaded, datasets.DatasetDict) else datasets.DatasetDict(train=loaded)
    files = {f.stem: str(f) for f in sorted(path.iterdir()) if f.suffix in FORMATS}
    if not files:
        raise DataError(f"{path} holds no csv / jsonl / json / parquet files (one per split, e.g. train.csv).")
    for split, f in files.items():
        _check_has_rows(Path(f), split)
    kinds = {_format(Path(f), fmt) for f in files.values()}
    if len(kinds) > 1:
        raise DataError(f"{path} mixes formats {sorted(kinds)}; keep one format per folder.")
    return datasets.load_dataset(kinds.pop(), data_files=files)


def _check_has_rows(path: Path, split: str) -> None:
    """`datasets` fails obscurely on an empty file; say which split is empty instead."""
    if path.suffix == ".parquet":
        return
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if len(lines) <= (1 if path.suffix in (".csv", ".tsv") else 0):
        raise DataError(f"data: the {split} split ({path}) is empty; give it examples or remove the file.")


def load_splits(cfg: FinetuneConfig) -> dict:
    """train / validation / test `datasets.Dataset`s: named splits, or fractions carved from train."""
    raw = load_raw(cfg)
    d = cfg.data
    splits = {role: raw[name] for role in SPLITS if (name := d.splits.get(role)) and name in raw}
    if "train" not in splits:
        raise DataError(f"data.splits.train='{d.splits.get('train')}' is not a split of {d.dataset}; it has "
                        f"{sorted(raw)}. Map it with data.splits.train=NAME.")
    seed = cfg.train.seed
    for role, fraction in (("test", d.test_fraction), ("validation", d.validation_fraction)):
        if role not in splits and fraction > 0:
            parts = splits["train"].train_test_split(test_size=fraction, seed=seed)
            splits["train"], splits[role] = parts["train"], parts["test"]
    if d.max_train_examples:
        splits["train"] = splits["train"].select(range(min(d.max_train_examples, len(splits["train"]))))
    for role, split in splits.items():
        check_split(cfg, split, role)
    return splits


def check_split(cfg: FinetuneConfig, split, role: str, required: tuple[str, ...] | None = None) -> None:
    d = cfg.data
    if len(split) == 0:
        raise DataError(f"data: the {role} split of {d.dataset} is empty; give it examples or drop it "
                        f"(data.splits.{role}=null).")
    columns = split.column_names
    for r in required if required is not None else REQUIRED_ROLES[cfg.task]:
        col = cfg.column(r)
        if col not in columns:
            hint = f"map it with data.columns.{r}=COLUMN" if r not in d.columns else "fix data.columns"
            raise DataError(f"data: the {role} split of {d.dataset} has no column '{col}' for '{r}' "
                            f"(columns: {columns}); {hint}.")
    for r, col in d.columns.items():
        if r in ROLES[cfg.task] and col not in columns and r not in REQUIRED_ROLES[cfg.task]:
            raise DataError(f"data.columns.{r}='{col}' is not a column of the {role} split (columns: {columns}).")


# -- labels --------------------------------------------------------------------------------------
def label_space(cfg: FinetuneConfig, train) -> LabelSpace:
    """The recipe's labels, or the ClassLabel names, or the distinct values of the train split."""
    d = cfg.data
    if d.labels:
        return LabelSpace(list(d.labels), d.multi_label)
    column = cfg.column("label")
    feature = train.features[column]
    names = getattr(feature, "names", None) or getattr(getattr(feature, "feature", None), "names", None)
    if names:
        return LabelSpace(list(names), d.multi_label)
    values = set()
    for value in train[column]:
        values.update(_as_list(value) if d.multi_label else [value])
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return LabelSpace([str(i) for i in range(max(values) + 1)], d.multi_label)
    return LabelSpace(sorted(str(v) for v in values), d.multi_label)


def class_weights(cfg: FinetuneConfig, labels: LabelSpace, train_ids: list[int]) -> list[float] | None:
    """Per-class loss weights: the recipe's list, or `balanced` = n / (classes x count), as scikit-learn."""
    spec = cfg.data.class_weights
    if spec is None:
        return None
    if isinstance(spec, list):
        if len(spec) != labels.num_labels:
            raise DataError(f"data.class_weights has {len(spec)} entries but there are {labels.num_labels} labels "
                            f"{labels.names}.")
        return [float(w) for w in spec]
    counts = [0] * labels.num_labels
    for i in train_ids:
        counts[i] += 1
    return [len(train_ids) / (labels.num_labels * c) if c else 0.0 for c in counts]
