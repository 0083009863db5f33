"""ME-GraphAU predicting intensity beside occurrence: a node read-out next to
the cosine classifier, its own losses plus the intensity loss, stage 1 unchanged."""
import torch

import auzoo
from auzoo.engine.intensity_losses import OccurrenceIntensityLoss
from auzoo.models.tasks import split_output
from auzoo_megraphau import DISFA_AUS

SMALL = {"backbone.model_name": "resnet10t", "channels": 64}


def test_the_variant_keeps_the_classifier_and_reads_intensity_from_the_nodes():
    torch.manual_seed(0)
    both = auzoo.build_model("megraphau_r50_intensity", **SMALL).eval()
    plain = auzoo.build_model("megraphau_r50", **SMALL).eval()
    assert both.task == "both" and plain.task == "occurrence"
    assert type(both.intensity_head).__name__ == "NodeIntensityHead"
    plain.load_state_dict({k: v for k, v in both.state_dict().items()
                           if not k.startswith("intensity_head.")})
    images = torch.rand(3, 3, 64, 64)
    with torch.no_grad():
        logits, intensity = split_output(both(images), "both", len(DISFA_AUS))
        nodes = both.nodes(images)["nodes"]
        torch.testing.assert_close(logits, plain(images))           # the same occurrence output
        torch.testing.assert_close(intensity, both.intensity_head.intensity(both.intensity_head(nodes)))
    assert ((intensity >= 0) & (intensity <= 5)).all()
    cfg = both.cfg
    assert cfg.task == "both" and cfg.select_by == "icc_mean"
    assert cfg.init_from.config == "megraphau_r50_stage1"
    assert not any(k.startswith("intensity_head") for k in cfg.init_from["keys"])   # starts fresh


def test_one_step_trains_graph_classifier_and_intensity_head():
    torch.manual_seed(0)
    model = auzoo.build_model("megraphau_r50_intensity", **SMALL).train()
    loss = OccurrenceIntensityLoss(**{k: v for k, v in model.cfg.loss.items() if k != "type"})
    intensity = torch.randint(0, 6, (4, 8)).float()
    labels = (intensity >= 2).float()
    mask = torch.ones(4, 8, dtype=torch.bool)
    loss.bind(model, labels.numpy())
    losses = loss(model.forward_train(torch.rand(4, 3, 64, 64)), labels, mask,
                  dict(intensity=intensity, intensity_mask=mask))
    assert set(losses) == {"loss_au", "loss_edge", "loss_intensity"}
    sum(losses.values()).backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None]
    assert not missing, missing
