"""The cosine-similarity AU classifier, with logits that keep its precision.

ME-GraphAU scores AU i by p_i = cos(v_i, ReLU(s_i)), a probability in [0, 1]
(both vectors are non-negative), thresholded at 0.5. auzoo's models return
logits. Taking ``logit(p)`` of the float32 cosine would lose everything near
p = 1: float32 holds 1 - p only to about 6e-8 there, so any p above 1 - 3e-8
rounds to 1 and its logit to infinity. Instead both sides of
``logit = log p - log(1 - p)`` come from the normalised vectors a, b directly:

    p     = a . b                (a sum of non-negative terms: exact near 0)
    1 - p = |a - b|^2 / 2        (for unit vectors: exact near 1)

so ``sigmoid(logit)`` gives back p and ``sigmoid(-logit)`` gives back 1 - p
down to float32's smallest normal number (logits within +-87.3).
"""
from __future__ import annotations

from typing import Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from auzoo.registry import HEADS

# The smallest normal float32: the floor of p and of 1 - p (logits stay finite).
TINY = torch.finfo(torch.float32).tiny


def cosine_logit(a: Tensor, b: Tensor) -> Tensor:
    """logit(cos(a, b)) for non-negative unit vectors a, b (last dim), without
    forming cos near 1: log(a.b) - log(|a - b|^2 / 2)."""
    p = (a * b).sum(dim=-1)
    q = (a - b).square().sum(dim=-1) / 2
    return p.clamp(min=TINY).log() - q.clamp(min=TINY).log()


@HEADS.register_module()
class CosineAUClassifier(nn.Module):
    """p_i = cos(v_i, ReLU(s_i)) with a learnable s_i (C,) per AU (xavier-uniform init).

    ``forward(nodes)`` returns logits (B, N) whose sigmoid is p; ``probabilities``
    returns p itself (ME-GraphAU's output). Computed in float32 even under autocast.
    """

    def __init__(self, num_aus: int, channels: int = 512):
        super().__init__()
        self.num_aus = num_aus
        self.weight = nn.Parameter(torch.empty(num_aus, channels))
        nn.init.xavier_uniform_(self.weight)

    def unit_vectors(self, nodes: Tensor) -> Tuple[Tensor, Tensor]:
        """The L2-normalised node features (B, N, C) and class vectors (1, N, C), float32."""
        a = F.normalize(nodes.float(), p=2, dim=-1)
        b = F.normalize(F.relu(self.weight.float()), p=2, dim=-1)
        return a, b.unsqueeze(0)

    def probabilities(self, nodes: Tensor) -> Tensor:
        with torch.autocast(nodes.device.type, enabled=False):
            a, b = self.unit_vectors(nodes)
            return (a * b).sum(dim=-1)

    def forward(self, nodes: Tensor) -> Tensor:
        with torch.autocast(nodes.device.type, enabled=False):
            return cosine_logit(*self.unit_vectors(nodes))


__all__ = ["CosineAUClassifier", "TINY", "cosine_logit"]
