"""auzoo's parts. Importing this package registers every built-in part.

backbones/   image -> list of feature maps (VGGFace2 SENet-50, any timm network)
necks/       feature maps -> one map (TRA-Net's decoder)
splitters    one map -> one map per face region (hard masks)
attention    blocks inside a region's branch (CBAM, SE)
heads        a branch's map -> its AU logits
region_net   the assembler: RegionAUNet
"""
from auzoo.models import attention, backbones, heads, necks, splitters  # noqa: F401  (registration)
from auzoo.models.region_net import RegionAUNet, RegionBranch

__all__ = ["RegionAUNet", "RegionBranch", "attention", "backbones", "heads", "necks", "splitters"]
