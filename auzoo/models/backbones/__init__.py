"""Backbones: RGB images in [0, 1] -> a list of feature maps, shallow first.

Each exposes ``out_channels`` and ``out_strides`` (one per returned map) and
``frozen_stages``, and normalises its input itself.
"""
from auzoo.models.backbones.senet import VGGFace2SENet50
from auzoo.models.backbones.timm_backbone import TimmBackbone

__all__ = ["VGGFace2SENet50", "TimmBackbone"]
