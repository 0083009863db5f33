"""FGG: the facial graph generator of stage 1 (ANFL).

Per image, a k-nearest-neighbour graph over the AU node features (dot-product
similarity, no gradient through the graph), normalised with the row degrees
on both sides, and one GCN layer with a residual.
"""
from __future__ import annotations

import math
from typing import Dict

from torch import Tensor, nn

from auzoo.registry import NECKS

from auzoo_megraphau.blocks import identity_bn_


def knn_adjacency(nodes: Tensor, k: int) -> Tensor:
    """0/1 adjacency (B, N, N): row i keeps every j whose dot-product similarity
    to i is at least the k-th largest of row i.

    Ties at the threshold keep all tied nodes (a row may have more than k), and
    i itself is kept only if it is among the k most similar (usual, not forced).
    The similarity is computed on detached features: the graph carries no gradient.
    """
    n = nodes.shape[-2]
    if not 1 <= k <= n:
        raise ValueError(f"neighbour count k={k} must be in 1..{n} (the number of AUs)")
    nodes = nodes.detach()
    similarity = nodes @ nodes.transpose(-2, -1)
    threshold = similarity.topk(k, dim=-1).values[..., -1:]
    return (similarity >= threshold).to(nodes.dtype)


def normalize_digraph(adjacency: Tensor) -> Tensor:
    """D^-1/2 A D^-1/2 with D the row sums (out-degrees) of the directed graph A:
    entry (i, j) becomes A_ij / sqrt(d_i d_j)."""
    inv_sqrt = adjacency.sum(dim=-1).clamp(min=1e-12).rsqrt()
    return adjacency * inv_sqrt.unsqueeze(-1) * inv_sqrt.unsqueeze(-2)


@NECKS.register_module()
class FacialGraphGenerator(nn.Module):
    """FGG: V <- ReLU(V + BN_N(Â (V Wv + bv) + (V Wu + bu))) over the k-NN graph Â.

    Args:
        num_aus: N, the number of nodes.
        channels: C, the node width.
        neighbor_num: k of the k-NN graph (the official configs: 3 for DISFA,
            4 for BP4D).
    """

    def __init__(self, num_aus: int, channels: int = 512, neighbor_num: int = 3):
        super().__init__()
        if not 1 <= neighbor_num <= num_aus:
            raise ValueError(f"neighbor_num={neighbor_num} must be in 1..{num_aus} (the number of AUs)")
        self.neighbor_num = neighbor_num
        self.neighbour = nn.Linear(channels, channels)  # Wv: what a node sends to its neighbours
        self.self_loop = nn.Linear(channels, channels)  # Wu: what it keeps of itself
        for linear in (self.neighbour, self.self_loop):
            nn.init.normal_(linear.weight, 0.0, math.sqrt(2.0 / channels))
        self.bn = identity_bn_(nn.BatchNorm1d(num_aus))  # one channel per node
        self.act = nn.ReLU()

    def adjacency(self, nodes: Tensor) -> Tensor:
        """The normalised graph Â (B, N, N) the layer aggregates over."""
        return normalize_digraph(knn_adjacency(nodes, self.neighbor_num))

    def forward(self, tokens: Tensor, au_tokens: Tensor, nodes: Tensor) -> Dict[str, Tensor]:
        aggregate = self.adjacency(nodes) @ self.neighbour(nodes) + self.self_loop(nodes)
        return dict(nodes=self.act(nodes + self.bn(aggregate)))

    def extra_repr(self) -> str:
        return f"neighbor_num={self.neighbor_num}"


__all__ = ["FacialGraphGenerator", "knn_adjacency", "normalize_digraph"]
