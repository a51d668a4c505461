"""Token-level losses. `num_items` lets the engine normalise by the global number of target
tokens across gradient-accumulation steps and ranks instead of averaging per micro-batch."""

from __future__ import annotations

import torch
import torch.nn.functional as F

IGNORE_INDEX = -100


def token_cross_entropy(
    logits: torch.Tensor,
    labels: torch.Tensor,
    num_items: int | torch.Tensor | None = None,
    label_smoothing: float = 0.0,
) -> torch.Tensor:
    """Cross-entropy over (B, L, V) logits and (B, L) labels, -100 ignored."""
    flat_logits = logits.reshape(-1, logits.shape[-1]).float()
    flat_labels = labels.reshape(-1).to(logits.device)
    if num_items is None:
        return F.cross_entropy(flat_logits, flat_labels, ignore_index=IGNORE_INDEX, label_smoothing=label_smoothing)
    total = F.cross_entropy(
        flat_logits, flat_labels, ignore_index=IGNORE_INDEX, reduction="sum", label_smoothing=label_smoothing
    )
    return total / num_items


def causal_lm_loss(logits: torch.Tensor, labels: torch.Tensor, num_items=None) -> torch.Tensor:
    """Next-token loss: position t predicts label t+1 (labels are the inputs, unshifted).

    The labels are shifted (padded with an ignored target), not the logits: slicing (B, L, V)
    logits would copy the largest activation of the step.
    """
    shifted = F.pad(labels[:, 1:], (0, 1), value=IGNORE_INDEX)  # (B, L)
    return token_cross_entropy(logits, shifted, num_items)


def sequence_classification_loss(
    logits: torch.Tensor, labels: torch.Tensor, problem_type: str | None
) -> tuple[torch.Tensor, str]:
    """HF's rule: regression for 1 label, multi-label for float targets, else single-label."""
    num_labels = logits.shape[-1]
    if problem_type is None:
        if num_labels == 1:
            problem_type = "regression"
        elif labels.dtype in (torch.long, torch.int):
            problem_type = "single_label_classification"
        else:
            problem_type = "multi_label_classification"
    if problem_type == "regression":
        return F.mse_loss(logits.squeeze(-1).float(), labels.float().view(-1)), problem_type
    if problem_type == "single_label_classification":
        return F.cross_entropy(logits.float().view(-1, num_labels), labels.view(-1)), problem_type
    return F.binary_cross_entropy_with_logits(logits.float(), labels.float()), problem_type
