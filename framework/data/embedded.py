"""The embedded default corpus: English documentation that ships with every Python install.

`python-docs` is built, with no download, from (1) the Python Language Reference topics that
`help()` shows (`pydoc_data.topics`) and (2) the docstrings of the standard library's modules,
classes and functions, one document per topic or module. About 2 MB of text. Both are
Copyright the Python Software Foundation, under the PSF License Version 2
(https://docs.python.org/3/license.html); the text is read from the local install, so the same
Python version always gives the same corpus.

The corpus is written once as JSON lines under `cache_dir` and read like any local `.jsonl`.
"""

from __future__ import annotations

import ast
import json
import os
import sys
import sysconfig
from collections.abc import Iterator
from pathlib import Path

from framework.data.errors import DataError
from framework.data.io import atomic_path

EMBEDDED = {"python-docs"}
LICENSE = "PSF-2.0 (Python Software Foundation License Version 2)"
_SKIP_DIRS = {"test", "tests", "idlelib", "site-packages", "dist-packages", "turtledemo", "lib2to3", "ensurepip"}
_MIN_CHARS = 200


def default_cache_dir() -> Path:
    """`$FRAMEWORK_DATA_CACHE`, else `~/.cache/framework/data`."""
    env = os.environ.get("FRAMEWORK_DATA_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "framework" / "data"


def embedded_corpus(name: str = "python-docs", cache_dir: str | Path | None = None) -> Path:
    """Path of the embedded corpus as a .jsonl file (`text`, `id` fields), building it if absent."""
    if name not in EMBEDDED:
        raise DataError(f"unknown embedded corpus '{name}'; available: {', '.join(sorted(EMBEDDED))}.")
    version = f"{sys.version_info.major}.{sys.version_info.minor}.{sys.version_info.micro}"
    path = Path(cache_dir or default_cache_dir()) / f"{name}-py{version}.jsonl"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
            for doc_id, text in python_docs():
                f.write(json.dumps({"id": doc_id, "text": text}, ensure_ascii=False) + "\n")
    return path


def python_docs() -> Iterator[tuple[str, str]]:
    """(id, text) for every reference topic, then every stdlib module with enough docstring text."""
    yield from _reference_topics()
    yield from _stdlib_docstrings()


def _reference_topics() -> Iterator[tuple[str, str]]:
    try:
        from pydoc_data.topics import topics
    except ImportError:  # some distributions package the topics separately
        return
    for key in sorted(topics):
        if len(topics[key]) >= _MIN_CHARS:
            yield f"reference:{key}", topics[key].strip()


def _stdlib_docstrings() -> Iterator[tuple[str, str]]:
    root = Path(sysconfig.get_paths()["stdlib"])
    for file in _python_files(root):
        text = _module_text(file)
        if len(text) >= _MIN_CHARS:
            yield "stdlib:" + ".".join(file.relative_to(root).with_suffix("").parts), text


def _python_files(root: Path) -> list[Path]:
    files = []
    for folder, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if d not in _SKIP_DIRS and not d.startswith(("__pycache__", "."))]
        files += [Path(folder) / n for n in names if n.endswith(".py")]
    return sorted(files)


def _module_text(file: Path) -> str:
    """A module's docstrings (module, classes, functions) in source order, blank-line separated."""
    try:
        tree = ast.parse(file.read_text(encoding="utf-8"))
    except (SyntaxError, UnicodeDecodeError, ValueError):
        return ""
    return "\n\n".join(_docstrings(tree))


def _docstrings(node: ast.AST) -> Iterator[str]:
    """Docstrings of `node` and the classes and functions defined directly in its body, depth first."""
    doc = ast.get_docstring(node)
    if doc and doc.strip():
        yield doc.strip()
    for child in node.body:
        if isinstance(child, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            yield from _docstrings(child)
