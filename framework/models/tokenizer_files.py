"""Tokenizer files travel with a model folder: export and import copy them verbatim."""

from __future__ import annotations

import shutil
from pathlib import Path

TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.txt",
    "vocab.json",
    "merges.txt",
    "spiece.model",
    "source.spm",
    "target.spm",
    "added_tokens.json",
)


def copy_tokenizer_files(src: Path, dst: Path) -> list[str]:
    """Copy whatever tokenizer files `src` has into `dst`; returns the names copied."""
    copied = []
    for name in TOKENIZER_FILES:
        if (src / name).is_file():
            shutil.copy2(src / name, dst / name)
            copied.append(name)
    return copied
