"""ME-GraphAU (Luo et al., IJCAI-ECAI 2022) as an auzoo plugin.

auzoo imports this package through its ``auzoo.plugins`` entry point;
importing it registers the parts (``TokenReduction``, ``AUFeatureGenerator``,
``FacialGraphGenerator``, ``MEFL``, ``CosineAUClassifier``), the ``MEGraphAU``
model, the losses (``WeightedAsymmetricLoss``, ``AUEdgeLoss``,
``MEGraphAULoss``), the configs of both stages for ResNet-50 and Swin-B (and
``megraphau_r50_intensity``, which reads AU intensity from the nodes too), the
published DISFA and BP4D rows, and the ``megraphau-official`` checkpoint
format (the released ``MEFARG_*.pth`` files, for ``auzoo eval`` / ``predict``
/ ``bench --weights``).
"""
from pathlib import Path

from auzoo.registry import register_config_dir

from auzoo_megraphau.classifier import CosineAUClassifier, cosine_logit
from auzoo_megraphau.graph import FacialGraphGenerator, knn_adjacency, normalize_digraph
from auzoo_megraphau.losses import (AUEdgeLoss, MEGraphAULoss, WeightedAsymmetricLoss,
                                    au_class_weights, edge_targets)
from auzoo_megraphau.mefl import MEFL, GatedGCNLayer, GraphEdgeModel, edge_ends, edge_index
from auzoo_megraphau.model import BP4D_AUS, DISFA_AUS, MEGraphAU
from auzoo_megraphau.nodes import AUFeatureGenerator, TokenReduction
from auzoo_megraphau.official import MEGraphAUCheckpoint, load_official_checkpoint
from auzoo_megraphau.published import register_rows

__version__ = "0.1.0"

CONFIG_DIR = Path(__file__).resolve().parent / "configs"
register_config_dir(CONFIG_DIR)
register_rows()

__all__ = [
    "AUEdgeLoss", "AUFeatureGenerator", "BP4D_AUS", "CONFIG_DIR", "CosineAUClassifier", "DISFA_AUS",
    "FacialGraphGenerator", "GatedGCNLayer", "GraphEdgeModel", "MEFL", "MEGraphAU", "MEGraphAUCheckpoint",
    "MEGraphAULoss",
    "TokenReduction", "WeightedAsymmetricLoss", "au_class_weights", "cosine_logit", "edge_ends",
    "edge_index", "edge_targets", "knn_adjacency", "load_official_checkpoint", "normalize_digraph",
]
