"""A lab's own labelled frames: the protocol pinned in the cache
(:mod:`.protocol`), the labels CSV (:mod:`.reader`) and ``auzoo prepare
frames`` (:mod:`.prepare`). Importing the package registers the protocol only."""
from auzoo.data.datasets.frames.protocol import OwnFramesDataset, balanced_folds

__all__ = ["OwnFramesDataset", "balanced_folds"]
