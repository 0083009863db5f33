"""What one ``auzoo bench`` is asked for, as one typed object.

The command line fills it from its options; Python callers give the same
names as keywords (``bench(['tranet'], data='disfa_cache', max_epochs=5)``).
A flag that is a config key (``max_epochs``, ``img_size`` …, the table
:data:`auzoo.engine.settings.CONFIG_FLAGS`) goes into ``cfg_options`` under
its key, as ``--cfg-options KEY=VALUE`` would.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Dict, Optional, Sequence, Union


@dataclass
class BenchOptions:
    """The grid (models × datasets × folds × seeds), how it trains, and where
    its cells run."""

    models: Sequence[str] = ()
    use_all: bool = False                 # every registered model, besides ``models``
    exclude: Sequence[str] = ()
    data: Union[None, str, Sequence[str]] = None   # None: the synthetic demo data
    test_data: Sequence[str] = ()         # also score every trained model on these
    folds: Union[str, Sequence[int]] = "1,2,3"
    seeds: Union[None, str, int, Sequence[int]] = None  # default: ``seed``
    seed: Optional[int] = None            # one seed (default 0)
    out: str = "bench_out"
    preset: Optional[str] = None          # default: cpu_demo on the demo data, else the paper's
    cfg_options: Dict[str, Any] = field(default_factory=dict)  # dotted keys, the config's own
    device: Optional[str] = None
    weights: Optional[str] = None         # per-fold pattern: score these instead of training
    shard: Optional[str] = None           # 'I/N': every N-th cell from the I-th
    slurm: Optional[str] = None           # 'key=value,…': submit the cells through submitit
    wait: bool = False                    # with slurm: wait for the jobs

    def __post_init__(self) -> None:
        if self.seeds is not None and self.seed is not None:
            raise ValueError("give --seeds 0,1,2 or --seed N, not both")
        self.cfg_options = dict(self.cfg_options or {})

    @property
    def seed_list(self) -> Union[str, int, Sequence[int]]:
        """``seeds``, else ``seed``, else 0."""
        if self.seeds is not None:
            return self.seeds
        return self.seed if self.seed is not None else 0

    @classmethod
    def of(cls, models: Sequence[str] = (), **options: Any) -> "BenchOptions":
        """From keywords: the fields, and config-key flags (``max_epochs=5``)
        folded into ``cfg_options``; anything else is a TypeError."""
        from auzoo.engine.settings import OPTION_KEYS, with_flags

        names = {f.name for f in dataclasses.fields(cls)}
        flags = {k: options.pop(k) for k in list(options) if k in OPTION_KEYS}
        unknown = set(options) - names
        if unknown:
            raise TypeError(f"unknown bench option(s): {', '.join(sorted(unknown))} (options: "
                            f"{', '.join(sorted(names | set(OPTION_KEYS)))})")
        options["cfg_options"] = with_flags(options.get("cfg_options"), flags)
        return cls(models=tuple(models), **options)


__all__ = ["BenchOptions"]
