"""DRML (Zhao, Chu & Zhang, CVPR 2016) as an auzoo plugin.

auzoo imports this package through its ``auzoo.plugins`` entry point; importing
it registers the ``DRML`` model and the ``drml`` config.
"""
from pathlib import Path

from auzoo.registry import register_config_dir

from auzoo_drml.drml import DRML, RegionLayer

__version__ = "0.1.0"

CONFIG_DIR = Path(__file__).resolve().parent / "configs"
register_config_dir(CONFIG_DIR)

__all__ = ["DRML", "RegionLayer", "CONFIG_DIR"]
