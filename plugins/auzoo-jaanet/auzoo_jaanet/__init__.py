"""JAA-Net (Shao, Liu, Cai & Ma, ECCV 2018) as an auzoo plugin.

auzoo imports this package through its ``auzoo.plugins`` entry point; importing
it registers the ``JAANet`` model, the ``JAARegionLearning`` backbone, the
``JAANetLoss`` loss, the ``JAANetAUTransfer`` weight transfer (a DISFA model
from a BP4D one, the authors' DISFA recipe), the ``jaanet`` and
``jaanet_scratch`` configs, JAA-Net's published rows on DISFA and BP4D, and
the ``jaanet-official`` checkpoint format (the authors' six module files, for
``auzoo eval`` / ``predict`` / ``bench --weights``).
"""
from pathlib import Path

from auzoo.registry import register_config_dir

from auzoo_jaanet import published
from auzoo_jaanet.jaanet import BP4D_AUS, DISFA_AUS, JAANet
from auzoo_jaanet.landmarks import AU_CENTRE_RULES, au_centres, initial_attention, jaa_points
from auzoo_jaanet.losses import JAANetLoss, au_class_weights
from auzoo_jaanet.official import JAANetCheckpoint
from auzoo_jaanet.region import HierarchicalRegionLayer, JAARegionLearning
from auzoo_jaanet.transfer import DISFA_FROM_BP4D, JAANetAUTransfer

__version__ = "0.1.0"

CONFIG_DIR = Path(__file__).resolve().parent / "configs"
register_config_dir(CONFIG_DIR)

__all__ = ["AU_CENTRE_RULES", "BP4D_AUS", "CONFIG_DIR", "DISFA_AUS", "DISFA_FROM_BP4D",
           "HierarchicalRegionLayer", "JAANet", "JAANetAUTransfer", "JAANetCheckpoint",
           "JAANetLoss", "JAARegionLearning", "au_centres", "au_class_weights",
           "initial_attention", "jaa_points", "published"]
