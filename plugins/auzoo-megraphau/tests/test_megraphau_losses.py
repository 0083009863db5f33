"""The weighted asymmetric loss, the edge loss and the class weights, by hand."""
import math

import numpy as np
import pytest
import torch

from auzoo import registry
from auzoo_megraphau.losses import AUEdgeLoss, MEGraphAULoss, WeightedAsymmetricLoss, au_class_weights

NAN = float("nan")


def _registered(name):
    """The loss class registered under ``name`` (as the engine finds it from a config)."""
    assert name in registry.LOSSES.module_dict, f"{name} is not registered in LOSSES"
    assert "megraphau" in str(registry.LOSSES.providers[name])
    return registry.LOSSES.module_dict[name]


def sig(x):
    return 1 / (1 + math.exp(-x))


def _batch():
    logits = torch.tensor([[0.0, 2.0, -1.0], [1.0, -3.0, 0.5]], requires_grad=True)
    labels = torch.tensor([[1.0, 0.0, NAN], [0.0, 1.0, 1.0]])
    mask = torch.tensor([[True, True, False], [True, True, True]])
    return logits, labels, mask


def test_weighted_asymmetric_loss_by_hand_with_a_not_coded_label():
    logits, labels, mask = _batch()
    loss_fn = _registered("WeightedAsymmetricLoss")(weights=[2.0, 0.5, 0.5])
    loss = loss_fn(dict(logits=logits), labels, mask, {})
    terms = [2.0 * math.log(0.5),                          # (0, 0) positive
             0.5 * sig(2.0) * math.log(1 - sig(2.0)),      # (0, 1) negative, focused by p
             2.0 * sig(1.0) * math.log(1 - sig(1.0)),      # (1, 0) negative
             0.5 * math.log(sig(-3.0)),                    # (1, 1) positive
             0.5 * math.log(sig(0.5))]                     # (1, 2) positive; (0, 2) not coded
    assert loss.item() == pytest.approx(-sum(terms) / 5, rel=1e-6)

    loss.backward()
    g = logits.grad
    assert torch.isfinite(g).all() and g[0, 2] == 0  # the not-coded label adds nothing
    # Negative: the focusing factor p carries no gradient, d/dl [p' log(1 - p)] = -p' p.
    assert g[1, 0].item() == pytest.approx(2.0 * sig(1.0) ** 2 / 5, rel=1e-5)
    # Positive: d/dl [-w log p] = -w (1 - p).
    assert g[1, 1].item() == pytest.approx(-0.5 * (1 - sig(-3.0)) / 5, rel=1e-5)


def test_not_coded_labels_change_nothing_whatever_they_hold():
    logits, labels, mask = _batch()
    loss_fn = WeightedAsymmetricLoss(weights=[2.0, 0.5, 0.5])
    other = labels.clone()
    other[0, 2] = 1.0
    a = loss_fn(dict(logits=logits), labels, mask)
    b = loss_fn(dict(logits=logits), other, mask)
    assert a.item() == b.item()
    # Masking an entry is leaving it out: every other entry keeps its own term, and
    # the mean runs over the 5 coded ones.
    one_frame = loss_fn(dict(logits=logits[1:]), labels[1:], mask[1:])
    first = loss_fn(dict(logits=logits[:1]), labels[:1], mask[:1])
    assert a.item() == pytest.approx((3 * one_frame.item() + 2 * first.item()) / 5, rel=1e-6)


def test_log_terms_are_floored_at_eps_like_the_official_clamp():
    loss_fn = WeightedAsymmetricLoss(weights=[1.0], eps=1e-8)
    logits = torch.tensor([[-40.0]], requires_grad=True)
    loss = loss_fn(dict(logits=logits), torch.ones(1, 1), torch.ones(1, 1, dtype=torch.bool))
    assert loss.item() == pytest.approx(-math.log(1e-8), rel=1e-6)
    loss.backward()
    assert logits.grad.item() == 0.0


def test_class_weights_from_coded_frames_only():
    labels = np.array([[1, 0, NAN], [0, 0, 1], [1, NAN, 1], [0, 1, 0]], dtype=float)
    # positive rates among coded frames: 2/4, 1/3, 2/3 -> inverse 2, 3, 1.5
    expected = np.array([2.0, 3.0, 1.5]) / 6.5 * 3
    assert np.allclose(au_class_weights(labels), expected)
    assert au_class_weights(labels).sum() == pytest.approx(3.0)
    with pytest.warns(UserWarning, match="AU 9"):
        w = au_class_weights(np.array([[1.0, 0.0], [0.0, 0.0]]), aus=(4, 9))
    assert w.tolist() == [2.0, 0.0]
    with pytest.raises(ValueError, match="no AU"):
        au_class_weights(np.zeros((3, 2)))


def test_bind_sets_the_weights_from_the_training_labels():
    class Model:
        aus = (1, 2, 4)

    labels = np.array([[1, 0, NAN], [0, 0, 1], [1, NAN, 1], [0, 1, 0]], dtype=float)
    loss_fn = MEGraphAULoss(edge_weight=0.05)
    loss_fn.bind(Model(), labels)
    assert torch.allclose(loss_fn.au.weights, torch.tensor(au_class_weights(labels), dtype=torch.float32))
    fixed = WeightedAsymmetricLoss(weights=[1.0, 1.0, 1.0])
    fixed.bind(Model(), labels)
    assert fixed.weights.tolist() == [1.0, 1.0, 1.0]


def test_edge_loss_by_hand_with_a_not_coded_au():
    torch.manual_seed(0)
    edge_logits = torch.randn(1, 4, 4)
    labels = torch.tensor([[1.0, 0.0]])
    logp = torch.log_softmax(edge_logits[0], dim=-1)
    # edges e = i * 2 + j: (0,0) -> 3, (0,1) -> 2, (1,0) -> 1, (1,1) -> 0
    all_coded = AUEdgeLoss()(dict(edge_logits=edge_logits), labels, torch.tensor([[True, True]]))
    expected = -(logp[0, 3] + logp[1, 2] + logp[2, 1] + logp[3, 0]) / 4
    assert all_coded.item() == pytest.approx(expected.item(), rel=1e-6)
    # AU index 1 not coded: only edge (0, 0) counts.
    one = AUEdgeLoss()(dict(edge_logits=edge_logits), torch.tensor([[1.0, NAN]]),
                       torch.tensor([[True, False]]))
    assert one.item() == pytest.approx(-logp[0, 3].item(), rel=1e-6)


def test_stage_two_loss_sums_weighted_terms_and_needs_edge_logits():
    torch.manual_seed(0)
    logits, labels, mask = _batch()
    outputs = dict(logits=logits, edge_logits=torch.randn(2, 9, 4))
    loss_fn = _registered("MEGraphAULoss")(edge_weight=0.05, weights=[2.0, 0.5, 0.5])
    out = loss_fn(outputs, labels, mask, {})
    assert set(out) == {"loss_au", "loss_edge"}
    assert out["loss_au"].item() == pytest.approx(
        WeightedAsymmetricLoss(weights=[2.0, 0.5, 0.5])(outputs, labels, mask).item())
    assert out["loss_edge"].item() == pytest.approx(0.05 * AUEdgeLoss()(outputs, labels, mask).item())
    with pytest.raises(KeyError, match="edge_logits"):
        loss_fn(dict(logits=logits), labels, mask, {})
