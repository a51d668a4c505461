"""The three fine-tuning tasks: how a row becomes token ids, how a batch is padded, and the loss.

    classification   text (+ text_pair) -> label(s); [CLS] pooling (bert) or last non-padding
                     token (gpt2, llama); single-label cross-entropy (optionally class-weighted)
                     or multi-label binary cross-entropy
    sft              prompt -> response for decoders; the prompt's tokens are masked out of the loss
    seq2seq          source -> target for t5 / transformer, with label smoothing (Vaswani et al. 2017)

Every loss is a sum over items divided by `num_items` (examples, or target tokens), which the
engine sets to the global count across accumulation steps and ranks.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from framework.data import ClassificationCollator, Seq2SeqCollator
from framework.data.errors import DataError
from framework.data.objectives.common import pad
from framework.finetune.config import FinetuneConfig
from framework.finetune.data import LabelSpace
from framework.models.common.losses import IGNORE_INDEX

HF_TASK = {"classification": "sequence-classification", "sft": "causal-lm", "seq2seq": "seq2seq-lm"}

CHAT_TEMPLATE = "<|system|>\n{system}\n<|user|>\n{prompt}\n<|assistant|>\n"
TEMPLATES = {"plain": "{prompt}\n", "chat": CHAT_TEMPLATE}
DEFAULT_SYSTEM = "You are a helpful assistant."


class Task:
    name: str
    pipeline_tag: str

    def __init__(self, cfg: FinetuneConfig, tokenizer) -> None:
        self.cfg, self.tokenizer = cfg, tokenizer
        if tokenizer.pad_token_id is None:
            raise DataError("the tokenizer has no padding token; give it one (e.g. its eos token) before fine-tuning.")

    @property
    def hf_task(self) -> str:
        return HF_TASK[self.name]

    def row(self, row: dict, role: str):
        return row[self.cfg.column(role)]

    def text(self, row: dict, role: str, where: str) -> str:
        value = self.row(row, role)
        if not isinstance(value, str):
            raise DataError(f"{where}: column '{self.cfg.column(role)}' ({role}) holds {type(value).__name__} "
                            f"{value!r}, not text.")
        return value

    @staticmethod
    def model_inputs(batch: dict) -> dict:
        return {k: v for k, v in batch.items() if k not in ("labels", "num_items")}


class ClassificationTask(Task):
    name = "classification"
    pipeline_tag = "text-classification"

    def __init__(self, cfg: FinetuneConfig, tokenizer, labels: LabelSpace, use_token_types: bool,
                 weights: list[float] | None = None) -> None:
        super().__init__(cfg, tokenizer)
        self.labels, self.use_token_types, self.weights = labels, use_token_types, weights
        self.collator = ClassificationCollator(tokenizer.pad_token_id)

    def encode(self, row: dict, where: str) -> dict:
        pair = self.text(row, "text_pair", where) if self.cfg.column("text_pair") in row else None
        enc = self.tokenizer(self.text(row, "text", where), pair, truncation=True,
                             max_length=self.cfg.data.max_length)
        example = {"input_ids": enc["input_ids"], "label": self.labels.encode(self.row(row, "label"), where)}
        if self.use_token_types and "token_type_ids" in enc:
            example["token_type_ids"] = enc["token_type_ids"]
        return example

    def collate(self, examples: list[dict]) -> dict:
        return self.collator(examples)

    def loss(self, model, batch: dict, num_items) -> torch.Tensor:
        logits = model(**self.model_inputs(batch)).logits.float()  # (B, N)
        return self.loss_from_logits(logits, batch["labels"].to(logits.device)) / num_items

    def loss_from_logits(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Summed over the batch's examples: cross-entropy (class-weighted if asked) or, multi-label,
        binary cross-entropy averaged over the labels of each example."""
        if self.labels.multi_label:
            return F.binary_cross_entropy_with_logits(logits, labels.float(), reduction="none").mean(-1).sum()
        weight = torch.tensor(self.weights, device=logits.device) if self.weights else None
        return F.cross_entropy(logits, labels, weight=weight, reduction="sum")

    def predict(self, logits: torch.Tensor) -> list:
        if self.labels.multi_label:
            return (logits.sigmoid() > 0.5).long().tolist()
        return logits.argmax(-1).tolist()


class SFTTask(Task):
    """Supervised fine-tuning of a decoder: [prompt tokens][response tokens][eos], loss on the response."""

    name = "sft"
    pipeline_tag = "text-generation"

    def __init__(self, cfg: FinetuneConfig, tokenizer) -> None:
        super().__init__(cfg, tokenizer)
        template = cfg.data.template
        self.template = TEMPLATES.get(template, template)
        if "{prompt}" not in self.template:
            raise DataError(f"data.template='{template}' must be plain, chat, or a format string with {{prompt}}.")
        self.eos_id = tokenizer.eos_token_id if tokenizer.eos_token_id is not None else tokenizer.sep_token_id
        if self.eos_id is None:
            raise DataError("the tokenizer has no eos token; SFT ends each response with one, so generation stops.")

    def format_prompt(self, row: dict, where: str) -> str:
        system_col = self.cfg.column("system")
        system = row.get(system_col) if system_col in row else None
        return self.template.format(prompt=self.text(row, "prompt", where), system=system or DEFAULT_SYSTEM)

    def encode_prompt(self, prompt_text: str) -> list[int]:
        return self.tokenizer(prompt_text)["input_ids"]  # with the tokenizer's specials (bos), as pipelines do

    def encode(self, row: dict, where: str) -> dict:
        prompt = self.encode_prompt(self.format_prompt(row, where))
        response = self.tokenizer(self.text(row, "response", where), add_special_tokens=False)["input_ids"]
        response = response + [self.eos_id]
        limit = self.cfg.data.max_length
        response = response[: max(1, limit - len(prompt))]
        prompt = prompt[len(prompt) + len(response) - limit:] if len(prompt) + len(response) > limit else prompt
        return {"input_ids": prompt + response, "labels": [IGNORE_INDEX] * len(prompt) + response,
                "prompt_length": len(prompt)}

    def collate(self, examples: list[dict]) -> dict:
        input_ids = pad([e["input_ids"] for e in examples], self.tokenizer.pad_token_id)
        attention_mask = pad([[1] * len(e["input_ids"]) for e in examples], 0)
        labels = pad([e["labels"] for e in examples], IGNORE_INDEX)
        # Position t predicts label t + 1, so the first label never counts.
        return {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels,
                "num_items": (labels[:, 1:] != IGNORE_INDEX).sum()}

    def loss(self, model, batch: dict, num_items) -> torch.Tensor:
        return model(**{k: v for k, v in batch.items() if k != "num_items"}, num_items=num_items).loss

    def token_nll(self, model, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
        """Per example: summed NLL of the response tokens (B,), and how many there are (B,)."""
        logits = model(**self.model_inputs(batch)).logits[:, :-1].float()  # (B, L-1, V)
        labels = batch["labels"][:, 1:].to(logits.device)
        return _per_example_nll(logits, labels)


class Seq2SeqTask(Task):
    name = "seq2seq"
    pipeline_tag = "text2text-generation"

    def __init__(self, cfg: FinetuneConfig, tokenizer, decoder_start_id: int, label_smoothing: float) -> None:
        super().__init__(cfg, tokenizer)
        self.label_smoothing = label_smoothing
        self.collator = Seq2SeqCollator(tokenizer.pad_token_id, decoder_start_id)

    def source_text(self, row: dict, where: str) -> str:
        return self.cfg.data.source_prefix + self.text(row, "source", where)

    def encode_source(self, text: str) -> list[int]:
        return self.tokenizer(text, truncation=True, max_length=self.cfg.data.max_length)["input_ids"]

    def encode(self, row: dict, where: str) -> dict:
        target = self.tokenizer(self.text(row, "target", where), truncation=True,
                                max_length=self.cfg.data.max_target_length)["input_ids"]
        return {"input_ids": self.encode_source(self.source_text(row, where)), "labels": target}

    def collate(self, examples: list[dict]) -> dict:
        return self.collator(examples)

    def loss(self, model, batch: dict, num_items) -> torch.Tensor:
        return model(**{k: v for k, v in batch.items() if k != "num_items"}, num_items=num_items,
                     label_smoothing=self.label_smoothing).loss

    def token_nll(self, model, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
        logits = model(**self.model_inputs(batch)).logits.float()  # (B, L, V)
        return _per_example_nll(logits, batch["labels"].to(logits.device))


def _per_example_nll(logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    B, L, V = logits.shape
    per_token = F.cross_entropy(logits.reshape(-1, V), labels.reshape(-1), ignore_index=IGNORE_INDEX,
                                reduction="none").view(B, L)
    return per_token.sum(-1), (labels != IGNORE_INDEX).sum(-1)


@dataclass
class TaskSpec:
    """What a task needs from the model side to be built (see `build_task`)."""

    labels: LabelSpace | None = None
    use_token_types: bool = False
    class_weights: list[float] | None = None
    decoder_start_id: int | None = None
    label_smoothing: float = 0.0


def build_task(cfg: FinetuneConfig, tokenizer, spec: TaskSpec) -> Task:
    if cfg.task == "classification":
        return ClassificationTask(cfg, tokenizer, spec.labels, spec.use_token_types, spec.class_weights)
    if cfg.task == "sft":
        return SFTTask(cfg, tokenizer)
    return Seq2SeqTask(cfg, tokenizer, spec.decoder_start_id, spec.label_smoothing)
