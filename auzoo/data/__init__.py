"""AU datasets, one folder each under :mod:`auzoo.data.datasets` (DISFA, BP4D,
a lab's own frames: protocol, reader of the raw layout, cache writer,
synthetic copy); the prepared cache (shared writer and reader), the training
dataset and the AU-weighted sampler, the drawn faces of synthetic copies."""
from auzoo.data import datasets  # noqa: F401  (registers the datasets)
from auzoo.data.cache import Cache, open_cache
from auzoo.data.datasets import AUDataset, dataset_from_meta, get_dataset, val_split

__all__ = ["AUDataset", "Cache", "dataset_from_meta", "get_dataset", "open_cache", "val_split"]
