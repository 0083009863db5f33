"""The mmengine side of an auzoo model: batch preparation and the loss.

:class:`AUFramePreprocessor` takes what the data loader yields (uint8 frames
straight from the cache) to the device and makes the model's input there:
float RGB in [0, 1], NCHW, resized when the training size differs from the
cache's, channels-last where it pays. :class:`AUDetectorModule` wraps any
auzoo model for mmengine's Runner and computes the paper's loss: the sum over
the model's branches (``model.loss_groups``) of each branch's mean multi-label
binary cross-entropy.
"""
from __future__ import annotations

from typing import List, Optional, Sequence

import torch
import torch.nn.functional as F
from mmengine.model import BaseDataPreprocessor, BaseModel
from torch import Tensor, nn


def grouped_bce(logits: Tensor, labels: Tensor, groups: Sequence[Sequence[int]]) -> Tensor:
    """Sum over groups of the group's mean binary cross-entropy (with logits)."""
    labels = labels.to(logits.dtype)
    return sum(F.binary_cross_entropy_with_logits(logits[:, list(g)], labels[:, list(g)])
               for g in groups)


class AUFramePreprocessor(BaseDataPreprocessor):
    """uint8 (N, H, W, 3) frames -> float (N, 3, S, S) in [0, 1] on the device
    (:func:`auzoo.data.dataset.to_model_input`).

    Args:
        img_size: the model's input size S; frames of another size are resized
            on the device (bilinear, antialiased) and landmarks scaled with them.
        channels_last: hand the model channels-last tensors (faster convolutions
            on GPUs with tensor cores).
    """

    def __init__(self, img_size: int, channels_last: bool = False):
        super().__init__()
        self.img_size = int(img_size)
        self.channels_last = channels_last

    def forward(self, data: dict, training: bool = False) -> dict:
        from auzoo.data.dataset import scale_landmarks, to_model_input

        data = self.cast_data(dict(data))  # to the device, non-blocking from pinned memory
        frames: Tensor = data["image"]
        if frames.dim() != 4 or frames.shape[-1] != 3:
            raise ValueError(f"expected uint8 frames (N, H, W, 3), got {tuple(frames.shape)}")
        images = to_model_input(frames, size=self.img_size)
        if self.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        out = dict(images=images, labels=data.get("labels"), index=data.get("index"))
        if data.get("landmarks") is not None:
            out["landmarks"] = scale_landmarks(data["landmarks"].float(), frames.shape[-2],
                                               self.img_size)
        return out


class AUDetectorModule(BaseModel):
    """An auzoo model as mmengine's Runner trains and validates it.

    ``mode='loss'`` returns ``{'loss': grouped BCE}``; ``mode='predict'`` returns
    one dict per batch with ``logits``, ``labels`` and ``index`` for
    :class:`auzoo.engine.metrics.AUMetric`.
    """

    def __init__(self, model: nn.Module, img_size: int, channels_last: bool = False,
                 eval_dtype: Optional[torch.dtype] = None):
        super().__init__(data_preprocessor=AUFramePreprocessor(img_size, channels_last))
        self.model = model
        self.eval_dtype = eval_dtype  # autocast dtype for validation (training: the optim wrapper's)
        self.loss_groups: List[tuple] = [tuple(g) for g in getattr(
            model, "loss_groups", [tuple(range(len(model.aus)))])]
        self.requires_landmarks = bool(getattr(model, "requires_landmarks", False))

    def forward(self, images: Tensor, labels: Optional[Tensor] = None, index: Optional[Tensor] = None,
                landmarks: Optional[Tensor] = None, mode: str = "tensor"):
        if self.requires_landmarks:
            if landmarks is None:
                raise ValueError(f"model '{getattr(self.model, 'name', '?')}' needs landmarks "
                                 "and the batch has none")
            logits = self.model(images, landmarks)
        else:
            logits = self.model(images)
        if mode == "loss":
            return {"loss": grouped_bce(logits.float(), labels, self.loss_groups)}
        if mode == "predict":
            return [dict(logits=logits.float(), labels=labels, index=index)]
        return logits

    def val_step(self, data) -> list:
        if self.eval_dtype is None:
            return super().val_step(data)
        with torch.autocast(device_type=self.data_preprocessor.device.type, dtype=self.eval_dtype):
            return super().val_step(data)

    test_step = val_step
