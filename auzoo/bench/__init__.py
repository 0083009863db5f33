"""``auzoo bench``: every model on every fold (and seed, and dataset), and tables
beside the published ones.

* :mod:`auzoo.bench.grid`   cells (model, fold, seed) per dataset, shards, what is finished
* :mod:`auzoo.bench.run`    the grid from the command's options; cells run here (or under torchrun)
* :mod:`auzoo.bench.slurm`  cells as Slurm array jobs through submitit
* :mod:`auzoo.bench.demo`   the synthetic DISFA of the demo
* :mod:`auzoo.bench.main`   :func:`bench`, end to end
* :mod:`auzoo.bench.cli`    the command's options

The tables themselves are :mod:`auzoo.report`'s.
"""
from __future__ import annotations

from auzoo.bench.cli import bench_cli

__all__ = ["bench", "bench_cli"]


def __getattr__(name):  # `auzoo list` and the parser stay quick: torch loads with the run
    if name == "bench":
        from auzoo.bench.main import bench
        return bench
    raise AttributeError(name)
