"""Stage 2: edge indexing, GEM's cross-attention edges, the gated GCN and edge targets."""
import pytest
import torch
import torch.nn.functional as F

from auzoo_megraphau.blocks import CrossAttention
from auzoo_megraphau.losses import edge_targets
from auzoo_megraphau.mefl import MEFL, GatedGCNLayer, GraphEdgeModel, edge_ends, edge_index


def _random_bn_(bn):
    bn.running_mean.uniform_(-0.3, 0.3)
    bn.running_var.uniform_(0.5, 2.0)
    torch.nn.init.uniform_(bn.weight, 0.5, 1.5)
    torch.nn.init.uniform_(bn.bias, -0.2, 0.2)


def test_edge_index_is_end_major():
    n = 3
    end, start = edge_ends(n)
    assert end.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert start.tolist() == [0, 1, 2, 0, 1, 2, 0, 1, 2]
    assert [edge_index(int(i), int(j), n) for i, j in zip(end, start)] == list(range(9))
    assert edge_index(2, 1, 5) == 11


def test_cross_attention_is_single_head_scaled_softmax():
    torch.manual_seed(0)
    ca = CrossAttention(8)
    y, z = torch.randn(2, 3, 8), torch.randn(2, 5, 8)
    q, k, v = ca.query(y), ca.key(z), ca.value(z)
    assert q.shape[-1] == 4 and v.shape[-1] == 8
    weights = torch.softmax(q @ k.transpose(1, 2) / 2.0, dim=-1)  # sqrt(C/2) = 2
    with torch.no_grad():
        assert torch.allclose(ca(y, z), weights @ v, atol=1e-6)


def test_gem_edge_e_is_start_j_attending_to_end_i():
    torch.manual_seed(0)
    n, d, c = 3, 4, 8
    gem = GraphEdgeModel(n, c).eval()
    _random_bn_(gem.bn)
    x, u = torch.randn(2, d, c), torch.randn(2, n, d, c)
    with torch.no_grad():
        edges = gem(x, u)
        display = torch.stack([gem.fam(u[:, i], x) for i in range(n)], dim=1)  # F_i
        for i in range(n):
            for j in range(n):
                e = edge_index(i, j, n)
                r = gem.arm(display[:, j], display[:, i])  # Y = F_j (start), Z = F_i (end)
                r = gem.proj(r)
                bn = gem.bn
                r = (r - bn.running_mean[e]) / torch.sqrt(bn.running_var[e] + bn.eps)
                r = r * bn.weight[e] + bn.bias[e]
                assert torch.allclose(edges[:, e], r.mean(dim=1), atol=1e-5), (i, j)
    assert edges.shape == (2, n * n, c)
    # Swapping the roles changes the edge: (i, j) and (j, i) differ.
    assert not torch.allclose(edges[:, edge_index(0, 1, n)], edges[:, edge_index(1, 0, n)])


def _gated_layer_by_incidence(layer, h, e):
    """The layer written with the E x N incidence matrices of the start and end nodes."""
    n = h.shape[1]
    end = F.one_hot(edge_ends(n)[0], n).float()    # (N^2, N)
    start = F.one_hot(edge_ends(n)[1], n).float()
    upd = end @ layer.end_in(h) + start @ layer.start_in(h) + layer.edge_in(e)
    e = e + torch.relu(layer.bn_edge(upd))
    g = torch.sigmoid(e).view(h.shape[0], n, n, -1).softmax(dim=2).view(h.shape[0], n * n, -1)
    message = start @ layer.message(h)
    h = torch.relu(h + layer.bn_node(layer.self_loop(h) + end.T @ (g * message) / n))
    return h, e


@pytest.mark.parametrize("training", [True, False])
def test_gated_gcn_layer_matches_the_incidence_formulation(training):
    torch.manual_seed(1)
    n, c = 4, 6
    layer = GatedGCNLayer(n, c).train(training)
    _random_bn_(layer.bn_edge)
    _random_bn_(layer.bn_node)
    h, e = torch.rand(5, n, c), torch.randn(5, n * n, c)
    with torch.no_grad():
        got = layer(h, e)
        want = _gated_layer_by_incidence(layer, h, e)
    assert torch.allclose(got[0], want[0], atol=1e-5)
    assert torch.allclose(got[1], want[1], atol=1e-5)


def test_mefl_outputs_nodes_and_four_way_edge_logits():
    torch.manual_seed(0)
    mefl = MEFL(num_aus=3, channels=8)
    out = mefl(torch.randn(2, 4, 8), torch.randn(2, 3, 4, 8), torch.rand(2, 3, 8))
    assert out["nodes"].shape == (2, 3, 8) and (out["nodes"] >= 0).all()
    assert out["edge_logits"].shape == (2, 9, 4)
    assert len(mefl.gcn) == 2


def test_edge_targets_from_au_pairs():
    labels = torch.tensor([[1.0, 0.0, 1.0]])
    mask = torch.tensor([[True, True, True]])
    target, valid = edge_targets(labels, mask)
    t = target[0].view(3, 3)  # [end i][start j] = 2 y_i + y_j
    assert t.tolist() == [[3, 2, 3],
                          [1, 0, 1],
                          [3, 2, 3]]
    assert valid.all()
    # AU index 1 not coded (its label NaN): no edge touching it counts.
    labels = torch.tensor([[1.0, float("nan"), 0.0]])
    mask = torch.tensor([[True, False, True]])
    target, valid = edge_targets(labels, mask)
    assert valid[0].view(3, 3).tolist() == [[True, False, True],
                                            [False, False, False],
                                            [True, False, True]]
    assert target[0].view(3, 3)[0].tolist()[::2] == [3, 2] and (target >= 0).all() and (target <= 3).all()
