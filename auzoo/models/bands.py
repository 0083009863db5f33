"""Exact computation on a row band of a map that is zero outside the band.

A hard-masked region map is zero everywhere except in a band of rows. Blocks
that only multiply their input by gates (CBAM, SE, with or without a residual)
keep those rows zero, so a branch can run on the band alone -- a third to a
half of the rows -- and still compute the same function as on the full map,
provided every *global* statistic is taken over the full map:

* an average over H x W divides by the full H x W;
* a max over the map also sees the zeros outside the band;
* a convolution sees zeros beyond the band's edges, and its output is nonzero
  only on the band widened by the kernel's half-size;
* a BatchNorm in training mode takes its mean and variance over the full map.

A block that can do this sets ``zero_preserving = True`` and accepts
``forward(x, band=Band(...))`` where ``x`` holds only the band's rows.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn


@dataclass(frozen=True)
class Band:
    """Rows ``[start, stop)`` of a map ``height`` rows tall, zero elsewhere."""

    start: int
    stop: int
    height: int

    def __post_init__(self):
        if not 0 <= self.start < self.stop <= self.height:
            raise ValueError(f"bad band rows [{self.start}, {self.stop}) of a map of height {self.height}")

    @property
    def rows(self) -> int:
        return self.stop - self.start

    @property
    def is_full(self) -> bool:
        return self.rows == self.height

    def widened(self, margin: int) -> "Band":
        """The band plus ``margin`` rows on each side, clipped to the map."""
        return Band(max(0, self.start - margin), min(self.height, self.stop + margin), self.height)

    def pad_to_full(self, x: Tensor) -> Tensor:
        """Put the band's rows back into a zero map of full height."""
        return F.pad(x, (0, 0, self.start, self.height - self.stop))


def avg_pool(x: Tensor, band: Optional[Band] = None) -> Tensor:
    """Global average pool (N, C, 1, 1) of the full map that ``x`` is a band of."""
    if band is None:
        return x.mean((2, 3), keepdim=True)
    return x.sum((2, 3), keepdim=True) / (band.height * x.shape[-1])


def max_pool(x: Tensor, band: Optional[Band] = None) -> Tensor:
    """Global max pool (N, C, 1, 1) of the full map that ``x`` is a band of."""
    peak = x.amax((2, 3), keepdim=True)
    if band is None or band.is_full:
        return peak
    return peak.clamp_min(0.0)  # the zeros outside the band take part in the max


def _synced(bn: nn.Module) -> bool:
    """A SyncBatchNorm (``sync_bn='torch'``) in a process group of several."""
    import torch.distributed as dist
    return (isinstance(bn, nn.SyncBatchNorm) and dist.is_available() and dist.is_initialized()
            and dist.get_world_size() > 1)


def batch_norm(y: Tensor, bn: nn.modules.batchnorm._BatchNorm, full_count: Optional[int] = None) -> Tensor:
    """``bn(y_full)`` restricted to ``y``, where ``y_full`` equals ``y`` on some
    rows and is exactly zero elsewhere, ``full_count`` being the number of
    elements per channel of ``y_full`` (N * H * W).

    In training mode the batch statistics (and the running-statistics update,
    unbiased variance and momentum as in ``nn.BatchNorm2d``) cover the zeros
    too; in eval mode this is plain ``bn(y)``.
    """
    use_batch_stats = bn.training or bn.running_mean is None
    count = y.numel() // y.shape[1]
    if not use_batch_stats or full_count is None or full_count == count:
        return bn(y)
    if full_count < count:
        raise ValueError(f"full_count {full_count} is smaller than the band's {count} elements")

    # Statistics, and the running buffers they update, in float32 whatever the
    # input's dtype (bf16 under autocast): as nn.BatchNorm2d keeps them.
    y32 = y.float()
    dims = (0, 2, 3)
    if _synced(bn):
        # SyncBatchNorm: the statistics of the whole distributed batch. The
        # zeros outside the band add to the count only, so sums suffice.
        from torch.distributed.nn.functional import all_reduce

        sums = all_reduce(torch.cat([y32.sum(dims), y32.square().sum(dims),
                                     y32.new_tensor([float(full_count)])]))
        channels = y.shape[1]
        full_count = int(round(float(sums[-1])))
        mean = sums[:channels] / full_count
        var = (sums[channels:2 * channels] / full_count - mean.square()).clamp_min(0.0)
        centred = y32 - mean[None, :, None, None]
    else:
        mean = y32.sum(dims) / full_count
        centred = y32 - mean[None, :, None, None]
        # Each zero outside the band contributes (0 - mean)^2.
        var = (centred.square().sum(dims) + (full_count - count) * mean.square()) / full_count

    if bn.training and bn.track_running_stats:
        with torch.no_grad():
            bn.num_batches_tracked.add_(1)
            factor = (1.0 / float(bn.num_batches_tracked) if bn.momentum is None else bn.momentum)
            unbiased = var * (full_count / max(full_count - 1, 1))
            bn.running_mean.lerp_(mean.detach().to(bn.running_mean.dtype), factor)
            bn.running_var.lerp_(unbiased.detach().to(bn.running_var.dtype), factor)

    out = centred * torch.rsqrt(var + bn.eps)[None, :, None, None]
    if bn.affine:
        out = out * bn.weight.float()[None, :, None, None] + bn.bias.float()[None, :, None, None]
    return out.to(y.dtype)


__all__ = ["Band", "avg_pool", "max_pool", "batch_norm"]
