"""Official MEFARG checkpoints: renamed by the official module names, loaded strictly."""
import re

import pytest
import timm
import torch

import auzoo
from auzoo_megraphau.official import load_official_checkpoint, official_to_auzoo

C, N = 64, 3


def _linear(state, name, out_f, in_f, bias=True):
    state[f"{name}.weight"] = torch.randn(out_f, in_f)
    if bias:
        state[f"{name}.bias"] = torch.randn(out_f)


def _bn(state, name, channels):
    for buf in ("weight", "bias", "running_mean", "running_var"):
        state[f"{name}.{buf}"] = torch.rand(channels) + 0.5
    state[f"{name}.num_batches_tracked"] = torch.tensor(7)


def _official_state(stage, in_channels=512):
    """The names and shapes the official model/ANFL.py and model/MEFL.py save."""
    resnet = timm.create_model("resnet18", pretrained=False).state_dict()
    state = {f"module.backbone.{k}": v for k, v in resnet.items() if not k.startswith("fc.")}
    head = {}
    _linear(head, "global_linear.fc", C, in_channels)
    _bn(head, "global_linear.bn", C)
    for i in range(N):
        _linear(head, f"head.class_linears.{i}.fc", C, C)
        _bn(head, f"head.class_linears.{i}.bn", C)
    head["head.sc"] = torch.randn(N, C)
    if stage == 1:
        _linear(head, "head.gnn.U", C, C)
        _linear(head, "head.gnn.V", C, C)
        _bn(head, "head.gnn.bnv", N)
    else:
        for block in ("FAM", "ARM"):
            _linear(head, f"head.edge_extractor.{block}.linear_q", C // 2, C)
            _linear(head, f"head.edge_extractor.{block}.linear_k", C // 2, C)
            _linear(head, f"head.edge_extractor.{block}.linear_v", C, C)
        _linear(head, "head.edge_extractor.edge_proj", C, C)
        _bn(head, "head.edge_extractor.bn", N * N)
        for layer in (1, 2):
            for name in "ABEUV":
                _linear(head, f"head.gnn.{name}{layer}", C, C, bias=False)
            _bn(head, f"head.gnn.bnv{layer}", N)
            _bn(head, f"head.gnn.bne{layer}", N * N)
        _linear(head, "head.edge_fc", 4, C)
    state.update({f"module.{k}": v for k, v in head.items()})
    return state


def _model(name):
    return auzoo.build_model(name, aus=(1, 2, 4), channels=C, **{"backbone.model_name": "resnet18"})


@pytest.mark.parametrize("stage,name", [(1, "megraphau_r50_stage1"), (2, "megraphau_r50")])
def test_official_checkpoint_loads_every_tensor_in_its_place(tmp_path, stage, name):
    torch.manual_seed(0)
    official = _official_state(stage)
    path = tmp_path / f"MEFARG_resnet18_stage{stage}.pth"
    torch.save({"epoch": 3, "state_dict": official}, path)
    model = _model(name)
    load_official_checkpoint(model, path)
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


def test_a_checkpoint_of_the_other_stage_or_size_is_refused_with_its_keys(tmp_path):
    path = tmp_path / "MEFARG_resnet18_fold1.pth"
    torch.save({"state_dict": _official_state(1)}, path)
    with pytest.raises(ValueError) as err:
        load_official_checkpoint(_model("megraphau_r50"), path)  # a stage-1 file into stage 2
    message = str(err.value)
    assert "MEFARG_resnet18_fold1.pth" in message
    assert "missing (" in message and "graph.edge_head.weight" in message  # stage 2 only
    assert "unexpected (9)" in message and "graph.neighbour.weight" in message  # the FGG
    torch.save({"state_dict": _official_state(1)}, path)
    with pytest.raises(ValueError, match="wrong shape"):
        load_official_checkpoint(auzoo.build_model("megraphau_r50_stage1", aus=(1, 2, 4), channels=C), path)


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
