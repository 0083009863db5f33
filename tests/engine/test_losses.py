"""The training loss: masked labels, reductions, and a fair per-AU scale
across the Table 2 ablations."""
from __future__ import annotations

import pytest
import torch

import auzoo
from auzoo.engine.losses import AUBCELoss


def _per_au_gradient(model, reduction: str) -> torch.Tensor:
    loss = AUBCELoss(reduction)
    loss.bind(model)
    logits = torch.zeros(4, len(model.aus), requires_grad=True)
    labels = torch.ones(4, len(model.aus))
    loss(dict(logits=logits), labels, torch.ones_like(labels, dtype=torch.bool)).backward()
    return logits.grad.abs().sum(dim=0)


def test_region_sum_gives_every_ablation_tranets_per_au_scale():
    tranet = auzoo.build_model("tranet")
    senet = auzoo.build_model("senet50")
    assert len(senet.loss_groups) == 1 and len(tranet.loss_groups) == 3
    fair = _per_au_gradient(tranet, "region_sum")
    torch.testing.assert_close(_per_au_gradient(senet, "region_sum"), fair)
    # the paper's branch sum is the same loss for TRA-Net ...
    torch.testing.assert_close(_per_au_gradient(tranet, "branch_sum"), fair)
    # ... and would give a single-branch model a third of the scale or less
    single = _per_au_gradient(senet, "branch_sum")
    assert (single < fair * 0.5).all()


def test_mean_weighs_each_au_one_over_n():
    senet = auzoo.build_model("senet50")
    grad = _per_au_gradient(senet, "mean")
    torch.testing.assert_close(grad, torch.full((8,), 4 * 0.5 / (4 * 8)))


def test_not_coded_labels_take_no_part():
    """Flipping a not-coded label changes nothing; flipping a coded one does."""
    loss = AUBCELoss("mean")
    model = auzoo.build_model("senet50")
    loss.bind(model)
    logits = torch.randn(3, 8)
    labels = torch.randint(0, 2, (3, 8)).float()
    mask = torch.ones(3, 8, dtype=torch.bool)
    mask[1, 2] = False
    base = loss(dict(logits=logits), labels, mask)
    flipped = labels.clone()
    flipped[1, 2] = 1 - flipped[1, 2]
    assert loss(dict(logits=logits), flipped, mask) == base
    flipped[0, 2] = 1 - flipped[0, 2]
    assert loss(dict(logits=logits), flipped, mask) != base


def test_unknown_reduction_is_named():
    with pytest.raises(ValueError, match="region_sum"):
        AUBCELoss("per_au")
