"""MEFL: multi-dimensional edge feature learning (stage 2).

Edges are indexed ``e = i * N + j`` over all N^2 ordered pairs (self-pairs
included), with i the *end* node and j the *start* node; an (B, N^2, ...)
tensor viewed as (B, N, N, ...) is ``[end i][start j]``.

* GEM (graph edge model): FAM lets each AU's token map attend to the global
  tokens; ARM makes edge (i, j) from AU j's FAM tokens attending to AU i's;
  a per-edge linear + BatchNorm and a mean over the tokens give the initial
  edge features E (B, N^2, C).
* Two gated GCN layers (residual gated graph convnets) update edges from
  their end and start nodes, and nodes from their incoming edges' gates.
* An edge head gives 4-way edge logits (neither AU / only j / only i / both).
"""
from __future__ import annotations

import math
from typing import Dict, Tuple

import torch
from torch import Tensor, nn

from auzoo.registry import NECKS

from auzoo_megraphau.blocks import CrossAttention, he_normal_, identity_bn_


def edge_index(i: int, j: int, num_aus: int) -> int:
    """Position of the edge from start node j to end node i."""
    return i * num_aus + j


def edge_ends(num_aus: int) -> Tuple[Tensor, Tensor]:
    """(end, start) node of every edge e, each a long tensor (N^2,)."""
    e = torch.arange(num_aus * num_aus)
    return e // num_aus, e % num_aus


class GraphEdgeModel(nn.Module):
    """GEM: initial edge features (B, N^2, C) from X (B, D, C) and U (B, N, D, C)."""

    def __init__(self, num_aus: int, channels: int = 512):
        super().__init__()
        self.num_aus = num_aus
        self.fam = CrossAttention(channels)
        self.arm = CrossAttention(channels)
        self.proj = he_normal_(nn.Linear(channels, channels))
        self.bn = identity_bn_(nn.BatchNorm2d(num_aus * num_aus))  # one channel per edge

    def forward(self, tokens: Tensor, au_tokens: Tensor) -> Tensor:
        b, n, d, c = au_tokens.shape
        display = self.fam(au_tokens, tokens.unsqueeze(1))  # F_i (B, N, D, C)
        # ARM(Y = F_j, Z = F_i) for every [end i][start j]: project each F once,
        # then broadcast queries over the ends and keys/values over the starts.
        q = self.arm.query(display).unsqueeze(1)  # [i][j] -> from F_j
        k = self.arm.key(display).unsqueeze(2)    # [i][j] -> from F_i
        v = self.arm.value(display).unsqueeze(2)
        relation = self.arm.attend(q, k, v).reshape(b, n * n, d, c)
        return self.bn(self.proj(relation)).mean(dim=-2)


class GatedGCNLayer(nn.Module):
    """One residual gated GCN layer over nodes h (B, N, C) and edges E (B, N^2, C).

    E_e <- E_e + ReLU(BN_e(A h_i + B h_j + W_E E_e))            for e = (end i, start j)
    g   =  softmax over j of sigmoid(E_ij)                       per end i and channel
    h_i <- ReLU(h_i + BN_v(U h_i + (1/N) sum_j g_ij * V h_j))
    """

    def __init__(self, num_aus: int, channels: int = 512):
        super().__init__()
        self.num_aus = num_aus
        linear = lambda: nn.Linear(channels, channels, bias=False)  # noqa: E731
        self.end_in, self.start_in, self.edge_in = linear(), linear(), linear()  # A, B, E
        self.self_loop, self.message = linear(), linear()  # U, V
        for layer in (self.end_in, self.start_in, self.edge_in, self.self_loop, self.message):
            nn.init.normal_(layer.weight, 0.0, math.sqrt(2.0 / channels))
        self.bn_edge = identity_bn_(nn.BatchNorm1d(num_aus * num_aus))
        self.bn_node = identity_bn_(nn.BatchNorm1d(num_aus))
        self.act = nn.ReLU()

    def forward(self, nodes: Tensor, edges: Tensor) -> Tuple[Tensor, Tensor]:
        b, n, c = nodes.shape
        pair = self.end_in(nodes).unsqueeze(2) + self.start_in(nodes).unsqueeze(1)  # [i][j]
        edges = edges + self.act(self.bn_edge(pair.reshape(b, n * n, c) + self.edge_in(edges)))
        gates = torch.softmax(torch.sigmoid(edges).view(b, n, n, c), dim=2)
        incoming = (gates * self.message(nodes).unsqueeze(1)).sum(dim=2) / n
        nodes = self.act(nodes + self.bn_node(self.self_loop(nodes) + incoming))
        return nodes, edges


@NECKS.register_module()
class MEFL(nn.Module):
    """Stage 2: GEM edge features, ``layers`` gated GCN layers, and the edge head.

    ``forward(tokens, au_tokens, nodes)`` returns ``nodes`` (B, N, C) for the
    classifier and ``edge_logits`` (B, N^2, 4) for the edge loss.
    """

    def __init__(self, num_aus: int, channels: int = 512, layers: int = 2):
        super().__init__()
        self.num_aus = num_aus
        self.gem = GraphEdgeModel(num_aus, channels)
        self.gcn = nn.ModuleList(GatedGCNLayer(num_aus, channels) for _ in range(layers))
        self.edge_head = nn.Linear(channels, 4)
        nn.init.xavier_uniform_(self.edge_head.weight)

    def forward(self, tokens: Tensor, au_tokens: Tensor, nodes: Tensor) -> Dict[str, Tensor]:
        edges = self.gem(tokens, au_tokens)
        for layer in self.gcn:
            nodes, edges = layer(nodes, edges)
        return dict(nodes=nodes, edge_logits=self.edge_head(edges))


__all__ = ["GatedGCNLayer", "GraphEdgeModel", "MEFL", "edge_ends", "edge_index"]
