"""Published rows under FMAE's own models only; the configs' recipe and demo entry."""
from __future__ import annotations

import pytest

from auzoo.config import load_config
from auzoo.engine.settings import resolve_config
from auzoo.report.published import PUBLISHED, published_for
from auzoo_fmae.model import BP4D_AUS, DISFA_AUS

CONFIGS = ("fmae_vitb", "fmae_iat_vitb", "fmae_vitl", "fmae_iat_vitl")


def test_published_rows_belong_to_the_vit_l_configs_only():
    disfa = published_for("fmae_iat_vitl", "disfa")
    assert disfa.method == "FMAE-IAT (ViT-L)" and disfa.models == ("fmae_iat_vitl",)
    assert disfa.aus == DISFA_AUS and disfa.f1_of(4) == 70.8 and disfa.average == 70.1
    assert published_for("fmae_vitl", "disfa").average == 68.7
    bp4d = published_for("fmae_iat_vitl", "bp4d")
    assert bp4d.aus == BP4D_AUS and bp4d.f1_of(1) == 62.7 and bp4d.average == 67.1
    assert published_for("fmae_vitl", "bp4d").f1_of(24) == 56.9
    for model, dataset in (("fmae_vitl", "disfa"), ("fmae_iat_vitl", "disfa"),
                           ("fmae_vitl", "bp4d"), ("fmae_iat_vitl", "bp4d")):
        row = published_for(model, dataset)
        assert sum(row.f1) / len(row.f1) == pytest.approx(row.average, abs=0.06)
        assert "test fold" in row.notes and "threshold" in row.notes
    # ViT-B has no per-AU row; no other model gets FMAE's, nor FMAE another's
    for dataset in ("disfa", "bp4d"):
        assert published_for("fmae_vitb", dataset) is None
        assert published_for("fmae_iat_vitb", dataset) is None
        for model in ("tranet", "megraphau_swinb", "jaanet", "resnet50"):
            row = published_for(model, dataset)
            assert row is None or not row.method.startswith("FMAE")
    fmae_rows = [r for (method, _), r in PUBLISHED.items() if method.startswith("FMAE")]
    assert len(fmae_rows) == 4
    assert all(set(r.models) <= {"fmae_vitl", "fmae_iat_vitl"} for r in fmae_rows)


@pytest.mark.parametrize("name", CONFIGS)
def test_configs_carry_the_published_recipe(name):
    cfg = load_config(name)
    assert cfg.model.type == "FMAE" and cfg.img_size == 224 and cfg.model.backbone.img_size == 224
    assert cfg.model.backbone.drop_path_rate == 0.1
    assert cfg.model.grad_reverse == (0.5 if "iat" in name else 0.0)
    assert ("train_subjects" in cfg.model) == ("iat" in name)  # the run fills them in
    assert cfg.train_dataloader.batch_size == 64 and cfg.train_cfg.max_epochs == 20
    assert cfg.optim_wrapper.paramwise_cfg.layer_decay_rate == 0.65
    assert cfg.optim_wrapper.optimizer.weight_decay == 0.05
    assert [s.type for s in cfg.param_scheduler] == ["LinearLR", "CosineAnnealingLR"]
    assert cfg.param_scheduler[0].end == 2 and cfg.param_scheduler[1].end == 20
    assert cfg.param_scheduler[1].eta_min_ratio * cfg.optim_wrapper.optimizer.lr == pytest.approx(1e-6)
    assert cfg.loss.type == "FMAELoss" and cfg.precision.train == "fp16"
    assert [s.type for s in cfg.train_pipeline] == [
        "FaceBoxCrop", "TimmRandomResizedCrop", "RandomFlip", "TimmRandAugment", "TimmRandomErasing"]
    assert cfg.train_pipeline[3].config == "rand-m9-mstd0.5-inc1"
    assert cfg.train_pipeline[4].prob == 0.25 and cfg.train_pipeline[1].scale == (0.08, 1.0)
    assert [s.type for s in cfg.test_pipeline] == ["FaceBoxCrop"]
    assert cfg.test_pipeline[0].enlarge == 0.05


def test_the_demo_entry_keeps_the_recipes_optimiser_and_fits_its_schedule():
    cfg = resolve_config("fmae_iat_vitb", preset="cpu_demo")
    assert cfg.applied["demo"]["model.backbone.depth"] == 4
    assert cfg.optim_wrapper.constructor == "LayerDecayOptimWrapperConstructor"
    assert cfg.optim_wrapper.paramwise_cfg.layer_decay_rate == 1.0  # from random weights
    assert cfg.model.backbone.img_size == cfg.img_size == 64
    assert [s["type"] for s in cfg.train_pipeline] == ["FaceBoxCrop", "RandomFlip"]
    assert cfg.test_pipeline == load_config("fmae_iat_vitb").test_pipeline
    steps = cfg.train_cfg.max_epochs
    assert cfg.param_scheduler[1].end == cfg.param_scheduler[1].begin + cfg.param_scheduler[1].T_max == steps
    assert cfg.custom_hooks[0].patience >= steps  # the whole schedule runs
    assert cfg.select_on == "test"  # like every demo: all training subjects train
    assert cfg.param_scheduler[1].eta_min_ratio * cfg.optim_wrapper.optimizer.lr == pytest.approx(1e-6)


@pytest.mark.parametrize("device, train, wrapper", [
    ("cuda", "fp16", "AmpOptimWrapper"), ("cpu", "fp32", "OptimWrapper")])
def test_a_run_trains_as_the_official_amp_on_a_gpu(device, train, wrapper):
    """fp16 autocast with loss scaling on a GPU (the official AMP), scored in fp32;
    the layer-decay constructor stays in the optimizer wrapper either way."""
    from pathlib import Path

    import torch

    from auzoo.engine.runner import RunPlan, runner_config

    cfg = resolve_config("fmae_iat_vitl")
    rc = runner_config(cfg, RunPlan(data="cache", aus=DISFA_AUS, split=dict(train=(), val=(), test=()),
                       seed=0, work_dir=Path("work"), device=torch.device(device),
                       launcher="none", resume=False, predictions_file="p.npz"))
    assert dict(rc.model.precision) == dict(train=train, eval="fp32",
                                            channels_last=device == "cuda")
    assert rc.optim_wrapper.get("type", "OptimWrapper") == wrapper
    assert rc.optim_wrapper.constructor == "LayerDecayOptimWrapperConstructor"


@pytest.mark.parametrize("model", ["fmae_vitb", "fmae_iat_vitl"])
def test_img_size_reaches_the_vit(model):
    """The ViT's patch grid is built for the run's size: --img-size reaches it."""
    from auzoo.engine.input_size import check_input_size

    assert resolve_config(model).model.backbone.img_size == 224
    cfg = resolve_config(model, {"img_size": 96, "model.backbone.depth": 1})
    assert cfg.model.backbone.img_size == 96
    check_input_size(cfg)
    with pytest.raises(ValueError, match=r"model\.backbone\.img_size=96 disagrees with img_size=224"):
        resolve_config(model, {"model.backbone.img_size": 96})
