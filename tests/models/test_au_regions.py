"""The AU -> face-region table and TRA-Net built for any AU list."""
from __future__ import annotations

import pytest
import torch

import auzoo
from auzoo.models.au_regions import AU_REGIONS, DEFAULT_AUS, group_by_region, region_of

from .helpers import randomize_
from .test_region_net import small_backbone_config

DISFA = (1, 2, 4, 6, 9, 12, 25, 26)
BP4D = (1, 2, 4, 6, 7, 10, 12, 14, 15, 17, 23, 24)


def test_table_covers_disfa_and_bp4d_and_keeps_the_papers_grouping():
    assert set(DISFA) | set(BP4D) | {5, 20} <= set(AU_REGIONS)
    assert group_by_region(DISFA, ("upper", "middle", "lower")) == {
        "upper": (1, 2, 4), "middle": (6, 9), "lower": (12, 25, 26)}  # the paper's branches
    assert group_by_region(BP4D, ("upper", "middle", "lower")) == {
        "upper": (1, 2, 4, 7), "middle": (6, 10), "lower": (12, 14, 15, 17, 23, 24)}
    assert DEFAULT_AUS == DISFA
    with pytest.raises(KeyError, match="AU99 has no face region.*model.branches"):
        region_of(99)


def test_tranet_without_data_predicts_disfas_aus():
    model = auzoo.build_model(small_backbone_config("tranet"))
    assert model.aus == DISFA
    assert [(b.region, b.aus) for b in model.branches] == [
        ("upper", (1, 2, 4)), ("middle", (6, 9)), ("lower", (12, 25, 26))]


def test_tranet_for_bp4d_puts_each_au_in_its_regions_branch():
    torch.manual_seed(0)
    cfg = small_backbone_config("tranet")
    model = randomize_(auzoo.build_model(cfg, aus=BP4D)).eval()
    assert model.aus == BP4D
    for branch in model.branches:
        assert all(region_of(au) == branch.region for au in branch.aus)
    assert sorted(au for b in model.branches for au in b.aus) == sorted(BP4D)
    assert model.loss_groups == [tuple(BP4D.index(au) for au in b.aus) for b in model.branches]
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        logits = model(x)
        regions = model.splitter(model.features(x))
        per_au = {au: branch(regions[i])[0][:, k] for i, branch in zip(model.branch_regions, model.branches)
                  for k, au in enumerate(branch.aus)}
    assert logits.shape == (2, 12)
    for j, au in enumerate(BP4D):  # logits in the given order
        torch.testing.assert_close(logits[:, j], per_au[au])


def test_the_full_sized_tranet_for_bp4d(images):
    model = auzoo.build_model("tranet", aus=BP4D)
    assert model(images).shape == (2, 12)


def test_a_region_without_aus_is_left_out():
    model = auzoo.build_model(small_backbone_config("tranet"), aus=(12, 6))
    assert [(b.region, b.aus) for b in model.branches] == [("middle", (6,)), ("lower", (12,))]
    assert model.branch_regions == [1, 2]
    assert model.loss_groups == [(1,), (0,)]
    assert model(torch.rand(2, 3, 64, 64)).shape == (2, 2)


def test_a_pinned_au_list_in_a_user_config_is_kept(tmp_path):
    path = tmp_path / "smile.py"
    path.write_text("_base_ = ['auzoo::senet50_hm']\nmodel = dict(aus=(12, 6))\n")
    cfg = auzoo.load_config(str(path))
    assert cfg.model.aus == (12, 6)
    cfg.model.backbone = dict(type="TimmBackbone", model_name="test_resnet", out_indices=(1, 2, 3, 4))
    assert auzoo.build_model(cfg).aus == (12, 6)


def test_an_au_without_a_region_names_the_fix():
    with pytest.raises(KeyError, match="AU99 has no face region"):
        auzoo.build_model(small_backbone_config("tranet"), aus=(1, 99))
    # a branch that lists its own AUs needs no table entry
    model = auzoo.build_model(small_backbone_config("tranet"), aus=(1, 99), branches=[
        dict(region="upper", aus=(1, 99))])
    assert [b.aus for b in model.branches] == [(1, 99)]


def test_single_branch_models_predict_every_au():
    model = auzoo.build_model(small_backbone_config("senet50_cbam"), aus=BP4D)
    assert [b.aus for b in model.branches] == [BP4D] and model.loss_groups == [tuple(range(12))]
