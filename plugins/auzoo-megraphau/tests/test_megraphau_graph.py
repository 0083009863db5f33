"""Stage 1's facial graph: k-NN edges, their normalisation, and the GCN layer."""
import math

import pytest
import torch
import torch.nn.functional as F

from auzoo_megraphau.graph import FacialGraphGenerator, knn_adjacency, normalize_digraph

# Four nodes with small integer dot products (similarity = nodes @ nodes.T):
#        n0  n1  n2  n3
#  n0     1   1   0   0
#  n1     1   2   2   1
#  n2     0   2   4   2
#  n3     0   1   2   2
NODES = torch.tensor([[[1.0, 0.0, 0.0],
                       [1.0, 1.0, 0.0],
                       [0.0, 2.0, 0.0],
                       [0.0, 1.0, 1.0]]])


def test_knn_graph_keeps_the_k_most_similar_per_row_with_ties():
    assert torch.equal(NODES[0] @ NODES[0].T, torch.tensor([[1.0, 1, 0, 0], [1, 2, 2, 1],
                                                            [0, 2, 4, 2], [0, 1, 2, 2]]))
    expected_k2 = [[1, 1, 0, 0],   # 1, 1
                   [0, 1, 1, 0],   # 2, 2
                   [0, 1, 1, 1],   # 4, then 2 twice: the tie keeps both
                   [0, 0, 1, 1]]   # 2, 2
    assert knn_adjacency(NODES, k=2)[0].tolist() == expected_k2
    expected_k1 = [[1, 1, 0, 0],   # tie at the top
                   [0, 1, 1, 0],
                   [0, 0, 1, 0],
                   [0, 0, 1, 1]]
    assert knn_adjacency(NODES, k=1)[0].tolist() == expected_k1
    # The self-similarity is not forced in: n0 . n0 = 1 < n0 . n1 = 2.
    off = torch.tensor([[[1.0, 0.0], [2.0, 0.0]]])
    assert knn_adjacency(off, k=1)[0, 0].tolist() == [0, 1]


def test_knn_graph_is_directed_and_carries_no_gradient():
    nodes = NODES.clone().requires_grad_(True)
    a = knn_adjacency(nodes, k=2)
    assert not a.requires_grad
    assert a[0, 0, 1] == 1 and a[0, 1, 0] == 0  # n0 -> n1 kept, n1 -> n0 not
    with pytest.raises(ValueError, match="k=5"):
        knn_adjacency(nodes, k=5)
    with pytest.raises(ValueError, match="neighbor_num=9"):
        FacialGraphGenerator(num_aus=8, channels=4, neighbor_num=9)


def test_normalisation_uses_row_degrees_on_both_sides():
    a = torch.tensor([[[1.0, 1.0, 1.0],
                       [0.0, 1.0, 0.0],
                       [1.0, 1.0, 0.0]]])
    # row degrees 3, 1, 2: entry (i, j) / sqrt(d_i d_j)
    expected = torch.tensor([[1 / 3, 1 / math.sqrt(3), 1 / math.sqrt(6)],
                             [0.0, 1.0, 0.0],
                             [1 / math.sqrt(6), 1 / math.sqrt(2), 0.0]])
    assert torch.allclose(normalize_digraph(a)[0], expected)


@pytest.mark.parametrize("training", [True, False])
def test_fgg_layer_is_the_residual_gcn_over_the_knn_graph(training):
    torch.manual_seed(0)
    fgg = FacialGraphGenerator(num_aus=4, channels=6, neighbor_num=2).train(training)
    fgg.bn.running_mean.uniform_(-0.5, 0.5)
    fgg.bn.running_var.uniform_(0.5, 2.0)
    nodes = torch.randn(3, 4, 6)
    out = fgg(torch.randn(3, 5, 6), torch.randn(3, 4, 5, 6), nodes)["nodes"]

    expected = []
    for v in nodes:  # one image at a time, with its own graph
        sim = v @ v.T
        threshold = sim.sort(dim=1, descending=True).values[:, 1:2]
        a = (sim >= threshold).double()
        d = a.sum(1)
        a_hat = a / torch.sqrt(d[:, None] * d[None, :])
        expected.append(a_hat.float() @ (v @ fgg.neighbour.weight.T + fgg.neighbour.bias)
                        + v @ fgg.self_loop.weight.T + fgg.self_loop.bias)
    aggregate = torch.stack(expected)
    normed = F.batch_norm(aggregate, fgg.bn.running_mean.clone(), fgg.bn.running_var.clone(),
                          fgg.bn.weight, fgg.bn.bias, training=training, eps=fgg.bn.eps)
    with torch.no_grad():
        assert torch.allclose(out, torch.relu(nodes + normed), atol=1e-5)
