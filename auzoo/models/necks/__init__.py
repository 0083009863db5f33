"""Necks: the backbone's feature list -> the one map the splitter divides.

Each is built with ``in_channels`` (the backbone's ``out_channels``) and
exposes ``out_channels``.
"""
from auzoo.models.necks.tra_decoder import TRADecoder

__all__ = ["TRADecoder"]
