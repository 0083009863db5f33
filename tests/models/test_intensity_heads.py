"""Intensity heads and their losses, and RegionAUNet predicting occurrence,
intensity or both: output layout, AU order, readings within 0-5, masks."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import auzoo
from auzoo.config import load_config
from auzoo.engine.intensity_losses import (IntensityMSELoss, LevelsIntensityLoss,
                                           OccurrenceIntensityLoss, OrdinalIntensityLoss)
from auzoo.models.intensity_heads import (LevelsIntensityHead, NodeIntensityHead,
                                          OrdinalIntensityHead, RegressionIntensityHead)
from auzoo.models.tasks import split_output

from .helpers import randomize_

DISFA_12 = (1, 2, 4, 5, 6, 9, 12, 15, 17, 20, 25, 26)
HEADS = {"regression": RegressionIntensityHead, "ordinal": OrdinalIntensityHead,
         "levels": LevelsIntensityHead}


def _tiny(name="tranet_intensity", **model):
    cfg = load_config(name)
    cfg.model.backbone = dict(type="TimmBackbone", model_name="test_resnet", out_indices=(1, 2, 3, 4))
    cfg.model.aus = DISFA_12
    cfg.model.update(model)
    return cfg


@pytest.mark.parametrize("kind", sorted(HEADS))
def test_heads_read_out_inside_the_scale_and_learn(kind):
    torch.manual_seed(0)
    head = HEADS[kind](in_channels=8, num_classes=3, pool_size=1, hidden=16, dropout=0.0)
    x = torch.randn(4, 8, 5, 5) * 50            # large inputs: saturated readings stay in 0-5
    raw = head(x)
    assert raw.shape == (4, 3, head.raw) and head.kind == kind
    value = head.intensity(raw)
    assert value.shape == (4, 3) and (value >= 0).all() and (value <= 5).all()
    value.sum().backward()
    assert all(p.grad is not None for p in head.parameters())


@pytest.mark.parametrize("kind", sorted(HEADS))
def test_node_heads_read_each_aus_own_vector(kind):
    torch.manual_seed(0)
    head = NodeIntensityHead(num_aus=3, channels=8, kind=kind)
    nodes = torch.randn(2, 3, 8) * 20
    raw = head(nodes)
    value = head.intensity(raw)
    assert raw.shape == (2, 3, head.raw) and value.shape == (2, 3)
    assert (value >= 0).all() and (value <= 5).all()
    moved = nodes.clone()
    moved[:, 1] += 1.0                      # AU 1's node moves: only AU 1's reading changes
    changed = (head.intensity(head(moved)) != value).any(dim=0)
    assert changed.tolist() == [False, True, False]


def test_readings_are_the_expected_level():
    ordinal = OrdinalIntensityHead(8, 2, pool_size=1, hidden=4)
    raw = torch.tensor([[[9.0, 9.0, -9.0, -9.0, -9.0], [0.0, 0.0, 0.0, 0.0, 0.0]]])
    torch.testing.assert_close(ordinal.intensity(raw), torch.sigmoid(raw).sum(-1))
    assert ordinal.intensity(raw)[0, 0].item() == pytest.approx(2.0, abs=1e-3)  # P(y>0)=P(y>1)=1
    levels = LevelsIntensityHead(8, 1, pool_size=1, hidden=4)
    onehot = torch.full((1, 1, 6), -30.0)
    onehot[0, 0, 4] = 30.0
    assert levels.intensity(onehot).item() == pytest.approx(4.0)
    assert levels.intensity(torch.zeros(1, 1, 6)).item() == pytest.approx(2.5)  # uniform: mean
    # an ordinal head starts with ordered thresholds: P(y > k) falls with k
    assert (ordinal.thresholds.diff(dim=1) < 0).all()


def _batch(target, mask):
    return dict(intensity=target, intensity_mask=mask)


def test_losses_match_their_formulas_and_skip_uncoded_labels():
    torch.manual_seed(0)
    y = torch.tensor([[0.0, 3.0], [5.0, 1.0]])
    mask = torch.tensor([[True, True], [True, False]])
    # MSE on the 0-5 intensity, in units of y / 5
    pred = torch.tensor([[1.0, 3.0], [4.0, 0.0]])
    mse = IntensityMSELoss()(dict(intensity=pred), None, None, _batch(y, mask))
    assert mse.item() == pytest.approx(((1 / 5) ** 2 + 0 + (1 / 5) ** 2) / 3)
    # CORAL: BCE of each level's P(y > k), summed over k
    raw = torch.randn(2, 2, 5)
    out = dict(intensity_raw=raw, intensity_kind="ordinal", intensity=torch.sigmoid(raw).sum(-1))
    above = (y.unsqueeze(-1) > torch.arange(5)).float()
    bce = F.binary_cross_entropy_with_logits(raw, above, reduction="none").sum(-1)
    assert OrdinalIntensityLoss()(out, None, None, _batch(y, mask)).item() == \
        pytest.approx(bce[mask].mean().item(), rel=1e-6)
    # six-way cross-entropy
    raw6 = torch.randn(2, 2, 6)
    out6 = dict(intensity_raw=raw6, intensity_kind="levels", intensity=torch.zeros(2, 2))
    ce = F.cross_entropy(raw6.flatten(0, 1), y.long().flatten(), reduction="none").view(2, 2)
    assert LevelsIntensityLoss()(out6, None, None, _batch(y, mask)).item() == \
        pytest.approx(ce[mask].mean().item(), rel=1e-6)
    # the masked label changes nothing, whatever value it holds (255 = not coded in the cache)
    y_bad = y.clone()
    y_bad[1, 1] = 255
    assert OrdinalIntensityLoss()(out, None, None, _batch(y_bad, mask)).item() == \
        pytest.approx(bce[mask].mean().item(), rel=1e-6)


def test_balanced_mse_weighs_each_level_an_au_shows_alike():
    from auzoo.engine.intensity_losses import level_weights

    train = np.array([[0, 0], [0, 1], [0, np.nan], [3, 1], [0, 0]], dtype=float)
    weights = level_weights(train)
    # AU a: four 0s and one 3 -> each level's total weight is half the AU's 5 labels
    np.testing.assert_allclose(weights[0, [0, 3]], [5 / 8, 5 / 2])
    np.testing.assert_allclose(weights[1, [0, 1]], [1.0, 1.0])
    assert weights[0, [1, 2, 4, 5]].sum() == 0
    coded = ~np.isnan(train)
    levels = np.nan_to_num(train).astype(int)
    assert weights[np.nonzero(coded)[1], levels[coded]].mean() == pytest.approx(1.0)
    loss = IntensityMSELoss(scale=1.0, balance="levels")
    with pytest.raises(RuntimeError, match="bind_intensity"):
        loss(dict(intensity=torch.zeros(1, 2)), None, None,
             _batch(torch.zeros(1, 2), torch.ones(1, 2, dtype=torch.bool)))
    loss.bind_intensity(train)
    y = torch.tensor([[0.0, 1.0], [3.0, 0.0]])
    pred = torch.tensor([[1.0, 1.0], [1.0, 2.0]])
    value = loss(dict(intensity=pred), None, None, _batch(y, torch.ones(2, 2, dtype=torch.bool)))
    assert value.item() == pytest.approx((5 / 8 * 1 + 1.0 * 0 + 5 / 2 * 4 + 1.0 * 4) / 4)


def test_a_loss_refuses_another_heads_outputs():
    y, mask = torch.zeros(1, 1), torch.ones(1, 1, dtype=torch.bool)
    out = dict(intensity_raw=torch.zeros(1, 1, 1), intensity_kind="regression",
               intensity=torch.zeros(1, 1))
    with pytest.raises(ValueError, match="ordinal head"):
        OrdinalIntensityLoss()(out, None, None, _batch(y, mask))
    with pytest.raises(ValueError, match="no intensity labels"):
        IntensityMSELoss()(out, None, None, dict())


@pytest.mark.parametrize("name", ["tranet_intensity", "resnet50_intensity"])
def test_intensity_configs_predict_the_12_aus_in_order(name):
    torch.manual_seed(0)
    model = randomize_(auzoo.build_model(_tiny(name))).eval()
    assert model.task == "intensity" and model.aus == DISFA_12
    assert all(b.head is None and b.intensity_head is not None for b in model.branches)
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        out = model(x)
        train = model.forward_train(x)
    assert out.shape == (2, 12) and (out >= 0).all() and (out <= 5).all()
    assert "logits" not in train and train["intensity_raw"].shape == (2, 12, 1)
    torch.testing.assert_close(out, train["intensity"])
    if name == "tranet_intensity":  # each AU comes from its own region's branch
        with torch.no_grad():
            regions = model.splitter(model.features(x))
            per_au = {au: branch.intensity_head.intensity(branch(region)[1])[:, i]
                      for branch, region in zip(model.branches, regions)
                      for i, au in enumerate(branch.aus)}
        for j, au in enumerate(model.aus):
            torch.testing.assert_close(out[:, j], per_au[au])


def test_both_heads_share_the_branch_and_lay_out_logits_then_intensity():
    torch.manual_seed(0)
    cfg = _tiny("tranet_intensity", head=dict(type="TwoFCHead", pool_size=4, hidden=32),
                intensity_head=dict(type="OrdinalIntensityHead", pool_size=4, hidden=32))
    model = randomize_(auzoo.build_model(cfg)).eval()
    assert model.task == "both"
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        out = model(x)
        train = model.forward_train(x)
    logits, intensity = split_output(out, "both", 12)
    torch.testing.assert_close(logits, train["logits"])
    torch.testing.assert_close(intensity, train["intensity"])
    assert train["intensity_kind"] == "ordinal"
    both = OccurrenceIntensityLoss(intensity=dict(type="OrdinalIntensityLoss"))
    both.bind(model)
    labels = torch.randint(0, 6, (2, 12)).float()
    mask = torch.ones(2, 12, dtype=torch.bool)
    train = model.train().forward_train(x)
    losses = both(train, (labels >= 2).float(), mask, _batch(labels, mask))
    assert set(losses) == {"loss_occurrence", "loss_intensity"}
    sum(losses.values()).backward()
    assert model.branches[0].intensity_head.thresholds.grad is not None
    assert model.branches[0].head.fc2.weight.grad is not None


def test_branches_must_read_intensity_alike():
    cfg = _tiny("tranet_intensity", branches=[
        dict(region="upper"), dict(region="middle"),
        dict(region="lower", intensity_head=dict(type="LevelsIntensityHead", hidden=8))])
    with pytest.raises(ValueError, match="different ways"):
        auzoo.build_model(cfg)
    with pytest.raises(ValueError, match="no head"):
        auzoo.build_model(_tiny("tranet_intensity", intensity_head=None))


def test_the_bind_hook_hands_the_loss_the_training_intensities():
    from types import SimpleNamespace

    from auzoo.engine.hooks import BindLossHook

    loss = OccurrenceIntensityLoss(intensity=dict(type="IntensityMSELoss", balance="levels"))
    dataset = SimpleNamespace(labels=np.zeros((3, 2), np.float32), mask=np.ones((3, 2), bool),
                              intensity=np.array([[0, 2], [0, 0], [4, 0]], np.float32),
                              intensity_mask=np.array([[1, 1], [1, 1], [0, 1]], bool))
    model = SimpleNamespace(aus=(6, 12), loss_groups=[(0, 1)])
    runner = SimpleNamespace(model=SimpleNamespace(loss=loss, model=model),
                             train_dataloader=SimpleNamespace(dataset=dataset))
    BindLossHook().before_train(runner)
    weights = loss.intensity.weights.numpy()
    np.testing.assert_allclose(weights[0, 0], 1.0)        # the masked 4 is no training label
    np.testing.assert_allclose(weights[1, [0, 2]], [0.75, 1.5])
