"""Parallel tokenisation: documents -> one flat id array with bos/eos around each document.

`num_proc` worker processes each encode contiguous slices of the documents; results come back
in order, so the output does not depend on `num_proc`. Workers are forked where the platform
allows (starting a fresh interpreter would re-import torch and transformers, seconds each) and
get the tokenizer as JSON; they call `encode` (never the thread-parallel `encode_batch`), so one
process is one core.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor

import numpy as np
from tokenizers import Tokenizer

_WORKER: dict = {}


def _init(tokenizer_json: str, eos_id: int, bos_id: int | None) -> None:
    tok = Tokenizer.from_str(tokenizer_json)
    tok.encode_special_tokens = True  # a literal "</s>" in a document is text, not a document end
    _WORKER.update(tok=tok, eos=eos_id, bos=bos_id)


def _encode(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    tok, eos, bos = _WORKER["tok"], _WORKER["eos"], _WORKER["bos"]
    head = [bos] if bos is not None else []
    docs = [head + tok.encode(t, add_special_tokens=False).ids + [eos] for t in texts]
    lengths = np.fromiter((len(d) for d in docs), dtype=np.int64, count=len(docs))
    flat = np.fromiter((i for d in docs for i in d), dtype=np.uint32, count=int(lengths.sum()))
    return flat, lengths


class EncodePool:
    """`encode(texts) -> (tokens uint32, lengths int64)` over `num_proc` processes."""

    def __init__(self, tokenizer_json: str, eos_id: int, bos_id: int | None = None, num_proc: int = 1) -> None:
        self.num_proc = num_proc
        args = (tokenizer_json, eos_id, bos_id)
        if num_proc == 1:
            _init(*args)
            self._pool = None
        else:
            method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
            ctx = multiprocessing.get_context(method)
            self._pool = ProcessPoolExecutor(num_proc, mp_context=ctx, initializer=_init, initargs=args)

    def encode(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        if self._pool is None or len(texts) < 2 * self.num_proc:
            if self._pool is not None:
                return self._pool.submit(_encode, texts).result()
            return _encode(texts)
        step = -(-len(texts) // (4 * self.num_proc))  # several slices per process balance long documents
        parts = list(self._pool.map(_encode, [texts[i:i + step] for i in range(0, len(texts), step)]))
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()

    def __enter__(self) -> "EncodePool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
