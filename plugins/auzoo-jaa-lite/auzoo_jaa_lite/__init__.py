"""Landmark-centred AU attention (after JAA-Net and EAC-Net) as an auzoo plugin.

auzoo imports this package through its ``auzoo.plugins`` entry point; importing
it registers the ``JAALite`` model and the ``jaa_lite`` config.
"""
from pathlib import Path

from auzoo.registry import register_config_dir

from auzoo_jaa_lite.au_centres import AU_CENTRE_RULES, au_attention_maps, au_centres
from auzoo_jaa_lite.jaa_lite import JAALite

__version__ = "0.1.0"

CONFIG_DIR = Path(__file__).resolve().parent / "configs"
register_config_dir(CONFIG_DIR)

__all__ = ["AU_CENTRE_RULES", "JAALite", "au_attention_maps", "au_centres", "CONFIG_DIR"]
