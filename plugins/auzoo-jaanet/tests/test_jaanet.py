import pytest
import torch

import auzoo
from auzoo import registry
from auzoo.report.published import published_for
from auzoo_jaanet.jaanet import BP4D_AUS, DISFA_AUS, JAANet
from auzoo_jaanet.landmarks import initial_attention
from auzoo_jaanet.region import PatchwiseConv


@pytest.fixture(scope="module")
def disfa_model():
    torch.manual_seed(0)
    return JAANet(aus=DISFA_AUS)


def _n_params(model):
    return sum(p.numel() for p in model.parameters())


def test_parameter_counts_match_the_authors_network(disfa_model):
    # computed from the authors' PyTorch layer shapes (weights, biases, BN affine)
    assert _n_params(disfa_model) == 18_603_674
    assert _n_params(disfa_model.region) == 1_615_392
    assert _n_params(disfa_model.align_trunk) + _n_params(disfa_model.align_head) == 2_912_098
    assert _n_params(disfa_model.attention_refine) == 8 * 75_457
    assert _n_params(disfa_model.local_trunks) == 8 * 813_312
    assert _n_params(JAANet(aus=BP4D_AUS)) == 22_162_854


def test_patch_convs_do_not_cross_patch_borders():
    torch.manual_seed(0)
    conv = PatchwiseConv(2, 3, (4, 4)).eval()
    x = torch.rand(1, 2, 18, 18)  # 18 = 4 x 5 - 2: the last patches are padded
    y = conv(x)
    assert y.shape == (1, 3, 18, 18)
    x2 = x.clone()
    x2[0, :, 6, 7] += 1.0  # a pixel of patch (1, 1): rows and columns 5-9
    changed = (conv(x2) - y).abs().sum(1)[0] > 0
    rows, cols = torch.nonzero(changed, as_tuple=True)
    assert changed.any() and rows.min() >= 5 and rows.max() <= 9 and cols.min() >= 5 and cols.max() <= 9
    # every patch has its own weights: patch 0 and patch 5 differ
    w = conv.conv.weight.view(16, 3, 2, 3, 3)
    assert not torch.equal(w[0], w[5])


def test_outputs_shapes_and_au_order(disfa_model):
    model = disfa_model.eval()
    assert model.requires_landmarks is False and model.aus == DISFA_AUS
    assert model.loss_groups == [tuple(range(8))]
    with torch.no_grad():
        # the last FC's outputs are (absent x n, present x n); the logit is present - absent
        last = model.classifier[1]
        saved = last.weight.clone(), last.bias.clone()
        last.weight.zero_()
        last.bias.copy_(torch.arange(16.0) ** 2)
        out = model.forward_train(torch.rand(2, 3, 64, 64))
        last.weight.copy_(saved[0])
        last.bias.copy_(saved[1])
    want = (torch.arange(8.0, 16.0) ** 2 - torch.arange(8.0) ** 2).expand(2, 8)
    assert torch.equal(out["logits"], want)
    assert out["landmarks"].shape == (2, 49, 2)
    assert out["attention_init"].shape == (2, 8, 24, 24)  # 64 / 4 + 8
    assert out["attention_logits"].shape == (2, 8, 16, 16)  # the shared map's side
    with torch.no_grad():
        for size in (48, 72):  # 72: the second region layer's patches do not divide
            assert model(torch.rand(1, 3, size, size)).shape == (1, 8)
    with pytest.raises(ValueError, match="square inputs"):
        model(torch.rand(1, 3, 64, 48))


def test_attention_comes_from_the_predicted_landmarks():
    torch.manual_seed(0)
    model = JAANet(aus=(12, 1)).eval()  # mouth corners first, then inner brows
    g = torch.Generator().manual_seed(3)
    pts176 = torch.rand(49, 2, generator=g) * 120 + 28  # points in the 176 px frame
    with torch.no_grad():
        model.align_head[1].weight.zero_()
        model.align_head[1].bias.copy_(pts176.flatten())  # x1, y1, x2, y2 ...
        out = model.forward_train(torch.rand(1, 3, 88, 88))
    points = pts176 * (88 / 176)
    assert torch.allclose(out["landmarks"][0], points, atol=1e-5)
    ruler = (points[22, 0] - points[25, 0]).abs()
    brows = torch.stack([points[4], points[5]]) - torch.tensor([0.0, 1.0]) * ruler / 2
    mouth = torch.stack([points[31], points[37]])
    want = initial_attention(torch.stack([mouth, brows])[None], 88, 22 + 8)
    assert torch.allclose(out["attention_init"], want)
    # each AU's map peaks at its own centres' cells
    for a, centres in enumerate((mouth, brows)):
        for cx, cy in torch.round(centres * 30 / 88).long().tolist():
            assert out["attention_init"][0, a, cy, cx] == pytest.approx(1.0)


def test_forward_backward_reaches_every_part(disfa_model):
    model = disfa_model.train()
    model.zero_grad()
    out = model.forward_train(torch.rand(2, 3, 64, 64))
    assert torch.isfinite(out["logits"]).all()
    out["logits"].sum().backward()
    # the AU loss trains every branch, the refinement nets through the local features ...
    for part in (model.region, model.align_trunk, model.global_trunk, model.attention_refine,
                 model.local_trunks, model.classifier):
        grads = [p.grad for p in part.parameters() if p.requires_grad]
        assert all(g is not None for g in grads) and sum(float(g.abs().sum()) for g in grads) > 0
    # ... but nothing flows back into the landmarks from the maps (they are built without gradient)
    assert model.align_head[1].weight.grad is None
    model.zero_grad()
    model.forward_train(torch.rand(2, 3, 64, 64))["landmarks"].sum().backward()
    assert model.align_head[1].weight.grad.abs().sum() > 0
    assert model.region.body[0].conv.weight.grad.abs().sum() > 0


def test_landmarks_argument_is_not_needed(disfa_model):
    model = disfa_model.eval()
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(model(x), model(x, torch.rand(1, 66, 2) * 64))


def test_config_builds_through_the_registry(jaanet_plugin_loaded):
    assert {"models:JAANet", "backbones:JAARegionLearning", "losses:JAANetLoss",
            "configs:jaanet"} <= set(jaanet_plugin_loaded.registered)
    assert registry.provider_of("configs", "jaanet").name.startswith("plugin jaanet (auzoo-jaanet ")
    model = auzoo.build_model("jaanet")
    assert isinstance(model, JAANet) and model.name == "jaanet" and model.aus == DISFA_AUS
    cfg = model.cfg
    assert cfg.img_size == 176 and cfg.loss.type == "JAANetLoss" and "reduction" not in cfg.loss
    assert cfg.optim_wrapper.optimizer == dict(type="SGD", lr=0.01, momentum=0.9, nesterov=True,
                                               weight_decay=5e-4)
    assert cfg.optim_wrapper.paramwise_cfg.custom_keys == {"attention_refine": dict(lr_mult=2.0)}
    assert any("attention_refine" in name for name, _ in model.named_parameters())
    assert cfg.param_scheduler == [dict(type="StepLR", by_epoch=True, step_size=2, gamma=0.3)]
    assert cfg.train_cfg.max_epochs == 12 and cfg.train_dataloader.batch_size == 8
    bp4d = auzoo.build_model("jaanet", aus=BP4D_AUS)
    assert bp4d.aus == BP4D_AUS and _n_params(bp4d) == 22_162_854


def test_published_rows_belong_to_jaanet_only():
    disfa = published_for("jaanet", "disfa")
    assert disfa is not None and disfa.method == "JAA-Net" and disfa.models == ("jaanet",)
    assert disfa.aus == DISFA_AUS and disfa.f1_of(25) == 88.3 and disfa.average == 56.0
    assert "fold" in disfa.notes and "test fold" in disfa.notes
    bp4d = published_for("jaanet", "bp4d")
    assert bp4d.aus == BP4D_AUS and bp4d.f1_of(6) == 77.5 and bp4d.average == 60.0
    assert sum(bp4d.f1) / 12 == pytest.approx(60.0, abs=0.05)
    assert sum(disfa.f1) / 8 == pytest.approx(56.0, abs=0.05)
    for model in ("jaa_lite", "tranet"):
        for dataset in ("disfa", "bp4d"):
            row = published_for(model, dataset)
            assert row is None or row.method != "JAA-Net"


def test_heads_run_in_full_precision_under_autocast(disfa_model):
    model = disfa_model.eval()
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        out = model.forward_train(torch.rand(1, 3, 64, 64))
    assert out["attention_logits"].dtype == torch.bfloat16  # the trunks do run in bf16
    assert out["logits"].dtype == torch.float32 and out["landmarks"].dtype == torch.float32


def test_demo_entry_keeps_the_recipes_optimiser():
    from mmengine.config import Config

    from auzoo.config import config_path, load_config

    cfg = load_config("jaanet")
    cfg.merge_from_dict(Config.fromfile(str(config_path("_base_/presets/cpu_demo.py"))).to_dict())
    assert cfg.optim_wrapper.optimizer.type == "AdamW"  # the preset's ...
    cfg.merge_from_dict(dict(cfg.demo))
    # ... replaced by JAA-Net's SGD, which learns from random weights in the demo's budget
    assert cfg.optim_wrapper.optimizer == dict(type="SGD", lr=0.01, momentum=0.9, nesterov=True,
                                               weight_decay=5e-4)
    assert cfg.optim_wrapper.paramwise_cfg.custom_keys.attention_refine.lr_mult == 2.0
    assert cfg.param_scheduler == []  # a constant rate over the demo's 160 steps
    # AU-weighted draws, as every demo's, for a schedule that reaches the recipe's epoch 5
    assert cfg.train_dataloader.sampler.type == "AUWeightedBatchSampler"
    assert cfg.train_cfg.max_epochs == 8 >= cfg.init_from.source.epoch == 5
    assert cfg.custom_hooks[0].patience >= cfg.train_cfg.max_epochs
    assert cfg.img_size == 64
