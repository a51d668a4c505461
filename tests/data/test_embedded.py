import json
import os

import pytest

from framework.data.embedded import embedded_corpus
from framework.data.errors import DataError


def test_embedded_corpus_is_real_english_and_built_once():
    path = embedded_corpus()  # in $FRAMEWORK_DATA_CACHE, which the tests point at a temporary folder
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert len(rows) > 300
    text = " ".join(r["text"] for r in rows)
    assert len(text) > 1_000_000
    words = text.lower().split()
    assert words.count("the") / len(words) > 0.03  # English prose, not code
    assert any(r["id"] == "reference:if" for r in rows)
    assert len({r["id"] for r in rows}) == len(rows)
    stamp = path.stat().st_mtime_ns
    assert embedded_corpus() == path and path.stat().st_mtime_ns == stamp
    assert str(path).startswith(os.environ["FRAMEWORK_DATA_CACHE"])


def test_unknown_embedded_corpus():
    with pytest.raises(DataError, match="python-docs"):
        embedded_corpus("wikipedia")
