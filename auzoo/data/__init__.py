"""AU datasets: registered protocols (DISFA, BP4D, a lab's own frames), readers of
their raw layouts, the prepared cache (writer and reader), the training
dataset and the AU-weighted sampler, synthetic copies."""
from auzoo.data import datasets  # noqa: F401  (registers the datasets)
from auzoo.data.cache import Cache, open_cache
from auzoo.data.datasets import AUDataset, dataset_from_meta, get_dataset, val_split

__all__ = ["AUDataset", "Cache", "dataset_from_meta", "get_dataset", "open_cache", "val_split"]
