"""Model configs, one file per model (mmengine format, ``_base_`` inheritance).

The file's stem is the model's name: ``auzoo bench tranet`` builds
``tranet.py``. Shared pieces live in ``_base_/``.
"""
from pathlib import Path

CONFIG_DIR = Path(__file__).resolve().parent
