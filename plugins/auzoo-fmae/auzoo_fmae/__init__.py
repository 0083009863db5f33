"""FMAE and FMAE-IAT (Ning, Salah, Onal Ertugrul, 2024) as an auzoo plugin.

auzoo imports this package through its ``auzoo.plugins`` entry point;
importing it registers the ``FMAEViT`` backbone, the ``FMAE`` model, the
``FMAELoss``, the ``LayerDecayOptimWrapperConstructor``, the face and
augmentation transforms (``FaceBoxCrop``, ``TimmRandomResizedCrop``,
``TimmRandAugment``, ``TimmRandomErasing``), the configs ``fmae_vitb``,
``fmae_iat_vitb``, ``fmae_vitl``, ``fmae_iat_vitl`` and the published DISFA and
BP4D rows.
"""
from pathlib import Path

from auzoo.registry import register_config_dir

from auzoo_fmae.losses import FMAELoss
from auzoo_fmae.model import BP4D_AUS, DISFA_AUS, FMAE, GradReverse, grad_reverse
from auzoo_fmae.optim import LayerDecayOptimWrapperConstructor, layer_id
from auzoo_fmae.published import register_rows
from auzoo_fmae.transforms import (FaceBoxCrop, TimmRandAugment, TimmRandomErasing,
                                   TimmRandomResizedCrop)
from auzoo_fmae.vit import FMAEViT
from auzoo_fmae.weights import load_vit_weights

__version__ = "0.1.0"

CONFIG_DIR = Path(__file__).resolve().parent / "configs"
register_config_dir(CONFIG_DIR)
register_rows()

__all__ = [
    "BP4D_AUS", "CONFIG_DIR", "DISFA_AUS", "FMAE", "FMAELoss", "FMAEViT", "FaceBoxCrop",
    "GradReverse", "LayerDecayOptimWrapperConstructor", "TimmRandAugment", "TimmRandomErasing",
    "TimmRandomResizedCrop", "grad_reverse", "layer_id", "load_vit_weights",
]
