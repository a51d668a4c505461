"""Training tokenizers with the `tokenizers` library: byte-level BPE (GPT-2, Llama), WordPiece
(BERT) and Unigram (T5, with `<extra_id_N>` sentinels), from any corpus a recipe names."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable, Iterator
from pathlib import Path

from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import PreTrainedTokenizerBase, PreTrainedTokenizerFast

from framework.data.errors import DataError
from framework.data.recipe import DataRecipe, TokenizerConfig
from framework.data.sources import iter_texts
from framework.data.split import is_validation
from framework.data.tokenizer import ROLE_ATTRS, TRAINING_FILE, load_tokenizer, save_tokenizer

log = logging.getLogger(__name__)

DEFAULT_SPECIALS = {
    "bpe": {"pad": "<pad>", "bos": "<s>", "eos": "</s>"},
    "wordpiece": {"pad": "[PAD]", "unk": "[UNK]", "cls": "[CLS]", "sep": "[SEP]", "mask": "[MASK]"},
    "unigram": {"pad": "<pad>", "eos": "</s>", "unk": "<unk>"},
}
_REQUIRED = {"bpe": ("eos",), "wordpiece": ("unk", "cls", "sep", "mask"), "unigram": ("unk", "eos")}


def specials_for(cfg: TokenizerConfig) -> dict[str, str]:
    specials = dict(cfg.special_tokens) or dict(DEFAULT_SPECIALS[cfg.kind])
    missing = [r for r in _REQUIRED[cfg.kind] if r not in specials]
    if missing:
        raise DataError(f"tokenizer.special_tokens: a {cfg.kind} tokenizer needs roles {missing}.")
    return specials


def train_tokenizer(cfg: TokenizerConfig, texts: Iterable[str]) -> PreTrainedTokenizerFast:
    """Train a tokenizer of `cfg.kind` on `texts` and wrap it as a transformers fast tokenizer."""
    specials = specials_for(cfg)
    tok, trainer = _BUILDERS[cfg.kind](cfg, specials)
    tok.train_from_iterator(texts, trainer)
    sentinels = _add_sentinels(tok, cfg)
    tok.post_processor = _post_processor(tok, cfg, specials)
    kwargs = {ROLE_ATTRS[role]: token for role, token in specials.items()}
    if sentinels:
        kwargs["additional_special_tokens"] = sentinels
    return PreTrainedTokenizerFast(tokenizer_object=tok, **kwargs)


def _normalizer(cfg: TokenizerConfig, default):
    if cfg.normalization == "default":
        return default
    steps = [] if cfg.normalization == "none" else [getattr(normalizers, cfg.normalization.upper())()]
    steps += [normalizers.Lowercase()] if cfg.lowercase else []
    return normalizers.Sequence(steps) if steps else None


def _build_bpe(cfg: TokenizerConfig, specials: dict):
    tok = Tokenizer(models.BPE())
    default = normalizers.Lowercase() if cfg.lowercase else None
    if (norm := _normalizer(cfg, default)) is not None:
        tok.normalizer = norm
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=cfg.vocab_size, min_frequency=cfg.min_frequency, show_progress=False,
                                  special_tokens=list(specials.values()),
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    return tok, trainer


def _build_wordpiece(cfg: TokenizerConfig, specials: dict):
    tok = Tokenizer(models.WordPiece(unk_token=specials["unk"]))
    default = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True, lowercase=cfg.lowercase)
    if (norm := _normalizer(cfg, default)) is not None:
        tok.normalizer = norm
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece(prefix="##")
    trainer = trainers.WordPieceTrainer(vocab_size=cfg.vocab_size, min_frequency=cfg.min_frequency,
                                        special_tokens=list(specials.values()), show_progress=False)
    return tok, trainer


def _build_unigram(cfg: TokenizerConfig, specials: dict):
    if cfg.extra_ids >= cfg.vocab_size // 2:
        raise DataError(f"tokenizer.extra_ids ({cfg.extra_ids}) leaves too little of vocab_size {cfg.vocab_size}.")
    tok = Tokenizer(models.Unigram())
    steps = [normalizers.NFKC()] + ([normalizers.Lowercase()] if cfg.lowercase else [])
    default = normalizers.Sequence(steps + [normalizers.Replace(Regex(" {2,}"), " ")])
    if (norm := _normalizer(cfg, default)) is not None:
        tok.normalizer = norm
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    trainer = trainers.UnigramTrainer(vocab_size=cfg.vocab_size - cfg.extra_ids, unk_token=specials["unk"],
                                      special_tokens=list(specials.values()), show_progress=False)
    return tok, trainer


_BUILDERS = {"bpe": _build_bpe, "wordpiece": _build_wordpiece, "unigram": _build_unigram}


def _add_sentinels(tok: Tokenizer, cfg: TokenizerConfig) -> list[str]:
    """T5 layout: sentinels take the last ids, <extra_id_0> the very last."""
    if cfg.kind != "unigram" or cfg.extra_ids == 0:
        return []
    tok.add_special_tokens([f"<extra_id_{i}>" for i in reversed(range(cfg.extra_ids))])
    return [f"<extra_id_{i}>" for i in range(cfg.extra_ids)]


def _post_processor(tok: Tokenizer, cfg: TokenizerConfig, specials: dict):
    """What `tokenizer(text)` adds: nothing (GPT-2), bos (Llama), [CLS]/[SEP] (BERT), </s> (T5)."""
    def ids(*roles):
        return [(specials[r], tok.token_to_id(specials[r])) for r in roles]

    if cfg.kind == "wordpiece":
        cls, sep = specials["cls"], specials["sep"]
        return processors.TemplateProcessing(single=f"{cls} $A {sep}", pair=f"{cls} $A {sep} $B:1 {sep}:1",
                                             special_tokens=ids("cls", "sep"))
    if cfg.kind == "unigram":
        eos = specials["eos"]
        return processors.TemplateProcessing(single=f"$A {eos}", pair=f"$A {eos} $B {eos}", special_tokens=ids("eos"))
    if cfg.add_bos:
        if "bos" not in specials:
            raise DataError("tokenizer.add_bos needs a 'bos' entry in tokenizer.special_tokens.")
        bos = specials["bos"]
        return processors.TemplateProcessing(single=f"{bos} $A", pair=f"{bos} $A {bos} $B", special_tokens=ids("bos"))
    return processors.ByteLevel(trim_offsets=False)


# -- from a recipe ----------------------------------------------------------------------------
def training_settings(recipe: DataRecipe) -> dict:
    """What a trained tokenizer depends on; stored beside it to tell whether it is stale."""
    tok = dataclasses.asdict(recipe.tokenizer)
    tok.pop("out_dir")
    tok.pop("pretrained")
    sources = [{**dataclasses.asdict(s), "weight": None} for s in recipe.sources]  # weights only steer sampling
    held_out = {"validation_fraction": recipe.prepare.validation_fraction, "seed": recipe.prepare.seed}
    return {"tokenizer": tok, "sources": sources, "held_out": held_out}


def training_texts(recipe: DataRecipe) -> Iterator[str]:
    """Training documents (validation ones left out), each source up to its weight's share of
    `max_train_chars`."""
    weights = recipe.weights()
    held = recipe.prepare
    for source in recipe.sources:
        budget = int(recipe.tokenizer.max_train_chars * weights[source.name])
        for key, text in iter_texts(source):
            if budget <= 0:
                break
            if not is_validation(key, held.validation_fraction, held.seed):
                budget -= len(text)
                yield text


def train_from_recipe(recipe: DataRecipe, force: bool = False) -> Path:
    """Train the recipe's tokenizer into `tokenizer.out_dir`; reuse it when already up to date."""
    cfg = recipe.tokenizer
    if cfg.pretrained:
        raise DataError(f"tokenizer.pretrained is set ({cfg.pretrained}): nothing to train. Unset it to train one.")
    out = Path(cfg.out_dir)
    settings = training_settings(recipe)
    if not force and trained_matches(out, settings):
        log.info("tokenizer in %s is up to date; use --force to retrain", out)
        return out
    log.info("training a %s tokenizer (vocab %d) into %s", cfg.kind, cfg.vocab_size, out)
    tok = train_tokenizer(cfg, training_texts(recipe))
    return save_tokenizer(tok, out, settings)


def trained_matches(out: Path, settings: dict) -> bool:
    import json

    record = out / TRAINING_FILE
    if not (out / "tokenizer.json").exists():
        return False
    if not record.exists() or json.loads(record.read_text()) != json.loads(json.dumps(settings)):
        raise DataError(f"{out} holds a tokenizer trained with other settings than this recipe's; "
                        f"retrain it with `framework tokenizer train RECIPE --force` or set tokenizer.out_dir.")
    return True


def resolve_tokenizer(recipe: DataRecipe, allow_train: bool = True) -> tuple[PreTrainedTokenizerBase, str]:
    """(tokenizer, where it lives): `pretrained`, else `out_dir`, trained there first if needed."""
    cfg = recipe.tokenizer
    if cfg.pretrained:
        return load_tokenizer(cfg.pretrained), cfg.pretrained
    out = Path(cfg.out_dir)
    if not trained_matches(out, training_settings(recipe)):
        if not allow_train:
            raise DataError(f"no tokenizer in {out}; run `framework tokenizer train RECIPE` before starting "
                            f"several prepare workers.")
        train_from_recipe(recipe)
    return load_tokenizer(out), str(out)
