"""Tokenizer folders: load, save, fingerprint.

A tokenizer is a stock HF fast tokenizer folder (tokenizer.json, tokenizer_config.json,
special_tokens_map.json) that `AutoTokenizer.from_pretrained` loads. Its *hash* covers what
decides token ids (normaliser, pre-tokeniser, model, added tokens), so shards record which
tokenizer wrote them and a mismatch is caught before training.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

from transformers import AutoTokenizer, PreTrainedTokenizerBase, PreTrainedTokenizerFast

from framework.data.errors import DataError

ROLE_ATTRS = {"pad": "pad_token", "bos": "bos_token", "eos": "eos_token", "unk": "unk_token",
              "mask": "mask_token", "cls": "cls_token", "sep": "sep_token"}
TRAINING_FILE = "framework_tokenizer.json"  # the recipe settings a trained tokenizer came from


def load_tokenizer(name_or_path: str | Path) -> PreTrainedTokenizerBase:
    """A fast tokenizer from a local folder (or a Hub id, when online)."""
    try:
        tok = AutoTokenizer.from_pretrained(str(name_or_path))
    except (OSError, ValueError) as err:
        raise DataError(f"cannot load a tokenizer from '{name_or_path}': {err}") from None
    if getattr(tok, "backend_tokenizer", None) is None:
        raise DataError(f"tokenizer '{name_or_path}' has no fast (tokenizer.json) form; the data layer needs one.")
    return tok


def save_tokenizer(tok: PreTrainedTokenizerFast, out_dir: str | Path, training: dict | None = None) -> Path:
    """Write a stock HF tokenizer folder, replacing `out_dir` only once it is complete."""
    out = Path(out_dir)
    tmp = out.with_name(f".{out.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tok.save_pretrained(tmp)
    _portable_config(tmp)
    (tmp / "special_tokens_map.json").write_text(json.dumps(special_tokens_map(tok), indent=2) + "\n")
    if training is not None:
        (tmp / TRAINING_FILE).write_text(json.dumps(training, indent=2, sort_keys=True) + "\n")
    shutil.rmtree(out, ignore_errors=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp.rename(out)
    return out


def _portable_config(folder: Path) -> None:
    """Name the generic fast class, which every transformers version maps to tokenizer.json."""
    path = folder / "tokenizer_config.json"
    config = json.loads(path.read_text())
    config["tokenizer_class"] = "PreTrainedTokenizerFast"
    path.write_text(json.dumps(config, indent=2) + "\n")


def special_tokens_map(tok: PreTrainedTokenizerBase) -> dict:
    out = {attr: getattr(tok, attr) for attr in ROLE_ATTRS.values() if getattr(tok, attr, None)}
    extra = list(getattr(tok, "extra_special_tokens", None) or [])
    if extra:
        out["additional_special_tokens"] = extra
    return out


def tokenizer_hash(tok: PreTrainedTokenizerBase) -> str:
    """A fingerprint of everything that decides token ids."""
    spec = json.loads(tok.backend_tokenizer.to_str())
    added = sorted((t["id"], t["content"], bool(t.get("special"))) for t in spec.get("added_tokens") or [])
    keep = {"added": added, **{k: spec.get(k) for k in ("normalizer", "pre_tokenizer", "model")}}
    return hashlib.sha256(json.dumps(keep, sort_keys=True).encode()).hexdigest()[:16]


def vocab_size(tok: PreTrainedTokenizerBase) -> int:
    """Number of ids the tokenizer can emit, added tokens included."""
    return len(tok)


def document_end_id(tok: PreTrainedTokenizerBase) -> int:
    """The id written after each document: eos, else sep (BERT)."""
    for attr in ("eos_token_id", "sep_token_id"):
        value = getattr(tok, attr, None)
        if value is not None:
            return int(value)
    raise DataError("the tokenizer has neither an eos nor a sep token; add one to mark document ends.")


def sentinel_ids(tok: PreTrainedTokenizerBase) -> list[int]:
    """Ids of <extra_id_0>, <extra_id_1>, ... (T5's span-corruption sentinels), in that order."""
    vocab = tok.get_vocab()
    ids = []
    while f"<extra_id_{len(ids)}>" in vocab:
        ids.append(vocab[f"<extra_id_{len(ids)}>"])
    return ids
