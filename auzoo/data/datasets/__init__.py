"""The datasets, one folder each: its protocol (registered in
:data:`auzoo.registry.PROTOCOLS`), the reader of its layout on disk, its
cache writer (``auzoo prepare``) and, where there is one, its synthetic
writer (``auzoo synth``). :mod:`.base` is the interface; :mod:`.lookup`
finds a dataset and its writers by name. docs/data.md, "Adding a dataset".
"""
from auzoo.data.datasets.base import AUDataset, val_split
from auzoo.data.datasets.bp4d import Bp4dDataset
from auzoo.data.datasets.disfa import DisfaDataset
from auzoo.data.datasets.frames import OwnFramesDataset
from auzoo.data.datasets.lookup import (dataset_from_meta, get_dataset, prepare_dataset,
                                        protocol_names, synth_dataset)

__all__ = ["AUDataset", "Bp4dDataset", "DisfaDataset", "OwnFramesDataset", "dataset_from_meta",
           "get_dataset", "prepare_dataset", "protocol_names", "synth_dataset", "val_split"]
