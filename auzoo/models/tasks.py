"""What a model predicts: AU occurrence, AU intensity, or both.

A model's ``forward`` returns one tensor, whatever it predicts, so that the
inference path, DDP and export treat every model alike; its ``task``
attribute says how to read it (A = ``len(model.aus)``):

    occurrence   (N, A)   logits: P(present) = sigmoid(logit)
    intensity    (N, A)   intensities on the FACS 0-5 scale (0 absent, 1 = A ... 5 = E)
    both         (N, 2A)  the A logits, then the A intensities

A model without a ``task`` attribute predicts occurrence.
"""
from __future__ import annotations

from typing import Optional, Tuple

import torch
from torch import Tensor

TASKS = ("occurrence", "intensity", "both")


def check_task(task: str) -> str:
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; a model predicts one of {', '.join(TASKS)}")
    return task


def model_task(model) -> str:
    """The task of a built model (``occurrence`` unless it says otherwise)."""
    return check_task(getattr(model, "task", "occurrence"))


def has_occurrence(task: str) -> bool:
    return check_task(task) in ("occurrence", "both")


def has_intensity(task: str) -> bool:
    return check_task(task) in ("intensity", "both")


def split_output(output, task: str, n_aus: int) -> Tuple[Optional[Tensor], Optional[Tensor]]:
    """``(logits, intensity)`` of a model's output; None for what it does not predict.
    Works on tensors and numpy arrays alike."""
    check_task(task)
    width = 2 * n_aus if task == "both" else n_aus
    if output.shape[-1] != width:
        raise ValueError(f"a {task} model of {n_aus} AUs returns {width} columns, "
                         f"got {output.shape[-1]}")
    if task == "occurrence":
        return output, None
    if task == "intensity":
        return None, output
    return output[..., :n_aus], output[..., n_aus:]


def join_output(logits: Optional[Tensor], intensity: Optional[Tensor], task: str) -> Tensor:
    """The one output tensor of :func:`split_output`'s parts."""
    check_task(task)
    if task == "occurrence":
        return logits
    if task == "intensity":
        return intensity
    return torch.cat([logits, intensity.to(logits.dtype)], dim=-1)


__all__ = ["TASKS", "check_task", "has_intensity", "has_occurrence", "join_output", "model_task",
           "split_output"]
