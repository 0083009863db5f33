"""Official MEFARG checkpoints: renamed by the official module names, loaded strictly,
checked against the model (stage, backbone, AU order, K) and described."""
import re

import pytest
import timm
import torch

import auzoo
from auzoo.engine.weight_formats import load_weights
from auzoo_megraphau.official import load_official_checkpoint, official_to_auzoo

from megraphau_official_files import C, official_state

DISFA = [1, 2, 4, 6, 9, 12, 25, 26]


def _model(name, **kw):
    return auzoo.build_model(name, channels=C, **{"backbone.model_name": "resnet18"}, **kw)


@pytest.mark.parametrize("stage,name", [(1, "megraphau_r50_stage1"), (2, "megraphau_r50")])
def test_official_checkpoint_loads_every_tensor_in_its_place(tmp_path, stage, name):
    torch.manual_seed(0)
    official = official_state(stage)
    path = tmp_path / "MEFARG_resnet18_DISFA_fold1.pth"
    torch.save({"epoch": 3, "state_dict": official}, path)
    model = _model(name)
    record = load_official_checkpoint(model, path)
    got = model.state_dict()
    pairs = {"classifier.weight": "head.sc",
             "backbone.body.layer4.1.conv2.weight": "backbone.layer4.1.conv2.weight",
             "afg.generators.2.bn.running_var": "head.class_linears.2.bn.running_var"}
    if stage == 1:
        pairs.update({"graph.neighbour.weight": "head.gnn.V.weight",
                      "graph.self_loop.bias": "head.gnn.U.bias"})
    else:
        pairs.update({"graph.gcn.1.start_in.weight": "head.gnn.B2.weight",
                      "graph.gcn.0.bn_edge.running_mean": "head.gnn.bne1.running_mean",
                      "graph.gem.arm.query.bias": "head.edge_extractor.ARM.linear_q.bias",
                      "graph.edge_head.weight": "head.edge_fc.weight"})
    for ours, theirs in pairs.items():
        assert torch.equal(got[ours], official[f"module.{theirs}"]), ours
    # what was loaded, as auzoo eval reports it
    assert record["format"] == "megraphau-official" and record["stage"] == stage
    assert record["aus"] == DISFA and record["dataset"] == "disfa"
    assert record["neighbor_num"] == (3 if stage == 1 else None)
    assert record["official_fold"] == 1 and record["test_part"] == "part3" and record["fold"] == 1
    assert record["test_subjects"][:2] == ["SN003", "SN004"] and "SN001" in record["train_subjects"]
    import hashlib
    assert record["files"] == [{"file": str(path),
                                "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}]


def test_the_file_name_says_the_fold_and_the_au_count_the_dataset(tmp_path):
    state = official_state(2)
    for fold, part in ((2, "part2"), (3, "part1")):
        path = tmp_path / f"MEFARG_resnet18_DISFA_fold{fold}.pth"
        torch.save({"state_dict": state}, path)
        record = load_official_checkpoint(_model("megraphau_r50"), path)
        assert (record["fold"], record["test_part"]) == (fold, part)
    path = tmp_path / "best_model.pth"  # a trainer's own file: no fold in the name
    torch.save({"state_dict": state}, path)
    record = load_official_checkpoint(_model("megraphau_r50"), path)
    assert record["dataset"] == "disfa" and record["test_part"] is None and "fold" not in record


def test_a_same_size_model_with_another_au_order_is_refused(tmp_path):
    path = tmp_path / "MEFARG_resnet18_DISFA_fold1.pth"
    torch.save({"state_dict": official_state(2)}, path)
    other = [2, 1, 4, 6, 9, 12, 25, 26]
    model = _model("megraphau_r50", aus=tuple(other))
    before = model.classifier.weight.clone()
    with pytest.raises(ValueError) as err:
        load_official_checkpoint(model, path)
    message = str(err.value)
    assert "MEFARG_resnet18_DISFA_fold1.pth" in message
    assert str(DISFA) in message and str(other) in message
    assert torch.equal(model.classifier.weight, before)  # nothing loaded


def test_bp4d_files_need_bp4d_aus_and_k(tmp_path):
    bp4d = (1, 2, 4, 6, 7, 10, 12, 14, 15, 17, 23, 24)
    path = tmp_path / "MEFARG_resnet18_BP4D_fold2.pth"
    torch.save({"state_dict": official_state(1, n=12)}, path)
    with pytest.raises(ValueError, match=r"predicts AUs \[1, 2, 4, 6, 7, 10, 12, 14, 15, 17, 23, 24\]"):
        load_official_checkpoint(_model("megraphau_r50_stage1"), path)  # DISFA's 8
    with pytest.raises(ValueError, match=r"K = 4 neighbours .* K = 3.*neighbor_num=4"):
        load_official_checkpoint(_model("megraphau_r50_stage1", aus=bp4d), path)
    record = load_official_checkpoint(
        _model("megraphau_r50_stage1", aus=bp4d, **{"graph.neighbor_num": 4}), path)
    assert (record["dataset"], record["neighbor_num"], record["fold"]) == ("bp4d", 4, 2)
    named = tmp_path / "MEFARG_resnet18_DISFA_fold2.pth"  # the name and the count disagree
    named.write_bytes(path.read_bytes())
    with pytest.raises(ValueError, match="the name says DISFA, but the file holds 12 AUs"):
        load_official_checkpoint(_model("megraphau_r50_stage1", aus=bp4d), named)


def test_a_checkpoint_of_the_other_stage_backbone_or_count_is_refused(tmp_path):
    path = tmp_path / "MEFARG_resnet18_DISFA_fold1.pth"
    torch.save({"state_dict": official_state(1)}, path)
    with pytest.raises(ValueError, match=r"fold1.pth: a stage-1 checkpoint; the model "
                                         r"'megraphau_r50' is stage 2: use megraphau_r50_stage1"):
        load_official_checkpoint(_model("megraphau_r50"), path)
    swin = auzoo.build_model("megraphau_swinb_stage1", channels=C, **{
        "backbone.model_name": "swin_tiny_patch4_window7_224"})
    with pytest.raises(ValueError, match="a resnet backbone; the model .* has a swin one"):
        load_official_checkpoint(swin, path)
    torch.save({"state_dict": official_state(1, n=5)}, path)
    with pytest.raises(ValueError, match="5 AUs; ME-GraphAU's files hold DISFA's 8 or BP4D's 12"):
        load_official_checkpoint(_model("megraphau_r50_stage1"), path)
    state = official_state(1)
    state["module.head.extra.weight"] = torch.ones(1)  # a tensor with no place in the model
    torch.save({"state_dict": state}, path)
    with pytest.raises(ValueError, match=r"fold1\.pth.*not in the model 1: head\.extra\.weight"):
        load_official_checkpoint(_model("megraphau_r50_stage1"), path)
    torch.save({"state_dict": official_state(1)}, path)
    with pytest.raises(ValueError, match="other shapes"):  # another width C
        load_official_checkpoint(auzoo.build_model("megraphau_r50_stage1", channels=32,
                                                   **{"backbone.model_name": "resnet18"}), path)


def test_load_weights_names_the_model_or_refuses(tmp_path):
    path = tmp_path / "MEFARG_resnet18_DISFA_fold3.pth"
    torch.save({"state_dict": official_state(2)}, path)
    with pytest.raises(ValueError, match=r"not an auzoo checkpoint.*name.*megraphau-official"):
        load_weights(path)  # no model: an official file says nothing of its config
    net = load_weights([path], model="megraphau_r50", cfg_options={
        "model.channels": C, "model.backbone.model_name": "resnet18"})
    meta = net.checkpoint_meta
    assert meta["model"] == "megraphau_r50" and meta["fold"] == 3 and meta["dataset"] == "disfa"
    assert meta["img_size"] == 224 and meta["bad_frames"] == "keep"
    assert meta["test_subjects"][0] == "SN001" and meta["loaded_from"]["format"] == "megraphau-official"
    assert not net.training


def test_swin_names_move_patch_merging_to_the_next_stage_and_the_final_norm_out():
    state = {k: torch.zeros(1) for k in (
        "module.backbone.patch_embed.proj.weight",
        "module.backbone.layers.0.blocks.1.attn.relative_position_bias_table",
        "module.backbone.layers.0.blocks.1.attn.relative_position_index",
        "module.backbone.layers.0.blocks.1.attn_mask",
        "module.backbone.layers.2.downsample.reduction.weight",
        "module.backbone.norm.weight",
    )}
    renamed = set(official_to_auzoo(state, swin=True))
    assert renamed == {"backbone.body.patch_embed.proj.weight",
                       "backbone.body.layers_0.blocks.1.attn.relative_position_bias_table",
                       "backbone.body.layers_3.downsample.reduction.weight",
                       "token_norm.weight"}


def test_swin_renaming_covers_timms_swin_exactly():
    """Every official Swin-T name (the Microsoft layout) lands on a key of timm's feature net."""
    with torch.device("meta"):  # names and shapes only: skip the initialisation
        model = auzoo.build_model("megraphau_swinb_stage1", channels=C,
                                  **{"backbone.model_name": "swin_tiny_patch4_window7_224"})
        timm_swin = timm.create_model("swin_tiny_patch4_window7_224", pretrained=False)
    ours = {k for k in model.state_dict() if k.startswith(("backbone.", "token_norm."))}
    official = {}
    for k in timm_swin.state_dict():
        if k.startswith("head."):
            continue
        # timm -> official layout: patch merging back to the end of the previous stage
        k = re.sub(r"^layers\.(\d+)\.downsample\.", lambda m: f"layers.{int(m.group(1)) - 1}.downsample.", k)
        official[f"backbone.{k}"] = torch.zeros(1)
    assert set(official_to_auzoo(official, swin=True)) == ours
