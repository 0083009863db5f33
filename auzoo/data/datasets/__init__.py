"""The registered datasets (:data:`auzoo.registry.DATASETS`): one module each."""
from auzoo.data.datasets.base import AUDataset, dataset_from_meta, get_dataset, val_split
from auzoo.data.datasets.bp4d import Bp4dDataset
from auzoo.data.datasets.disfa import DisfaDataset
from auzoo.data.datasets.frames import OwnFramesDataset

__all__ = ["AUDataset", "Bp4dDataset", "DisfaDataset", "OwnFramesDataset", "dataset_from_meta",
           "get_dataset", "val_split"]
