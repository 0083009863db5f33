"""``auzoo bench``: plan the grid, run what is missing (here or on Slurm), and
write the tables of every dataset folder.

A rerun runs only the missing (cell, seed) runs and resumes an interrupted
one; ``--shard I/N`` runs every N-th cell from the I-th so N machines can
share the grid over one OUT; a run without ``--shard`` writes the tables.
"""
from __future__ import annotations

import dataclasses
import os
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from auzoo.bench import demo, grid
from auzoo.bench.options import BenchOptions
from auzoo.engine.records import RUN_FILE, RunSpec


class CellsFailed(RuntimeError):
    """Some cells failed; the others finished and are in the tables."""


@dataclass
class Grid:
    """What one ``auzoo bench`` command asks for."""

    models: List[str]
    data: List[str]                       # absolute cache paths, one table each
    out: Path
    folds: Tuple[int, ...] = (1, 2, 3)
    seeds: Tuple[int, ...] = (0,)
    test_data: Tuple[str, ...] = ()
    preset: Optional[str] = None          # piece of configs/_base_/presets/
    cfg_options: Dict[str, Any] = field(default_factory=dict)
    device: Optional[str] = None
    synthetic: bool = False
    weights: Optional[str] = None         # score these weights per fold ({fold}) instead of training

    def out_dir(self, data: str) -> Path:
        """One dataset: OUT itself; several: OUT/CACHE_NAME each."""
        if len(self.data) == 1:
            return self.out
        labels = [Path(d).name for d in self.data]
        label = Path(data).name
        if labels.count(label) > 1:
            label = f"{label}-{self.data.index(data) + 1}"
        return self.out / label

    def cells(self) -> List[grid.Cell]:
        cells = grid.plan_cells(self.models, self.folds, self.seeds, self.data)
        if self.weights:  # scored, not trained: cells and rows of their own
            from auzoo.engine.score_weights import WEIGHTS_SUFFIX
            cells = [dataclasses.replace(c, name=c.name + WEIGHTS_SUFFIX) for c in cells]
        return cells

    def spec(self, cell: grid.Cell, label: str = "") -> RunSpec:
        return RunSpec(model=cell.model, data=cell.data, fold=cell.fold, seed=cell.seed,
                       work_dir=str(cell.work_dir(self.out_dir(cell.data))), preset=self.preset,
                       cfg_options=dict(self.cfg_options), device=self.device, resume=True,
                       test_data=tuple(self.test_data), label=label or str(cell),
                       weights=fold_weights(self.weights, cell.fold, cell.data) if self.weights
                       else None)

    def finished(self, cell: grid.Cell) -> bool:
        return grid.is_finished(cell, self.out_dir(cell.data), self.test_data)


def run_cell(spec: RunSpec, progress=None):
    """Train the cell, or score the weights it was given."""
    if spec.weights:
        from auzoo.engine.score_weights import score_weights
        return score_weights(spec, progress=progress)
    from auzoo.engine.train import train
    return train(spec, progress=progress)


def check_grid(g: Grid, cells: Sequence[grid.Cell]) -> None:
    """The config of every model with ``cells`` to run resolved with the grid's
    options, and its model run once at its input size, before any cell
    trains: a key nothing reads or a size a model cannot take stops the bench
    here, not after other cells have trained."""
    from auzoo.engine.input_size import check_input_size
    from auzoo.engine.settings import resolve_config

    if g.weights:  # scored, not trained: the weights' own configs
        return
    for model in dict.fromkeys(c.model for c in cells):
        check_input_size(resolve_config(model, g.cfg_options, preset=g.preset))


run_cell.check_grid = check_grid


def default_train() -> Callable:
    return run_cell


def fold_weights(pattern: str, fold: int, data: str) -> Tuple[str, ...]:
    """The weights of one fold: ``pattern`` with ``{fold}`` and ``{train_parts}``
    (``1_2`` for a fold trained on parts 1 and 2) filled in; a glob is expanded."""
    import glob

    train_parts = ""
    if "{train_parts}" in pattern:
        from auzoo.data import open_cache
        parts = open_cache(data).dataset.fold_parts[fold][0]
        train_parts = "_".join(p.replace("part", "") for p in parts)
    try:
        path = pattern.format(fold=fold, train_parts=train_parts)
    except (KeyError, IndexError, ValueError) as exc:
        raise ValueError(f"--weights {pattern!r}: placeholders are {{fold}} and {{train_parts}} "
                         f"({exc})") from None
    if glob.has_magic(path):
        found = sorted(glob.glob(path))
        if not found:
            raise FileNotFoundError(f"--weights {pattern!r}: nothing matches {path} (fold {fold})")
        return tuple(found)
    return (path,)


def _absolute(path) -> str:
    return str(Path(path).expanduser().resolve())


def _model_arg(model: str) -> str:
    """A config file as an absolute path (Slurm jobs run elsewhere); names as typed."""
    return _absolute(model) if model.endswith(".py") and Path(model).is_file() else model


def make_grid(options: BenchOptions) -> Grid:
    """The grid of a bench (data: None, a cache or several; ``weights``: a
    per-fold pattern of weights to score instead of training)."""
    o = options
    models = list(o.models)
    if o.weights is not None:
        _check_weights_grid(models, o.use_all, o.seed_list, o.cfg_options)
    if o.use_all:
        models = list(dict.fromkeys(models + grid.all_models(o.exclude)))
    elif o.exclude:
        models = [m for m in models if m not in set(o.exclude)]
    if not models:
        raise ValueError("no model to bench: name models, or give --all")
    datasets = [o.data] if isinstance(o.data, (str, os.PathLike)) else list(o.data or [])
    synthetic = not datasets
    datasets = [str(demo.synthetic_cache())] if synthetic else [_absolute(d) for d in datasets]
    if len(set(datasets)) != len(datasets):
        raise ValueError("--data: a cache is given twice")
    folds = grid.parse_folds(o.folds)
    if o.weights is not None:  # every fold's weights must be there before anything runs
        from auzoo.engine.weight_formats import weight_paths
        for d in datasets:
            for fold in folds:
                weight_paths(fold_weights(str(o.weights), fold, d))
    return Grid(models=[_model_arg(m) for m in models], data=datasets, out=Path(o.out).resolve(),
                folds=folds, seeds=grid.parse_seeds(o.seed_list),
                test_data=tuple(_absolute(t) for t in o.test_data),
                preset=demo.preset_piece(o.preset, synthetic), cfg_options=dict(o.cfg_options),
                device=o.device, synthetic=synthetic,
                weights=str(o.weights) if o.weights is not None else None)


def _check_weights_grid(models, use_all: bool, seeds, cfg_options: Mapping[str, Any]) -> None:
    """``--weights`` scores one model's files: no training options, one seed."""
    from auzoo.engine.settings import CONFIG_FLAGS

    if use_all or len(models) != 1:
        raise ValueError("--weights scores the weights of one model: name exactly one MODEL")
    if len(grid.parse_seeds(seeds)) != 1:
        raise ValueError("--weights scores given weights: there is nothing to seed (no --seeds)")
    training = [f"{f.flag} ({f.key})" for f in CONFIG_FLAGS if f.training and f.key in cfg_options]
    if training:
        raise ValueError(f"--weights scores given weights, nothing is trained: "
                         f"{', '.join(training)} do not apply")


# --------------------------------------------------------------------------
# running cells here
# --------------------------------------------------------------------------

def unblock_failed_cell(work_dir: Path) -> None:
    """A cell that failed before its first checkpoint keeps nothing worth
    resuming: drop its settings file so the next try may use other options."""
    work_dir = Path(work_dir)
    if not any(work_dir.rglob("*.pth")) and not (work_dir / "result.json").exists():
        (work_dir / RUN_FILE).unlink(missing_ok=True)


def explain_failure(cell: grid.Cell, exc: BaseException, work_dir: Path) -> str:
    # The engine speaks of `auzoo train`'s --work-dir; bench's option is --out.
    message = str(exc).replace("another --work-dir", "another --out")
    return f"{cell} ({work_dir}): {type(exc).__name__}: {message}"


def run_cells(g: Grid, todo: Sequence[grid.Cell], *, train_fn: Callable, console,
              distributed: bool, rank: int) -> List[str]:
    """Train ``todo`` one after the other; returns the failures' messages. Under
    torchrun every rank runs every cell together, and a failure stops all."""
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                               TimeElapsedColumn, TimeRemainingColumn)

    failures: List[str] = []
    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TextColumn("{task.fields[status]}"), TimeElapsedColumn(), TextColumn("ETA"),
                        TimeRemainingColumn(), console=console, disable=rank != 0)
    with progress:
        overall = progress.add_task("cells", total=len(todo), status="")
        for number, cell in enumerate(todo, 1):
            progress.update(overall, status=f"now: {cell}")
            spec = g.spec(cell, label=f"[{number}/{len(todo)}] {cell}")
            try:
                train_fn(spec, progress=progress)
            except Exception as exc:
                if distributed:
                    raise
                unblock_failed_cell(Path(spec.work_dir))
                failures.append(explain_failure(cell, exc, Path(spec.work_dir)))
                console.print(f"[red]failed:[/] {failures[-1]}")
                console.print(traceback.format_exc(), markup=False, highlight=False)
            progress.update(overall, advance=1)
    return failures
