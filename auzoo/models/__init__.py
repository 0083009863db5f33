"""auzoo's parts. Importing this package registers every built-in part.

backbones/   image -> list of feature maps (VGGFace2 SENet-50, any timm network)
necks/       feature maps -> one map (TRA-Net's decoder)
splitters    one map -> one map per face region (hard masks)
attention    blocks inside a region's branch (CBAM, SE)
heads        a branch's map -> its AU logits
intensity_heads  a branch's map -> its AU intensities (0-5): regression, ordinal, levels
tasks        occurrence, intensity or both: how a model's output reads
region_net   the assembler: RegionAUNet
"""
from auzoo.models import (attention, backbones, heads, intensity_heads, necks,  # noqa: F401
                          splitters)  # (registration)
from auzoo.models.region_net import RegionAUNet, RegionBranch

__all__ = ["RegionAUNet", "RegionBranch", "attention", "backbones", "heads", "intensity_heads",
           "necks", "splitters"]
