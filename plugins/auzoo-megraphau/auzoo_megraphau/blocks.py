"""ME-GraphAU's two small building blocks: the token-wise linear block and
single-head cross-attention.

Both work on token sequences (B, ..., D, C). Initialisation follows the
official code (He-normal on the output width, BatchNorm at identity), since
the stage-2 modules start from scratch on top of a trained stage 1 and their
scale at the start matters.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor, nn


def he_normal_(linear: nn.Linear) -> nn.Linear:
    """Weight ~ N(0, sqrt(2 / out_features)); the bias keeps PyTorch's default."""
    nn.init.normal_(linear.weight, 0.0, math.sqrt(2.0 / linear.out_features))
    return linear


def identity_bn_(bn: nn.modules.batchnorm._BatchNorm) -> nn.modules.batchnorm._BatchNorm:
    nn.init.ones_(bn.weight)
    nn.init.zeros_(bn.bias)
    return bn


class LinearBlock(nn.Module):
    """Dropout -> Linear(in, out) -> BatchNorm over the out channels -> ReLU, per token.

    Input (B, D, in) or (B, N, D, in); the BatchNorm statistics run over the
    batch and the tokens (and the leading dims), one per output channel.
    """

    def __init__(self, in_features: int, out_features: int, drop: float = 0.0):
        super().__init__()
        self.drop = nn.Dropout(drop)
        self.fc = he_normal_(nn.Linear(in_features, out_features))
        self.bn = identity_bn_(nn.BatchNorm1d(out_features))
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        shape = x.shape
        y = self.fc(self.drop(x)).reshape(-1, shape[-2], self.fc.out_features)
        y = self.act(self.bn(y.transpose(1, 2))).transpose(1, 2)
        return y.reshape(*shape[:-1], self.fc.out_features)


class CrossAttention(nn.Module):
    """Single-head cross-attention of query tokens ``y`` over key/value tokens ``z``.

    q = y Wq (C -> C/2), k = z Wk (C -> C/2), v = z Wv (C -> C);
    out = softmax_z(q k^T / sqrt(C/2)) v. No output projection, no residual
    (ME-GraphAU's FAM and ARM). Leading dimensions broadcast.
    """

    def __init__(self, channels: int):
        super().__init__()
        self.query = he_normal_(nn.Linear(channels, channels // 2))
        self.key = he_normal_(nn.Linear(channels, channels // 2))
        self.value = he_normal_(nn.Linear(channels, channels))
        self.scale = (channels // 2) ** -0.5

    def attend(self, q: Tensor, k: Tensor, v: Tensor) -> Tensor:
        """Attention from projected queries, keys and values (leading dims broadcast)."""
        attention = torch.softmax(q @ k.transpose(-2, -1) * self.scale, dim=-1)
        return attention @ v

    def forward(self, y: Tensor, z: Tensor) -> Tensor:
        return self.attend(self.query(y), self.key(z), self.value(z))


__all__ = ["CrossAttention", "LinearBlock", "he_normal_", "identity_bn_"]
