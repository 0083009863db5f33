"""The assembled model: configs, both stages, output contract, stage-2 takeover."""
import numpy as np
import pytest
import torch

import auzoo
from auzoo_megraphau import BP4D_AUS, DISFA_AUS
from auzoo_megraphau.losses import MEGraphAULoss, WeightedAsymmetricLoss

# The structure at a small size (the note's widths are pinned by test_megraphau_param_counts).
SMALL = {"backbone.model_name": "resnet10t", "channels": 64}
SWIN_TINY = {"backbone.model_name": "swin_tiny_patch4_window7_224", "backbone.img_size": 64,
             "backbone.drop_path_rate": 0.0, "channels": 64}


def _prefixed(state, prefixes):
    return {k: v for k, v in state.items() if k.startswith(tuple(prefixes))}


def test_stage_configs_build_with_the_right_graph():
    stage1 = auzoo.build_model("megraphau_r50_stage1", **SMALL)
    stage2 = auzoo.build_model("megraphau_r50", **SMALL)
    assert type(stage1.graph).__name__ == "FacialGraphGenerator" and stage1.graph.neighbor_num == 3
    assert type(stage2.graph).__name__ == "MEFL"
    assert stage1.aus == stage2.aus == DISFA_AUS
    assert stage2.name == "megraphau_r50"


def test_forward_returns_logits_whose_sigmoid_is_the_cosine_score():
    torch.manual_seed(0)
    model = auzoo.build_model("megraphau_r50", **SMALL).eval()
    images = torch.rand(3, 3, 64, 64)
    with torch.no_grad():
        logits = model(images)
    assert logits.shape == (3, len(DISFA_AUS)) and logits.dtype == torch.float32
    p = model.probabilities(images)
    assert ((p >= 0) & (p <= 1)).all()
    assert torch.allclose(torch.sigmoid(logits), p, atol=1e-6)


@pytest.mark.parametrize("name,loss_cls", [("megraphau_r50_stage1", WeightedAsymmetricLoss),
                                           ("megraphau_r50", MEGraphAULoss)])
def test_one_training_step_reaches_every_parameter(name, loss_cls):
    torch.manual_seed(0)
    model = auzoo.build_model(name, **SMALL).train()
    cfg_loss = dict(model.cfg.loss)
    loss_fn = loss_cls(**{k: v for k, v in cfg_loss.items() if k != "type"})
    labels = torch.tensor([[1, 0, 1, 0, 1, 0, 1, 0], [0, 1, 0, 1, 0, 1, 0, 1],
                           [1, 1, 0, 0, 1, 1, 0, 0], [0, 0, 1, 1, 0, 0, 1, 1]], dtype=torch.float32)
    mask = torch.ones(4, 8, dtype=torch.bool)
    mask[0, 3] = False
    labels[0, 3] = float("nan")
    loss_fn.bind(model, labels.numpy())
    out = model.forward_train(torch.rand(4, 3, 64, 64))
    losses = loss_fn(out, labels, mask, {})
    total = sum(v for k, v in losses.items() if "loss" in k) if isinstance(losses, dict) else losses
    total.backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert not missing, missing
    if name == "megraphau_r50":
        assert out["edge_logits"].shape == (4, 64, 4)


def test_bp4d_build_has_twelve_aus_and_its_own_k():
    model = auzoo.build_model("megraphau_r50_stage1", aus=BP4D_AUS, **{"graph.neighbor_num": 4}, **SMALL)
    assert model.graph.neighbor_num == 4
    stage2 = auzoo.build_model("megraphau_r50", aus=BP4D_AUS, **SMALL).train()
    out = stage2.forward_train(torch.rand(2, 3, 64, 64))
    assert out["logits"].shape == (2, 12) and out["edge_logits"].shape == (2, 144, 4)


def test_stage_two_takes_over_the_listed_prefixes_and_drops_the_fgg():
    torch.manual_seed(0)
    stage1 = auzoo.build_model("megraphau_r50_stage1", **SMALL).eval()
    stage2 = auzoo.build_model("megraphau_r50", **SMALL).eval()
    init = stage2.cfg.init_from
    assert init.config == "megraphau_r50_stage1"
    s1, s2 = stage1.state_dict(), stage2.state_dict()
    taken = _prefixed(s1, init["keys"])
    # Every listed key exists in stage 2 with its shape (what the engine checks) ...
    assert all(k in s2 and s2[k].shape == v.shape for k, v in taken.items())
    # ... each prefix matches something, and only the graph is left on either side.
    assert all(any(k.startswith(p) for k in taken) for p in init["keys"])
    assert {k.split(".")[0] for k in set(s1) - set(taken)} == {"graph"}
    assert {k.split(".")[0] for k in set(s2) - set(taken)} == {"graph"}
    stage2.load_state_dict(taken, strict=False)
    images = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(stage1.afg(stage1.reduction(stage1.tokens(images)))[1],
                           stage2.afg(stage2.reduction(stage2.tokens(images)))[1])


def test_swin_tokens_come_channels_last_through_the_final_norm():
    torch.manual_seed(0)
    stage1 = auzoo.build_model("megraphau_swinb_stage1", **SWIN_TINY).eval()
    stage2 = auzoo.build_model("megraphau_swinb", **SWIN_TINY)
    assert stage1.nhwc and stage1.token_norm is not None
    images = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        fmap = stage1.backbone(images)[-1]  # (B, H, W, C)
        expected = stage1.token_norm(fmap.reshape(2, -1, fmap.shape[-1]))
        assert torch.equal(stage1.tokens(images), expected)
    keys = stage2.cfg.init_from["keys"]
    assert "token_norm." in keys
    taken = _prefixed(stage1.state_dict(), keys)
    s2 = stage2.state_dict()
    assert all(k in s2 and s2[k].shape == v.shape for k, v in taken.items())
    assert {k.split(".")[0] for k in set(stage1.state_dict()) - set(taken)} == {"graph"}


def test_recipe_is_adamw_with_a_per_iteration_cosine():
    for name, lr, edge in [("megraphau_r50_stage1", 1e-4, None), ("megraphau_r50", 1e-5, 0.05),
                           ("megraphau_swinb_stage1", 1e-4, None), ("megraphau_swinb", 1e-6, 0.01)]:
        cfg = auzoo.load_config(name)
        opt = cfg.optim_wrapper.optimizer
        assert (opt.type, opt.lr, opt.weight_decay) == ("AdamW", lr, 5e-4), name
        assert "momentum" not in opt
        (sched,) = cfg.param_scheduler
        assert sched.type == "CosineAnnealingLR" and sched.convert_to_iter_based and sched.eta_min == 0
        assert sched.T_max == cfg.train_cfg.max_epochs == 20
        assert cfg.train_dataloader.batch_size == 64
        assert cfg.select_on == "val"  # never the test fold
        assert cfg.loss.get("edge_weight") == edge
        if edge is not None:
            assert cfg.init_from.config == name + "_stage1"


def test_demo_overrides_apply_to_the_configs():
    from auzoo.config import apply_overrides

    for name in ("megraphau_r50_stage1", "megraphau_r50", "megraphau_swinb_stage1", "megraphau_swinb"):
        cfg = auzoo.load_config(name)
        demo = dict(cfg.demo)
        apply_overrides(cfg, demo)
        epochs = 16 if "swinb" in name else 4  # the cosine fitted to the demo's epochs
        assert cfg.param_scheduler[0].T_max == cfg.param_scheduler[0].end == epochs, name
        # every stage draws AU-weighted batches, chooses on the test fold, drops the jitter
        assert cfg.train_dataloader.sampler.type == "AUWeightedBatchSampler", name
        assert cfg.select_on == "test", name
        assert "ColorJitter" not in [s["type"] for s in cfg.train_pipeline], name
        assert cfg.test_pipeline == auzoo.load_config(name).test_pipeline, name
        if "swinb" in name:
            assert cfg.optim_wrapper.optimizer.lr == 3e-4  # its size: the preset's img_size
            assert cfg.train_cfg.max_epochs == epochs, name  # the preset's 4 otherwise
            # a shallow Swin-B (2 blocks a stage), in both stages, so stage 2 takes over stage 1
            assert tuple(cfg.model.backbone.depths) == (2, 2, 2, 2), name
            assert cfg.model.backbone.drop_path_rate == 0.0, name


def test_swinb_demo_builds_a_shallow_swin_b_of_the_same_widths():
    """The demo's Swin keeps Swin-B's widths, heads and windows, 2 blocks a stage."""
    from auzoo.config import apply_overrides

    cfg = auzoo.load_config("megraphau_swinb_stage1")
    apply_overrides(cfg, dict(cfg.demo))
    model = auzoo.build_model(cfg, **{"backbone.img_size": 64})
    body = model.backbone.body
    stages = [m for name, m in body.named_children() if name.startswith("layers_")]
    assert [len(stage.blocks) for stage in stages] == [2, 2, 2, 2]
    assert model.backbone.out_channels[-1] == 1024  # Swin-B's last width
    assert [stage.blocks[0].attn.num_heads for stage in stages] == [4, 8, 16, 32]
    params = sum(p.numel() for p in model.parameters())
    assert 35e6 < params < 45e6  # not the 88 M of the full Swin-B (the recipe's)
    logits = model(torch.rand(2, 3, 64, 64))
    assert logits.shape == (2, 8) and torch.isfinite(logits).all()


def test_published_rows_belong_to_the_stage_two_configs():
    from auzoo.report.published import published_for

    r50 = published_for("megraphau_r50", "disfa")
    assert r50 is not None and r50.average == 63.1 and r50.aus == DISFA_AUS
    assert r50.f1_of(25) == 91.1
    assert "test fold" in r50.notes and "every frame" in r50.notes
    assert published_for("megraphau_swinb", "disfa").average == 62.4
    bp4d = published_for("megraphau_r50", "bp4d")
    assert bp4d.aus == BP4D_AUS and bp4d.average == 64.7 and len(bp4d.f1) == 12
    assert published_for("megraphau_swinb", "bp4d").average == 65.5
    assert published_for("megraphau_r50_stage1", "disfa") is None
    for row in (r50, bp4d):
        assert abs(np.mean(row.f1) - row.average) < 0.1  # printed averages agree with the AUs
