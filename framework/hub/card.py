"""The model card (README.md) of an export: YAML metadata the Hub indexes, then people's part.

Metadata: library_name, pipeline_tag, license, base_model (a Hub id only), datasets, language,
tags, and a `model-index` with every metric value the run measured (test split if evaluated,
else the selected validation evaluation). Body: results table, labels, a stock-pipeline usage
snippet, and the run's resolved training config. Nothing secret is read: the training config is
the run's config.yaml, which holds no credentials.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

PIPELINE_TAGS = {
    "ForSequenceClassification": "text-classification",
    "ForMaskedLM": "fill-mask",
    "LMHeadModel": "text-generation",
    "ForCausalLM": "text-generation",
    "ForConditionalGeneration": "text2text-generation",
    "MTModel": "text2text-generation",
}
TASK_TYPES = {"text-classification": "text-classification", "fill-mask": "fill-mask",
              "text-generation": "text-generation", "text2text-generation": "text2text-generation",
              "summarization": "summarization", "translation": "translation"}


def pipeline_tag(architecture: str) -> str | None:
    return next((tag for suffix, tag in PIPELINE_TAGS.items() if architecture.endswith(suffix)), None)


def is_hub_id(spec: str | None) -> bool:
    return bool(spec) and spec.count("/") == 1 and not spec.startswith((".", "/")) and not Path(spec).exists()


def run_results(run_dir: Path) -> tuple[str | None, dict[str, float]]:
    """(split, metrics) the run measured: test-split results, else the best / last evaluation."""
    test = run_dir / "eval_test.json"
    if test.exists():
        return "test", json.loads(test.read_text())["metrics"]
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line.strip()] \
        if (run_dir / "metrics.jsonl").exists() else []
    evals = [r for r in records if r.get("kind") == "eval"]
    best = json.loads((run_dir / "best.json").read_text()) if (run_dir / "best.json").exists() else None
    chosen = next((r for r in evals if best and r["step"] == best["step"]), evals[-1] if evals else None)
    if chosen is None:
        return None, {}
    skip = {"kind", "step", "tokens", "time"}
    return "validation", {k: v for k, v in chosen.items() if k not in skip and isinstance(v, (int, float))}


def card_metadata(config: dict, run_config: dict, results: dict, split: str | None, base_model: str | None) -> dict:
    architecture = (config.get("architectures") or ["model"])[0]
    card = run_config.get("card") or {}
    tag = card.get("pipeline_tag") or pipeline_tag(architecture)
    data = run_config.get("data") or {}
    datasets = list(card.get("datasets") or ([data["dataset"]] if is_hub_id(data.get("dataset")) else []))
    meta = {"library_name": "transformers", "pipeline_tag": tag, "license": card.get("license", "apache-2.0")}
    if base_model:
        meta["base_model"] = base_model
    if datasets:
        meta["datasets"] = datasets
    if card.get("language"):
        meta["language"] = list(card["language"])
    meta["tags"] = ["framework", *(["lora"] if (run_config.get("model") or {}).get("lora", {}).get("r") else []),
                    *(card.get("tags") or [])]
    if results:
        dataset_name = data.get("dataset", "unknown")
        meta["model-index"] = [{
            "name": config.get("_name_or_path") or architecture,
            "results": [{
                "task": {"type": TASK_TYPES.get(tag, tag), "name": tag},
                "dataset": {"name": dataset_name, "type": dataset_name, "split": split},
                "metrics": [{"type": k, "name": k, "value": round(float(v), 6)} for k, v in results.items()],
            }],
        }]
    return meta


def write_model_card(out: Path, run_dir: Path | None = None, base_model: str | None = None,
                     source: str | None = None) -> Path:
    """README.md in the export folder `out` (which holds config.json) for a run or an HF source."""
    config = json.loads((out / "config.json").read_text())
    run_config = _run_config(run_dir)
    split, results = run_results(run_dir) if run_dir else (None, {})
    init_from = (run_config.get("model") or {}).get("init_from")
    base_model = base_model or next((s for s in (init_from, source) if is_hub_id(s)), None)
    meta = card_metadata(config, run_config, results, split, base_model)
    body = _body(out, config, meta, run_config, results, split, init_from or source)
    text = "---\n" + yaml.safe_dump(meta, sort_keys=False) + "---\n\n" + body
    (out / "README.md").write_text(text)
    return out / "README.md"


def _run_config(run_dir: Path | None) -> dict:
    if run_dir is None or not (run_dir / "config.yaml").exists():
        return {}
    return yaml.safe_load((run_dir / "config.yaml").read_text()) or {}


def _body(out: Path, config: dict, meta: dict, run_config: dict, results: dict, split: str | None,
          origin: str | None) -> str:
    architecture = (config.get("architectures") or ["model"])[0]
    task = run_config.get("task")
    lines = [f"# {run_config.get('run_dir') and Path(run_config['run_dir']).name or out.name}", ""]
    made = f"fine-tuned ({task})" if task else ("pretrained" if run_config else "exported")
    lines.append(f"A {config.get('model_type')} `{architecture}` {made} with this framework"
                 + (f", starting from `{origin}`." if origin else "."))
    lines.append("It loads in stock transformers with no custom code.")
    if results:
        lines += ["", f"## Results ({split} split)", "", "| metric | value |", "| --- | --- |"]
        lines += [f"| {k} | {v:.4f} |" for k, v in results.items()]
    if config.get("id2label") and architecture.endswith("ForSequenceClassification"):
        lines += ["", "## Labels", "", "| id | label |", "| --- | --- |"]
        lines += [f"| {i} | {name} |" for i, name in sorted(config["id2label"].items(), key=lambda kv: int(kv[0]))]
    lines += ["", "## Usage", "", "```python", *_usage(meta["pipeline_tag"]), "```"]
    if run_config:
        lines += ["", "## Training config", "", "The run's resolved recipe:", "", "```yaml",
                  yaml.safe_dump(run_config, sort_keys=False).rstrip(), "```"]
    return "\n".join(lines) + "\n"


def _usage(tag: str | None) -> list[str]:
    if tag in ("text2text-generation", "summarization", "translation"):
        return ["from transformers import AutoModelForSeq2SeqLM, AutoTokenizer", "",
                'tok = AutoTokenizer.from_pretrained("MODEL")',
                'model = AutoModelForSeq2SeqLM.from_pretrained("MODEL")',
                'ids = model.generate(**tok(["..."], return_tensors="pt"), max_new_tokens=64)',
                "print(tok.batch_decode(ids, skip_special_tokens=True))"]
    return ["from transformers import pipeline", "", f'pipe = pipeline("{tag}", model="MODEL")',
            'print(pipe("..."))']
