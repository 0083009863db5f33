import math

import numpy as np
import pytest
import torch

from auzoo.registry import LOSSES
from auzoo_jaanet.losses import (JAANetLoss, attention_refine_loss, au_class_weights, landmark_loss,
                                 weighted_dice_loss, weighted_softmax_loss)

NAN = float("nan")


def _sig(z):
    return 1 / (1 + math.exp(-z))


def test_class_weights_by_hand():
    labels = np.array([[1, 1, 0], [0, NAN, 1], [1, 0, 0], [0, 0, 0], [NAN, 0, 0]], dtype=float)
    # positive rates over coded frames: 2/4, 1/4, 1/5 -> 1/r = 2, 4, 5; w = (1/r) / 11 * 3
    assert au_class_weights(labels) == pytest.approx([6 / 11, 12 / 11, 15 / 11])
    with pytest.warns(UserWarning, match="no positive"):
        w = au_class_weights(np.array([[1, 0], [0, 0]], dtype=float))
    assert w == pytest.approx([1.0, 0.0])


def test_weighted_softmax_by_hand_with_masked_labels():
    logits = torch.tensor([[2.0, -1.0], [0.5, 3.0], [-2.0, 0.0]])
    labels = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    mask = torch.tensor([[1.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    w = torch.tensor([0.5, 1.5])
    au0 = (-math.log(_sig(2)) - math.log(1 - _sig(0.5)) - math.log(_sig(-2))) / 3
    au1 = (-math.log(1 - _sig(-1)) - math.log(1 - _sig(0))) / 2  # frame 1 not coded
    want = (0.5 * au0 + 1.5 * au1) / 2
    assert float(weighted_softmax_loss(logits, labels, mask, w)) == pytest.approx(want, rel=1e-6)


def test_dice_by_hand_both_modes():
    p = torch.tensor([[0.9, 0.2], [0.3, 0.6], [0.8, 0.1]])
    y = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    mask = torch.tensor([[1.0, 1.0], [1.0, 1.0], [1.0, 0.0]])
    w = torch.tensor([1.0, 2.0])
    # 'batch' (PyTorch code): one ratio over the coded frames, divided by their count
    r0 = (2 * (0.9 + 0.8) + 1) / ((0.81 + 0.09 + 0.64) + 2 + 1)
    r1 = (2 * 0.6 + 1) / ((0.04 + 0.36) + 1 + 1)
    want = (1 * (1 - r0 / 3) + 2 * (1 - r1 / 2)) / 2
    assert float(weighted_dice_loss(p, y, mask, w, "batch")) == pytest.approx(want, rel=1e-6)
    # 'sample' (Caffe): per-frame dice averaged over coded frames

    def d(pi, yi):
        return 1 - (2 * pi * yi + 1) / (pi * pi + yi * yi + 1)
    s0 = (d(0.9, 1) + d(0.3, 0) + d(0.8, 1)) / 3
    s1 = (d(0.2, 0) + d(0.6, 1)) / 2
    assert float(weighted_dice_loss(p, y, mask, w, "sample")) == pytest.approx((s0 + 2 * s1) / 2, rel=1e-6)
    # an AU without a coded frame adds nothing
    none = torch.tensor([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0]])
    assert float(weighted_dice_loss(p, y, none, w, "batch")) == pytest.approx(
        (1 - (2 * 1.7 + 1) / (1.54 + 2 + 1) / 3) / 2, rel=1e-6)


def _points49(offset=0.0):
    pts = torch.zeros(49, 2)
    pts[19:25] = torch.tensor([10.0, 20.0])  # eye centres 30 px apart
    pts[25:31] = torch.tensor([40.0, 20.0])
    return pts + offset


def test_landmark_loss_by_hand_with_missing_points():
    target = torch.stack([_points49(), _points49()])
    pred = target.clone()
    pred[0, 0] += torch.tensor([3.0, 4.0])   # squared error 25
    pred[0, 40] += torch.tensor([1.0, 0.0])  # 1, but this target point is missing
    target[0, 40] = NAN
    pred[1, 2] += torch.tensor([6.0, 0.0])   # 36
    want = (25 / (2 * 900) + 36 / (2 * 900)) / 2
    assert float(landmark_loss(pred, target)) == pytest.approx(want, rel=1e-6)
    # a frame whose eyes are missing has no inter-ocular distance: left out
    target[1, 20] = NAN
    assert float(landmark_loss(pred, target)) == pytest.approx(25 / 1800, rel=1e-6)
    # nothing usable: zero, still differentiable
    target[0, 19] = NAN
    pred.requires_grad_(True)
    out = landmark_loss(pred, target)
    out.backward()
    assert out.item() == 0 and torch.equal(pred.grad, torch.zeros_like(pred))


def test_refine_loss_by_hand():
    initial = torch.zeros(1, 2, 4, 4)
    initial[0, 0, 0, 0] = 1.0  # nearest 4 -> 2 keeps cells (0, 0), (0, 2), (2, 0), (2, 2)
    initial[0, 1, 2, 2] = 0.5
    logits = torch.tensor([[[[0.0, 1.0], [2.0, -1.0]], [[0.0, 0.0], [0.0, 3.0]]]])

    def bce(z, t):
        return -(t * math.log(_sig(z)) + (1 - t) * math.log(1 - _sig(z)))
    au0 = (bce(0, 1) + bce(1, 0) + bce(2, 0) + bce(-1, 0)) / 4
    au1 = (bce(0, 0) * 3 + bce(3, 0.5)) / 4
    assert float(attention_refine_loss(logits, initial)) == pytest.approx(au0 + au1, rel=1e-6)


class _Model:
    aus = (1, 2)


def test_jaanet_loss_combines_the_terms_and_masks():
    assert LOSSES.module_dict["JAANetLoss"] is JAANetLoss
    loss = JAANetLoss(dice="sample")
    loss.bind(_Model(), np.array([[1, 0], [0, 1], [0, 0], [0, NAN]], dtype=float))
    # rates 1/4 and 1/3 (the NaN is not coded): 1/r = 4, 3 -> w = (4, 3) / 7 * 2
    assert loss.class_weights.tolist() == pytest.approx([8 / 7, 6 / 7])
    logits = torch.tensor([[1.0, -2.0], [0.0, 0.5]], requires_grad=True)
    labels = torch.tensor([[1.0, NAN], [0.0, 1.0]])  # NaN where not coded
    mask = torch.tensor([[True, False], [True, True]])
    lm66 = torch.full((2, 66, 2), NAN)
    lm66[:, 17:] = torch.stack([_points49(), _points49()])
    pred = lm66[:, 17:].clone() + 1.0
    refined = torch.zeros(2, 2, 3, 3)
    initial = torch.zeros(2, 2, 5, 5)
    outputs = dict(logits=logits, landmarks=pred, attention_logits=refined, attention_init=initial)
    terms = loss(outputs, labels, mask, dict(landmarks=lm66))
    assert set(terms) == {"loss_softmax", "loss_dice", "loss_align", "loss_refine"}
    w = loss.class_weights
    assert terms["loss_softmax"].item() == pytest.approx(weighted_softmax_loss(
        logits, torch.nan_to_num(labels), mask.float(), w).item())
    assert terms["loss_align"].item() == pytest.approx(0.5 * 49 * 2 / (2 * 900))
    assert terms["loss_refine"].item() == pytest.approx(1e-4 * 2 * math.log(2), rel=1e-5)
    total = sum(terms.values())
    assert torch.isfinite(total)
    total.backward()
    # the not-coded label gets no gradient from any term
    assert float(logits.grad[0, 1]) == 0 and float(logits.grad[1, 1]) != 0
    with pytest.raises(ValueError, match="batch\\['landmarks'\\]"):
        loss(outputs, labels, mask, {})
    with pytest.raises(ValueError, match="2 AUs"):
        loss.bind(_Model(), np.zeros((3, 5)))
