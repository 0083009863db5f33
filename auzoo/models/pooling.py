"""Adaptive average pooling with a deterministic backward pass.

``nn.AdaptiveAvgPool2d``'s CUDA backward scatters with atomic adds and has no
deterministic implementation: under ``torch.use_deterministic_algorithms(True)``
it raises. :class:`GridAvgPool2d` computes exactly the same function with
operations whose backward is deterministic: ``avg_pool2d`` with the exact
kernel when the grid divides the map, else two small averaging matrices (the
bins ``[floor(i*H/s), ceil((i+1)*H/s))`` of the adaptive pool).
"""
from __future__ import annotations

from typing import Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def _pair(size: Union[int, Tuple[int, int]]) -> Tuple[int, int]:
    return (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))


def bin_matrix(length: int, bins: int, device=None, dtype=None) -> Tensor:
    """(bins, length): row i averages the adaptive pool's bin i of a length-``length`` axis."""
    matrix = torch.zeros(bins, length, device=device, dtype=dtype)
    for i in range(bins):
        start, stop = (i * length) // bins, -((-(i + 1) * length) // bins)
        matrix[i, start:stop] = 1.0 / (stop - start)
    return matrix


def grid_avg_pool(x: Tensor, size: Union[int, Tuple[int, int]]) -> Tensor:
    """``F.adaptive_avg_pool2d(x, size)``, with a deterministic backward."""
    out_h, out_w = _pair(size)
    height, width = x.shape[-2:]
    if height % out_h == 0 and width % out_w == 0:
        kernel = (height // out_h, width // out_w)
        return F.avg_pool2d(x, kernel, kernel)
    rows = bin_matrix(height, out_h, x.device, x.dtype)
    cols = bin_matrix(width, out_w, x.device, x.dtype)
    return torch.einsum("ih,nchw,jw->ncij", rows, x, cols)


class GridAvgPool2d(nn.Module):
    """Drop-in for ``nn.AdaptiveAvgPool2d(size)`` that also runs under
    deterministic CUDA algorithms (see :func:`grid_avg_pool`)."""

    def __init__(self, output_size: Union[int, Tuple[int, int]]):
        super().__init__()
        self.output_size = _pair(output_size)

    def forward(self, x: Tensor) -> Tensor:
        return grid_avg_pool(x, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


__all__ = ["GridAvgPool2d", "bin_matrix", "grid_avg_pool"]
