"""Parameter counts against the note's table (computed from the official layer shapes).

The full ResNet-50 and Swin-B models are built once each, without weights (on
the meta device: shapes only, no initialisation); the heads for both AU
counts (DISFA 8, BP4D 12) are built from the registered parts.
"""
import torch

import auzoo
from auzoo import registry
from auzoo_megraphau import BP4D_AUS, DISFA_AUS

# model: backbone (no classifier), stage-1 head, stage-2 head, per number of AUs
TABLE = {
    "resnet50": dict(backbone=23_508_032, stage1={12: 4_745_752, 8: 3_688_976},
                     stage2={12: 8_158_100, 8: 7_100_836}),
    "swin_base": dict(backbone=86_743_224, stage1={12: 4_221_464, 8: 3_164_688},
                      stage2={12: 7_633_812, 8: 6_576_548}),
}
# The stage-2 head of ResNet-50 on BP4D, part by part.
R50_BP4D_STAGE2 = dict(reduction=1_050_112, afg=3_164_160, gem=1_313_568, gcn=2_622_064, s=6_144,
                       edge_head=2_052)


def count(module):
    return sum(p.numel() for p in module.parameters())


def _heads(in_channels, n, graph):
    parts = [dict(type="TokenReduction", in_channels=in_channels, channels=512),
             dict(type="AUFeatureGenerator", num_aus=n, channels=512),
             dict(graph, num_aus=n, channels=512)]
    with torch.device("meta"):
        total = sum(count(registry.build_part(registry.NECKS, p)) for p in parts)
        return total + count(registry.build_part(registry.HEADS, dict(type="CosineAUClassifier",
                                                                      num_aus=n, channels=512)))


def _check(model, row, in_channels):
    backbone = count(model.backbone) + (count(model.token_norm) if model.token_norm is not None else 0)
    assert backbone == row["backbone"]
    assert count(model) == row["backbone"] + row["stage2"][8]  # the deployed DISFA model
    for n in (8, 12):
        assert _heads(in_channels, n, dict(type="FacialGraphGenerator", neighbor_num=3)) == row["stage1"][n]
        assert _heads(in_channels, n, dict(type="MEFL")) == row["stage2"][n]


def test_resnet50_counts_match_the_table():
    with torch.device("meta"):
        model = auzoo.build_model("megraphau_r50")
    assert model.aus == DISFA_AUS
    _check(model, TABLE["resnet50"], 2048)
    with torch.device("meta"):
        mefl = registry.build_part(registry.NECKS, dict(type="MEFL", num_aus=len(BP4D_AUS), channels=512))
    got = dict(reduction=count(model.reduction), afg=count(model.afg) // 8 * 12, gem=count(mefl.gem),
               gcn=count(mefl.gcn), s=512 * 12, edge_head=count(mefl.edge_head))
    assert got == R50_BP4D_STAGE2


def test_swin_b_counts_match_the_table():
    with torch.device("meta"):
        model = auzoo.build_model("megraphau_swinb")
    assert model.backbone.body.patch_embed.proj.out_channels == 128  # embed 128: Swin-B
    _check(model, TABLE["swin_base"], 1024)
