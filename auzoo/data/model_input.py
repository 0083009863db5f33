"""The one conversion from a pipeline's output to a model's input.

A model's pipeline (:mod:`auzoo.data.transforms`) ends with uint8 RGB faces
(N, S, S, 3) and, where the model reads them, 66 landmarks in those pixels.
Models read float (N, 3, size, size) RGB in [0, 1] and landmarks in the
pixels of that input. :func:`model_input` makes one from the other, on the
faces' device: training (:class:`auzoo.engine.model.AUFramePreprocessor`),
scoring and ``auzoo predict`` (:class:`auzoo.engine.inference.Inference`) and
an exported graph's runtime (:class:`auzoo.inference.backends.OnnxInference`)
all call it, so a face reaches a model the same way whichever road it took.

Faces stay uint8 and channels-last until they are on the device: a quarter
of the bytes cross the host-device link, and the resize runs there.
"""
from __future__ import annotations

from typing import Optional, Tuple, Union

import numpy as np
import torch
from torch import Tensor

LandmarksLike = Union[np.ndarray, Tensor, None]


def to_model_input(frames: Tensor, size: Optional[int] = None, channels_last: bool = False) -> Tensor:
    """uint8 (N, S, S, 3) RGB -> float (N, 3, size, size) in [0, 1], on ``frames``' device.

    ``size`` other than S resizes (bilinear, antialiased) on the device: the
    cache keeps one size and a model trained at another reads it unchanged.
    """
    if frames.dim() != 4 or frames.shape[-1] != 3:
        raise ValueError(f"expected uint8 frames (N, H, W, 3), got {tuple(frames.shape)}")
    x = frames.permute(0, 3, 1, 2).float().div_(255.0)
    if size is not None and size != x.shape[-1]:
        x = torch.nn.functional.interpolate(x, size=(size, size), mode="bilinear",
                                            align_corners=False, antialias=True)
    return x.contiguous(memory_format=torch.channels_last if channels_last
                        else torch.contiguous_format)


def scale_landmarks(landmarks: Tensor, from_size: int, to_size: int) -> Tensor:
    """Landmarks of an S-pixel image in a resized ``to_size`` one (pixel centres kept)."""
    if from_size == to_size:
        return landmarks
    return (landmarks + 0.5) * (to_size / from_size) - 0.5


def model_input(frames: Tensor, landmarks: LandmarksLike = None, size: Optional[int] = None,
                channels_last: bool = False) -> Tuple[Tensor, Optional[Tensor]]:
    """``(images, landmarks)`` as a model reads them, from a pipeline's faces.

    Args:
        frames: uint8 (N, S, S, 3) RGB, on the device the model runs on.
        landmarks: (N, K, 2) points in the faces' pixels (numpy or tensor,
            any float type), or None; moved to ``frames``' device.
        size: the model's input size (None: S, no resize).
        channels_last: lay the images out channels-last.

    Returns float (N, 3, size, size) images in [0, 1] and float32 landmarks
    in their pixels (None where none were given).
    """
    images = to_model_input(frames, size, channels_last)
    if landmarks is None:
        return images, None
    points = torch.as_tensor(np.asarray(landmarks, dtype=np.float32)
                             if isinstance(landmarks, np.ndarray) else landmarks.float())
    points = points.to(frames.device, non_blocking=True)
    return images, scale_landmarks(points, frames.shape[-2], images.shape[-1])


__all__ = ["model_input", "scale_landmarks", "to_model_input"]
