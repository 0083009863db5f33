"""DISFA data: reader, alignment, prepared cache, protocol and folds, training
dataset and AU-weighted sampler, synthetic DISFA."""
from auzoo.data.cache import DisfaCache, open_cache

__all__ = ["DisfaCache", "open_cache"]
