"""AUDetectorModule's settings and the batch keys its forward reads."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from auzoo.engine.losses import AUBCELoss
from auzoo.engine.model import AUDetectorModule


class Linear(nn.Module):
    aus = (1, 2)

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3 * 8 * 8, 2)

    def forward(self, images):
        return self.fc(images.flatten(1))


def test_precision_and_init_are_read_from_their_groups():
    module = AUDetectorModule(Linear(), AUBCELoss(), img_size=8,
                              precision=dict(train="bf16", channels_last=True),
                              init=dict(run=None, allow_random=True), name="probe")
    assert (module.train_precision, module.eval_precision) == ("bf16", "fp32")
    assert module.channels_last and module.data_preprocessor.channels_last
    assert module.model.name == "probe" and module.init_from_record is None
    with pytest.raises(ValueError, match="unknown precision or init key.*channels_lst"):
        AUDetectorModule(Linear(), AUBCELoss(), img_size=8, precision=dict(channels_lst=True))
    with pytest.raises(ValueError, match="unknown precision or init key.*init_from"):
        AUDetectorModule(Linear(), AUBCELoss(), img_size=8, init=dict(init_from=None))


def test_forward_hands_the_batch_targets_to_the_loss_and_refuses_others():
    seen = {}

    class Recording(AUBCELoss):
        def forward(self, outputs, labels, mask, batch=None):
            seen.update(batch)
            return super().forward(outputs, labels, mask, batch)

    module = AUDetectorModule(Linear(), Recording(), img_size=8)
    module.loss.bind(module.model)
    batch = module.data_preprocessor(dict(
        image=torch.randint(0, 256, (2, 8, 8, 3), dtype=torch.uint8), labels=torch.ones(2, 2),
        label_mask=torch.ones(2, 2, dtype=torch.bool), index=torch.arange(2),
        subject=["SN001", "SN002"]), True)
    losses = module(**batch, mode="loss")
    assert torch.isfinite(losses["loss"]) and seen["subject"] == ["SN001", "SN002"]
    assert torch.equal(seen["index"], torch.arange(2)) and seen["intensity"] is None
    scored = module(**batch, mode="predict")[0]
    assert torch.equal(scored["index"], torch.arange(2)) and scored["logits"].shape == (2, 2)
    with pytest.raises(TypeError, match="unknown batch key.*flipped; it reads index, subject"):
        module(**batch, flipped=torch.zeros(2), mode="loss")
