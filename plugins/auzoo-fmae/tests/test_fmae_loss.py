"""FMAE's loss: the official BCE on AUs and on one-hot identities, identities
read from the batch's subject names, and the engine handing those names over."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from auzoo.engine.model import AUDetectorModule
from auzoo_fmae import FMAE, FMAELoss
from fmae_support import tiny_backbone

SUBJECTS = ("SN002", "SN010", "SN001")


class _Model(torch.nn.Module):
    train_subjects = SUBJECTS


def _bound(**kwargs):
    loss = FMAELoss(**kwargs)
    loss.bind(_Model())
    return loss


def test_the_au_term_is_the_official_mean_bce_over_coded_labels():
    torch.manual_seed(0)
    logits, labels = torch.randn(5, 8), (torch.rand(5, 8) > 0.5).float()
    every = torch.ones(5, 8, dtype=torch.bool)
    got = _bound()(dict(logits=logits), labels, every)
    assert set(got) == {"loss_au"}
    assert torch.allclose(got["loss_au"], torch.nn.BCEWithLogitsLoss()(logits, labels))
    mask = every.clone()
    mask[:, 3] = False  # AU not coded: in no term
    changed = labels.clone()
    changed[:, 3] = 1 - changed[:, 3]
    a = _bound()(dict(logits=logits), labels, mask)["loss_au"]
    b = _bound()(dict(logits=logits), changed, mask)["loss_au"]
    assert torch.equal(a, b)
    keep = [0, 1, 2, 4, 5, 6, 7]
    assert torch.allclose(a, torch.nn.BCEWithLogitsLoss()(logits[:, keep], labels[:, keep]))


def test_the_identity_term_is_bce_on_the_one_hot_subject():
    torch.manual_seed(1)
    ids = torch.randn(4, 3)
    batch = dict(subject=["SN001", "SN002", "SN010", "SN001"])
    out = _bound()(dict(logits=torch.zeros(4, 8), identity_logits=ids), torch.zeros(4, 8),
                   torch.ones(4, 8, dtype=torch.bool), batch)
    one_hot = torch.tensor([[0, 0, 1], [1, 0, 0], [0, 1, 0], [0, 0, 1]], dtype=torch.float)
    assert torch.allclose(out["loss_identity"], torch.nn.BCEWithLogitsLoss()(ids, one_hot))
    ce = _bound(identity_loss="ce")(dict(logits=torch.zeros(4, 8), identity_logits=ids),
                                    torch.zeros(4, 8), torch.ones(4, 8, dtype=torch.bool), batch)
    assert torch.allclose(ce["loss_identity"],
                          torch.nn.functional.cross_entropy(ids, torch.tensor([2, 0, 1, 2])))


def test_identity_labels_fail_loudly():
    out = dict(logits=torch.zeros(2, 8), identity_logits=torch.zeros(2, 3))
    labels, mask = torch.zeros(2, 8), torch.ones(2, 8, dtype=torch.bool)
    with pytest.raises(ValueError, match="SN005 are not among the training subjects"):
        _bound()(out, labels, mask, dict(subject=["SN001", "SN005"]))
    with pytest.raises(ValueError, match="no 'subject'"):
        _bound()(out, labels, mask, dict(landmarks=None))
    with pytest.raises(RuntimeError, match="bind"):
        FMAELoss()(out, labels, mask, dict(subject=["SN001", "SN001"]))
    with pytest.raises(ValueError, match="identity_loss"):
        FMAELoss(identity_loss="focal")


def test_the_training_step_hands_the_batch_subjects_to_the_loss():
    """AUDetectorModule: a loader batch (uint8 frames, labels, subject names)
    -> preprocessor -> FMAE-IAT -> FMAELoss with identity labels from the names."""
    torch.manual_seed(0)
    net = FMAE(tiny_backbone(), grad_reverse=0.5, train_subjects=SUBJECTS)
    module = AUDetectorModule(net, FMAELoss(), img_size=64)
    module.loss.bind(net, np.zeros((1, 8), dtype=np.float32))
    data = dict(image=torch.randint(0, 256, (3, 64, 64, 3), dtype=torch.uint8),
                labels=torch.zeros(3, 8), label_mask=torch.ones(3, 8, dtype=torch.bool),
                index=torch.arange(3), subject=["SN010", "SN001", "SN010"])
    batch = module.data_preprocessor(data, True)
    assert batch["subject"] == ["SN010", "SN001", "SN010"]
    losses = module(**batch, mode="loss")
    net.eval()
    with torch.no_grad():
        ids = net.forward_train(batch["images"])["identity_logits"]
    one_hot = torch.nn.functional.one_hot(torch.tensor([1, 2, 1]), 3).float()
    assert torch.allclose(losses["loss_identity"],
                          torch.nn.BCEWithLogitsLoss()(ids, one_hot), atol=1e-6)
