"""The one inference path: uint8 faces -> model input -> AU logits.

Validation during training, ``auzoo eval``, the bench and ``auzoo predict`` all
call :class:`Inference`, so the input a model sees (RGB float in [0, 1],
resized on the device, channels-last where it pays), the precision it is scored
in and the landmarks it gets are decided in one place (the conversion itself:
:mod:`auzoo.data.model_input`).

Scoring runs in fp32 by default even where training used bf16 autocast: a
logit that sits near 0 can change sign under bf16, which flips a prediction at
the 0.5 threshold, so published-style F1 is taken at full precision.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Optional, Union

import numpy as np
import torch
from torch import Tensor, nn

from auzoo.data.model_input import model_input

PRECISIONS = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def check_precision(name: str) -> str:
    if name not in PRECISIONS:
        raise ValueError(f"unknown precision {name!r}; choose one of {', '.join(PRECISIONS)}")
    return name


def autocast(device: torch.device, precision: str):
    dtype = PRECISIONS[check_precision(precision)]
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def model_logits(model: nn.Module, images: Tensor, landmarks: Optional[Tensor] = None) -> Tensor:
    """``model(images[, landmarks])``: landmarks go to models that ask for them."""
    if getattr(model, "requires_landmarks", False):
        if landmarks is None:
            raise ValueError(f"model '{getattr(model, 'name', type(model).__name__)}' needs "
                             "landmarks and none were given")
        return model(images, landmarks)
    return model(images)


@dataclass
class Inference:
    """Run ``model`` on batches of aligned uint8 faces.

    Args:
        model: an auzoo model (logits in ``model.aus`` order).
        img_size: the model's input size; faces of another size are resized.
        precision: 'fp32' (default), 'bf16' or 'fp16' autocast on the model's device.
        channels_last: hand the model channels-last tensors (and keep it so).
    """

    model: nn.Module
    img_size: int
    precision: str = "fp32"
    channels_last: bool = False

    def __post_init__(self):
        check_precision(self.precision)
        self.device = next(self.model.parameters()).device
        if self.channels_last:
            self.model.to(memory_format=torch.channels_last)

    @torch.inference_mode()
    def __call__(self, frames: Union[np.ndarray, Tensor],
                 landmarks: Union[np.ndarray, Tensor, None] = None) -> Tensor:
        """The model's float32 output on its device: logits (N, n_AU), or
        intensities / both by its task (:mod:`auzoo.models.tasks`)."""
        frames = torch.as_tensor(frames)
        if self.device.type == "cuda" and not frames.is_cuda:
            frames = frames.pin_memory()
        frames = frames.to(self.device, non_blocking=True)
        wanted = landmarks if getattr(self.model, "requires_landmarks", False) else None
        images, points = model_input(frames, wanted, self.img_size, self.channels_last)
        self.model.eval()
        with autocast(self.device, self.precision):
            logits = model_logits(self.model, images, points)
        return logits.float()

    def probabilities(self, frames, landmarks=None) -> np.ndarray:
        """Sigmoid of the occurrence logits as a float32 numpy array (N, n_AU)."""
        from auzoo.models.tasks import model_task, split_output

        logits, _ = split_output(self(frames, landmarks), model_task(self.model), len(self.model.aus))
        if logits is None:
            raise ValueError("an intensity model gives no occurrence probabilities: its output "
                             "is the intensity (0-5) itself")
        return torch.sigmoid(logits).cpu().numpy()
